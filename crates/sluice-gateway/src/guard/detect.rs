//! The built-in secret and PII detectors, and the one-pass scanner that
//! runs a policy's detectors over a piece of text.
//!
//! Compiled once when the config is loaded: a policy's detectors (built-in
//! and custom) become one alternation of named groups, so a prompt is
//! scanned in a single linear-time pass of the `regex` crate whatever the
//! number of detectors. Matches that fail a detector's check (the Luhn
//! checksum of a card number, the mod-97 checksum of an IBAN, the entropy
//! of a bearer token) are dropped. Runs on the request path, from
//! [`super::dlp`] and the streamed output guard.

use regex::Regex;

/// A built-in detector: name, pattern, extra check.
struct Builtin {
    name: &'static str,
    pattern: &'static str,
    check: Check,
}

/// What a match must also pass to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    Luhn,
    Iban,
    Entropy,
}

/// ASCII word boundary: the Unicode one would make the DFA give up on
/// non-ASCII text.
const B: &str = r"(?-u:\b)";

/// Detector names, in matching priority (more specific first).
const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "private_key",
        pattern: r"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----[\s\S]*?-----END [A-Z ]{0,20}PRIVATE KEY-----",
        check: Check::None,
    },
    Builtin {
        name: "anthropic_key",
        pattern: r"sk-ant-[A-Za-z0-9_\-]{20,}",
        check: Check::None,
    },
    Builtin {
        name: "openai_key",
        pattern: r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
        check: Check::None,
    },
    Builtin {
        name: "aws_access_key",
        pattern: r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        check: Check::None,
    },
    Builtin {
        name: "github_token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b",
        check: Check::None,
    },
    Builtin {
        name: "slack_token",
        pattern: r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
        check: Check::None,
    },
    Builtin {
        name: "google_api_key",
        pattern: r"\bAIza[0-9A-Za-z_\-]{35}\b",
        check: Check::None,
    },
    Builtin {
        name: "stripe_key",
        pattern: r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}\b",
        check: Check::None,
    },
    Builtin {
        name: "bearer_token",
        pattern: r"\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+[A-Za-z0-9._~+/=\-]{20,}",
        check: Check::Entropy,
    },
    Builtin {
        name: "credit_card",
        pattern: r"\b[0-9](?:[ \-]?[0-9]){12,18}\b",
        check: Check::Luhn,
    },
    Builtin {
        name: "iban",
        pattern: r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
        check: Check::Iban,
    },
    Builtin {
        name: "email",
        pattern: r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b",
        check: Check::None,
    },
    Builtin {
        name: "ip_address",
        pattern: r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b",
        check: Check::None,
    },
    Builtin {
        name: "phone",
        pattern: r"(?:\+[0-9]{1,3}[ .\-]?)?(?:\([0-9]{2,4}\)|\b[0-9]{2,4})[ .\-][0-9]{3,4}[ .\-][0-9]{3,4}\b",
        check: Check::None,
    },
];

/// Every built-in detector's name.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.name)
}

/// One detector of a compiled [`Scanner`].
#[derive(Debug, Clone)]
pub struct Detector {
    pub name: String,
    pub check: Check,
}

/// A set of detectors compiled into one regex.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// The alternation of every detector: finds match spans in one pass.
    regex: Regex,
    /// Each detector alone, anchored: says which one a span is.
    each: Vec<Regex>,
    detectors: Vec<Detector>,
}

/// One accepted match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`Scanner::detectors`].
    pub detector: usize,
    pub start: usize,
    pub end: usize,
}

impl Scanner {
    /// Compiles `builtins` (by name) and `custom` `(name, pattern)` detectors,
    /// built-ins first in their priority order.
    pub fn build(builtins: &[String], custom: &[(String, String)]) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut detectors = Vec::new();
        for b in BUILTINS
            .iter()
            .filter(|b| builtins.iter().any(|n| n == b.name))
        {
            parts.push(format!("(?:{})", b.pattern.replace(r"\b", B)));
            detectors.push(Detector {
                name: b.name.to_owned(),
                check: b.check,
            });
        }
        if let Some(unknown) = builtins
            .iter()
            .find(|n| !BUILTINS.iter().any(|b| b.name == n.as_str()))
        {
            return Err(format!("unknown detector `{unknown}`"));
        }
        for (name, pattern) in custom {
            Regex::new(pattern).map_err(|e| format!("custom detector `{name}`: {e}"))?;
            parts.push(format!("(?:{pattern})"));
            detectors.push(Detector {
                name: name.clone(),
                check: Check::None,
            });
        }
        let regex = if parts.is_empty() {
            // Matches nothing.
            Regex::new(r"[^\s\S]")
        } else {
            Regex::new(&parts.join("|"))
        }
        .map_err(|e| format!("cannot compile detectors: {e}"))?;
        let each = parts
            .iter()
            .map(|p| Regex::new(&format!("^{p}$")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot compile detectors: {e}"))?;
        Ok(Self {
            regex,
            each,
            detectors,
        })
    }

    /// The detectors, indexed by [`Hit::detector`].
    pub fn detectors(&self) -> &[Detector] {
        &self.detectors
    }

    /// Accepted matches in `text`, left to right, non-overlapping.
    pub fn scan(&self, text: &str, out: &mut Vec<Hit>) {
        if self.detectors.is_empty() {
            return;
        }
        for m in self.regex.find_iter(text) {
            let Some(i) = self.each.iter().position(|r| r.is_match(m.as_str())) else {
                continue;
            };
            if passes(self.detectors[i].check, m.as_str()) {
                out.push(Hit {
                    detector: i,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

fn passes(check: Check, s: &str) -> bool {
    match check {
        Check::None => true,
        Check::Luhn => luhn(s),
        Check::Iban => iban(s),
        Check::Entropy => {
            let token = s.rsplit([' ', '\t']).next().unwrap_or(s);
            entropy(token) >= 3.0
        }
    }
}

/// The Luhn checksum of the digits in `s` (13 to 19 of them).
pub fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ISO 13616 mod-97 check of an IBAN.
pub fn iban(s: &str) -> bool {
    let compact: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
    if compact.len() < 15 || compact.len() > 34 {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for &b in tail.iter().chain(head) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Shannon entropy of `s`, in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests;
