//! The generic webhook guard: any content-security service (an in-house
//! one, Alibaba Cloud content security behind an adapter, Llama Guard
//! behind a small shim) implements one JSON call.
//!
//! Request, `POST {url}`:
//! `{"policy", "stage": "input"|"output", "request_id", "route", "model",
//!   "messages": [{"role", "text"}]}`.
//! Answer, `200`: `{"action": "allow"|"block", "reason"?: string,
//! "categories"?: [string]}`. Anything else is a failure, handled by the
//! policy's `on_error`.

use serde::Deserialize;
use serde_json::json;
use sluice_protocol::Error;

use super::{Remote, Subject, Verdict};
use crate::config::Secret;
use crate::guard::body::Turn;

/// A compiled webhook policy.
#[derive(Debug)]
pub struct Webhook {
    pub url: String,
    /// Extra headers (values may be secrets).
    pub headers: Vec<(String, Secret)>,
}

/// At most 200 characters of a service's note, for the ledger.
fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Action {
    Allow,
    Block,
}

#[derive(Deserialize)]
struct Answer {
    action: Action,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
}

impl Webhook {
    pub(super) async fn check(
        &self,
        remote: &Remote,
        subject: Subject<'_>,
        turns: &[Turn],
    ) -> Result<Verdict, Error> {
        let auth = remote
            .key
            .as_ref()
            .map(|k| format!("Bearer {}", k.expose()));
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        let messages: Vec<_> = turns
            .iter()
            .map(|t| json!({"role": t.role, "text": t.text}))
            .collect();
        let body = json!({
            "policy": subject.policy,
            "stage": subject.stage,
            "request_id": subject.request_id,
            "route": subject.route,
            "model": subject.model,
            "messages": messages,
        });
        let a: Answer = remote.post(&self.url, &headers, &body).await?;
        Ok(Verdict {
            block: matches!(a.action, Action::Block),
            categories: a
                .categories
                .into_iter()
                .take(16)
                .map(|c| short(&c))
                .collect(),
            reason: a.reason.as_deref().map(short),
        })
    }
}
