//! Azure AI Content Safety, text analysis:
//! `POST {endpoint}/contentsafety/text:analyze?api-version=2024-09-01`
//! with the `Ocp-Apim-Subscription-Key` header.
//!
//! The request carries the text, the categories to analyse, the blocklists
//! to match and the output type; the answer lists `blocklistsMatch` and
//! `categoriesAnalysis` (`{category, severity}`). A category at or above its
//! configured severity threshold blocks, and so does any blocklist match.
//! Texts longer than the service's 10,000-character limit are sent in
//! pieces; any blocking piece blocks.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;
use sluice_protocol::Error;

use super::{Remote, Verdict, joined};
use crate::guard::body::Turn;

/// Azure's limit on one text.
const MAX_CHARS: usize = 10_000;

/// A compiled Azure AI Content Safety policy.
#[derive(Debug)]
pub struct Azure {
    /// `{endpoint}/contentsafety/text:analyze?api-version=...`.
    pub url: String,
    /// Severity thresholds by category (`Hate`, `SelfHarm`, `Sexual`,
    /// `Violence`): a category at or above its threshold blocks.
    pub thresholds: BTreeMap<String, u8>,
    pub blocklists: Vec<String>,
    pub halt_on_blocklist_hit: bool,
    /// `FourSeverityLevels` or `EightSeverityLevels`.
    pub output_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Analysis {
    #[serde(default)]
    blocklists_match: Vec<BlocklistMatch>,
    categories_analysis: Vec<CategoryAnalysis>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlocklistMatch {
    blocklist_name: String,
}

#[derive(Deserialize)]
struct CategoryAnalysis {
    category: String,
    #[serde(default)]
    severity: Option<u8>,
}

impl Azure {
    pub(super) async fn check(&self, remote: &Remote, turns: &[Turn]) -> Result<Verdict, Error> {
        let key = remote.key.as_ref().map(|k| k.expose().to_owned());
        let headers: Vec<(&str, &str)> = key
            .as_deref()
            .map(|k| vec![("ocp-apim-subscription-key", k)])
            .unwrap_or_default();
        let text = joined(turns);
        let mut verdict = Verdict::default();
        for piece in pieces(&text) {
            let mut body = json!({
                "text": piece,
                "categories": self.thresholds.keys().collect::<Vec<_>>(),
                "outputType": self.output_type,
            });
            if !self.blocklists.is_empty() {
                body["blocklistNames"] = json!(self.blocklists);
                body["haltOnBlocklistHit"] = json!(self.halt_on_blocklist_hit);
            }
            let a: Analysis = remote.post(&self.url, &headers, &body).await?;
            for m in a.blocklists_match {
                verdict.block = true;
                let name = format!("blocklist:{}", m.blocklist_name);
                if !verdict.categories.contains(&name) {
                    verdict.categories.push(name);
                }
            }
            for c in a.categories_analysis {
                let severity = c.severity.unwrap_or(0);
                let over = self
                    .thresholds
                    .get(&c.category)
                    .is_some_and(|t| severity >= *t);
                if over {
                    verdict.block = true;
                    if !verdict.categories.contains(&c.category) {
                        verdict.categories.push(c.category);
                    }
                }
            }
            if verdict.block {
                break;
            }
        }
        Ok(verdict)
    }
}

/// `text` in pieces of at most [`MAX_CHARS`] characters.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > MAX_CHARS {
        let cut = rest
            .char_indices()
            .nth(MAX_CHARS)
            .map_or(rest.len(), |(i, _)| i);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}
