//! Secret and PII detection (DLP): what a `type: dlp` policy does to one
//! piece of text.
//!
//! Runs on the request path, once per text field of the prompt (before it
//! leaves for any provider) and of the answer (when the policy's `stages`
//! include `output`). Each detector has an action: `block` refuses the
//! request, `redact` replaces the value with `[REDACTED_<DETECTOR>]`,
//! `restore` replaces it with a numbered placeholder (`[EMAIL_1]`) that is
//! put back in the answer, and `log` only counts it. Counts and detector
//! names go to the ledger ([`Findings`]); the values never do.

use super::detect::{Hit, Scanner};

/// What happens to a detected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse the request (or cut the answer).
    Block,
    /// Replace the value with `[REDACTED_<DETECTOR>]`.
    Redact,
    /// Replace the value with a numbered placeholder, and put the value
    /// back where the answer repeats the placeholder.
    Restore,
    /// Count it in the ledger and change nothing.
    Log,
}

/// A compiled `type: dlp` policy.
#[derive(Debug, Clone)]
pub struct Dlp {
    pub scanner: Scanner,
    /// One action per detector of `scanner`.
    pub actions: Vec<Action>,
    /// Applies to prompts.
    pub input: bool,
    /// Applies to answers.
    pub output: bool,
}

/// What a policy found, per detector (indexed like the scanner's).
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub counts: Vec<u32>,
    /// A `block` detector fired.
    pub blocked: bool,
    /// Something was replaced.
    pub changed: bool,
}

impl Findings {
    /// `(detector, count)` of the detectors that fired.
    pub fn named<'a>(&'a self, dlp: &'a Dlp) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (dlp.scanner.detectors()[i].name.as_str(), *c))
    }
}

/// Placeholders handed out for `restore` detectors, and their values.
/// Lives for one request.
#[derive(Debug, Default)]
pub struct Vault {
    /// `(placeholder, original)`.
    entries: Vec<(String, String)>,
}

impl Vault {
    /// Whether nothing is to be restored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn placeholder(&mut self, detector: &str, value: &str) -> String {
        if let Some((p, _)) = self.entries.iter().find(|(_, v)| v == value) {
            return p.clone();
        }
        let prefix = detector.to_ascii_uppercase();
        let n = self
            .entries
            .iter()
            .filter(|(p, _)| p[1..].starts_with(&prefix))
            .count()
            + 1;
        let p = format!("[{prefix}_{n}]");
        self.entries.push((p.clone(), value.to_owned()));
        p
    }

    /// `text` with every placeholder replaced by its value, or `None` when
    /// it holds none.
    pub fn restore(&self, text: &str) -> Option<String> {
        if self.entries.is_empty() || !text.contains('[') {
            return None;
        }
        let mut out: Option<String> = None;
        for (p, v) in &self.entries {
            let cur = out.as_deref().unwrap_or(text);
            if cur.contains(p.as_str()) {
                out = Some(cur.replace(p.as_str(), v));
            }
        }
        out
    }

    /// `(placeholder, original)` pairs.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(p, v)| (p.as_str(), v.as_str()))
    }

    /// The longest placeholder, for holding back a stream's tail.
    pub fn longest(&self) -> usize {
        self.entries.iter().map(|(p, _)| p.len()).max().unwrap_or(0)
    }
}

impl Dlp {
    /// Fresh findings for this policy.
    pub fn findings(&self) -> Findings {
        Findings {
            counts: vec![0; self.actions.len()],
            blocked: false,
            changed: false,
        }
    }

    /// Scans `text`: counts every hit in `f`, and returns the redacted
    /// text when a `redact` or `restore` detector fired. `hits` is scratch
    /// space.
    pub fn apply(
        &self,
        text: &str,
        f: &mut Findings,
        vault: &mut Vault,
        hits: &mut Vec<Hit>,
    ) -> Option<String> {
        hits.clear();
        self.scanner.scan(text, hits);
        if hits.is_empty() {
            return None;
        }
        let mut out = String::new();
        let mut last = 0;
        let mut changed = false;
        for h in hits.iter() {
            if let Some(c) = f.counts.get_mut(h.detector) {
                *c = c.saturating_add(1);
            }
            let name = &self.scanner.detectors()[h.detector].name;
            let replacement = match self.actions[h.detector] {
                Action::Block => {
                    f.blocked = true;
                    continue;
                }
                Action::Log => continue,
                Action::Redact => format!("[REDACTED_{}]", name.to_ascii_uppercase()),
                Action::Restore => vault.placeholder(name, &text[h.start..h.end]),
            };
            if !changed {
                out.reserve(text.len());
                changed = true;
            }
            out.push_str(&text[last..h.start]);
            out.push_str(&replacement);
            last = h.end;
        }
        if !changed {
            return None;
        }
        out.push_str(&text[last..]);
        f.changed = true;
        Some(out)
    }
}

#[cfg(test)]
mod tests;
