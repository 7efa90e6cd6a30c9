//! The answer side of the guardrails: output guards, output DLP and the
//! restoration of `restore` placeholders, on complete answers
//! ([`check_complete`]) and on streams ([`guard`]).
//!
//! Runs after the executor produced the answer, before the handler renders
//! it. A stream is never buffered whole: chunks pass through a queue that
//! holds back at least `hold_back` bytes of text (the largest of the
//! policies' windows and the longest placeholder). Every arriving chunk is
//! checked with the held text plus the last `hold_back` bytes already sent,
//! so a match no longer than the window is caught before any of it leaves.
//! A violation drops the held chunks and ends the stream with one
//! `BlockedByGuardrail` error, which the handler renders as the terminal
//! error event of the client's dialect; what was sent before stays
//! recorded (the writer settles usage from the chunks it sent).

mod held;

use std::sync::Arc;

use bytes::Bytes;
use regex::RegexSet;
use serde_json::Value;
use sluice_protocol::Error;

use super::body::{Turn, answer_text, rewrite_answer};
use super::dlp::Vault;
use super::remote::{OnError, Subject};
use super::transform::Transformer;
use super::{Kind, Policy, blocked, dlp_event, event, unchecked};
use crate::exec::Job;
use crate::provider::ChunkStream;
use crate::record::RecordHandle;

/// A compiled `type: output_guard` policy.
#[derive(Debug, Clone)]
pub struct OutputGuard {
    pub deny: RegexSet,
    /// Bytes of streamed text held back from the client.
    pub hold_back: usize,
}

/// Held back at least for output DLP on streams, so that a secret split
/// over chunks is whole when its first chunk is released.
const DLP_HOLD_BACK: usize = 128;

/// Checks and rewrites a complete answer body (any API's JSON). Bodies
/// that are not JSON pass unchanged.
pub async fn check_complete(
    job: &Job<'_>,
    watched: &[Arc<Policy>],
    vault: &Vault,
    body: Bytes,
) -> Result<Bytes, Error> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return Ok(body);
    };
    let record = job.record;
    let mut changed = false;
    let mut hits = Vec::new();
    for policy in watched {
        match &policy.kind {
            Kind::OutputGuard(g) => {
                if let Some(i) = g.deny.matches(&answer_text(&v)).iter().next() {
                    let mut e = event(policy, "output", "blocked");
                    e.note = Some(format!("deny[{i}]"));
                    record.update(|r| r.guardrails.push(e));
                    return Err(blocked(&policy.name, "answer"));
                }
                record.update(|r| r.guardrails.push(event(policy, "output", "passed")));
            }
            Kind::Dlp(d) => {
                let mut f = d.findings();
                let mut scratch = Vault::default();
                changed |=
                    rewrite_answer(&mut v, &mut |s| d.apply(s, &mut f, &mut scratch, &mut hits));
                let e = dlp_event(policy, d, &f, "output");
                record.update(|r| r.guardrails.push(e));
                if f.blocked {
                    return Err(blocked(&policy.name, "answer"));
                }
            }
            Kind::Remote(r) => {
                let route = record.read(|rec| rec.meta.route.clone());
                let subject = Subject {
                    policy: &policy.name,
                    stage: "output",
                    request_id: record.id(),
                    route: &route,
                    model: job.model,
                };
                let turns = [Turn {
                    role: "assistant".to_owned(),
                    text: answer_text(&v),
                }];
                let (block, e) = r.check(subject, &turns).await;
                let failed = !e.ran;
                record.update(|rec| rec.guardrails.push(e));
                if block {
                    return Err(if failed {
                        unchecked(&policy.name, "answer")
                    } else {
                        blocked(&policy.name, "answer")
                    });
                }
            }
            Kind::Transform(t) if !t.request => {
                changed |= transform_answer(job, policy, t, &mut v).await?;
            }
            Kind::PromptGuard(_) | Kind::Decorate(_) | Kind::Template(_) | Kind::Transform(_) => {}
        }
    }
    changed |= rewrite_answer(&mut v, &mut |s| vault.restore(s));
    if !changed {
        return Ok(body);
    }
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| Error::internal(format!("cannot encode an answer: {e}")))
}

/// Rewrites the assistant message of an OpenAI-shaped answer through a
/// response transformer. Returns whether it changed.
async fn transform_answer(
    job: &Job<'_>,
    policy: &Policy,
    t: &Transformer,
    v: &mut Value,
) -> Result<bool, Error> {
    let mut e = event(policy, "output", "transformed");
    if v.pointer("/choices/0/message/content").is_none() {
        e.ran = false;
        e.outcome = "not_run".to_owned();
        e.note = Some("only OpenAI-shaped answers with text are transformed".to_owned());
        job.record.update(|r| r.guardrails.push(e));
        return Ok(false);
    }
    match t.ask(job, answer_text(v)).await {
        Ok(text) => {
            if let Some(slot) = v.pointer_mut("/choices/0/message/content") {
                *slot = Value::from(text);
            }
            job.record.update(|r| r.guardrails.push(e));
            Ok(true)
        }
        Err(err) => {
            let closed = t.on_error == OnError::Closed;
            e.ran = false;
            e.outcome = if closed {
                "error_fail_closed"
            } else {
                "error_fail_open"
            }
            .to_owned();
            e.note = Some(err.message().to_owned());
            job.record.update(|r| r.guardrails.push(e));
            if closed {
                return Err(unchecked(&policy.name, "answer"));
            }
            Ok(false)
        }
    }
}

/// Wraps a stream with the `watched` policies and the restoration of
/// `vault`'s placeholders.
pub fn guard(
    inner: ChunkStream,
    watched: Vec<Arc<Policy>>,
    vault: Vault,
    record: RecordHandle,
) -> ChunkStream {
    let hold = watched
        .iter()
        .map(|p| match &p.kind {
            Kind::OutputGuard(g) => g.hold_back,
            Kind::Dlp(_) => DLP_HOLD_BACK,
            Kind::PromptGuard(_)
            | Kind::Remote(_)
            | Kind::Decorate(_)
            | Kind::Template(_)
            | Kind::Transform(_) => 0,
        })
        .chain([vault.longest()])
        .max()
        .unwrap_or(0);
    Box::pin(held::Guarded::new(inner, watched, vault, record, hold))
}

#[cfg(test)]
mod tests;
