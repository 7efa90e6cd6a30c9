//! External content-safety checks: Azure AI Content Safety, the OpenAI
//! moderation endpoint, and a generic webhook any service can implement
//! (the JSON contract is in `docs/guardrails.md`).
//!
//! Runs on the request path: on the prompt before it leaves (stage
//! `input`) and on complete answers (stage `output`), one HTTP call per
//! check under the policy's `timeout`. When the service fails, times out
//! or answers something unreadable, `on_error` decides: `open` lets the
//! call through, `closed` blocks it. Either way the ledger records
//! `ran: false` with the failure, never `passed`. Streamed answers are not
//! sent to remote services (that would mean buffering them): the ledger
//! says `not_run` for them.

mod azure;
mod moderation;
mod webhook;

use std::time::Duration;

use serde::Deserialize;
use sluice_protocol::Error;
use sluice_store::{Detection, GuardrailEvent};

use super::body::Turn;
use crate::config::Secret;

pub use azure::Azure;
pub use moderation::Moderation;
pub use webhook::Webhook;

/// What happens when the service cannot give a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Let the call through (recorded as `error_fail_open`).
    Open,
    /// Block the call (recorded as `error_fail_closed`).
    Closed,
}

/// Which service a remote policy asks.
#[derive(Debug)]
pub enum Service {
    Azure(Azure),
    Moderation(Moderation),
    Webhook(Webhook),
}

/// A compiled remote policy.
#[derive(Debug)]
pub struct Remote {
    pub service: Service,
    pub client: reqwest::Client,
    pub key: Option<Secret>,
    pub timeout: Duration,
    pub on_error: OnError,
    pub input: bool,
    pub output: bool,
}

/// A service's verdict.
#[derive(Debug, Default)]
pub struct Verdict {
    pub block: bool,
    /// Categories (or blocklists) that fired.
    pub categories: Vec<String>,
    pub reason: Option<String>,
}

/// What the call being checked is.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub policy: &'a str,
    pub stage: &'a str,
    pub request_id: &'a str,
    pub route: &'a str,
    pub model: &'a str,
}

impl Remote {
    /// Asks the service about `turns`; returns whether to block and the
    /// ledger entry.
    pub async fn check(&self, subject: Subject<'_>, turns: &[Turn]) -> (bool, GuardrailEvent) {
        let call = async {
            match &self.service {
                Service::Azure(a) => a.check(self, turns).await,
                Service::Moderation(m) => m.check(self, turns).await,
                Service::Webhook(w) => w.check(self, subject, turns).await,
            }
        };
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                sluice_protocol::ErrorKind::UpstreamTimeout,
                format!("no verdict within {:?}", self.timeout),
            )),
        };
        let mut e = GuardrailEvent {
            policy: subject.policy.to_owned(),
            stage: subject.stage.to_owned(),
            ..GuardrailEvent::default()
        };
        match result {
            Ok(v) => {
                e.ran = true;
                e.outcome = if v.block { "blocked" } else { "passed" }.to_owned();
                e.detections = v
                    .categories
                    .into_iter()
                    .map(|c| Detection {
                        detector: c,
                        count: 1,
                    })
                    .collect();
                e.note = v.reason;
                (v.block, e)
            }
            Err(err) => {
                tracing::warn!(policy = subject.policy, error = %err, "a content-safety check failed");
                e.ran = false;
                let closed = self.on_error == OnError::Closed;
                e.outcome = if closed {
                    "error_fail_closed"
                } else {
                    "error_fail_open"
                }
                .to_owned();
                e.note = Some(err.message().to_owned());
                (closed, e)
            }
        }
    }

    /// Sends `body` as JSON to `url` with `headers`, and reads a JSON answer.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<T, Error> {
        let mut req = self.client.post(url).json(body);
        for (k, v) in headers {
            req = req.header(*k, crate::provider::http::sensitive(v)?);
        }
        let resp = req.send().await.map_err(|e| {
            Error::internal(format!("cannot reach the service: {}", e.without_url()))
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::internal(format!("the service answered {status}")));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::internal(format!("cannot read the answer: {}", e.without_url())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::internal(format!("unreadable answer: {e}")))
    }
}

/// The texts of `turns`, joined, for services that take one text.
fn joined(turns: &[Turn]) -> String {
    let mut out = String::new();
    for t in turns {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&t.text);
    }
    out
}
