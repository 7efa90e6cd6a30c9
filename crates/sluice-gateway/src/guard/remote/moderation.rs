//! The OpenAI moderation endpoint: `POST {base_url}/moderations` with
//! `{"model", "input"}`, answered with `results[]` of `{flagged,
//! categories, category_scores}`.
//!
//! A flagged result blocks; with `categories` configured, only a flagged
//! category from that list blocks. With `thresholds`, a category whose
//! score reaches its threshold blocks too.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;
use sluice_protocol::Error;

use super::{Remote, Verdict, joined};
use crate::guard::body::Turn;

/// A compiled OpenAI moderation policy.
#[derive(Debug)]
pub struct Moderation {
    /// `{base_url}/moderations`.
    pub url: String,
    pub model: String,
    /// Only these categories block (all flagged ones when empty).
    pub categories: Vec<String>,
    /// Score thresholds by category.
    pub thresholds: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
struct Answer {
    results: Vec<ModerationResult>,
}

#[derive(Deserialize)]
struct ModerationResult {
    flagged: bool,
    #[serde(default)]
    categories: BTreeMap<String, Option<bool>>,
    #[serde(default)]
    category_scores: BTreeMap<String, Option<f64>>,
}

impl Moderation {
    pub(super) async fn check(&self, remote: &Remote, turns: &[Turn]) -> Result<Verdict, Error> {
        let auth = remote
            .key
            .as_ref()
            .map(|k| format!("Bearer {}", k.expose()));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        let body = json!({"model": self.model, "input": joined(turns)});
        let answer: Answer = remote.post(&self.url, &headers, &body).await?;
        let mut verdict = Verdict::default();
        for r in answer.results {
            for (name, flagged) in &r.categories {
                let listed = self.categories.is_empty() || self.categories.contains(name);
                let over = self
                    .thresholds
                    .get(name)
                    .zip(r.category_scores.get(name).copied().flatten())
                    .is_some_and(|(t, s)| s >= *t);
                if (r.flagged && flagged.unwrap_or(false) && listed) || over {
                    verdict.block = true;
                    verdict.categories.push(name.clone());
                }
            }
        }
        Ok(verdict)
    }
}
