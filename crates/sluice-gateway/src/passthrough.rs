//! Pass-through: a provider's own API forwarded unchanged at `/{name}/...`,
//! and the universal endpoint's ordered steps with fallback.
//!
//! Reached through `pipeline::passthrough` from the `/{name}/...` handler
//! and from `POST /v1/universal`. A [`Plan`] is one or more [`Step`]s, each
//! a request of one configured provider's API; [`run`] sends them in order.
//! The upstream is always `root + path`, where the root comes only from the
//! configuration ([`table`]) and the path was checked ([`path::check`]), so
//! no request can reach another host. Credentials follow the provider's
//! mode ([`forward`]): the gateway's key, added the provider's way by its
//! adapter (`Provider::passthrough_auth`), or the client's own key for that
//! provider only. Nothing is translated: the answer's status, headers and
//! bytes go back as they arrive ([`body`] reads model and usage from them on
//! the way for the record).
//!
//! Deadlines: the response must start within the step's request timeout
//! (default: the provider's `first_token` for streams, `total` otherwise);
//! after that the body runs under `idle` and `total`. Without fallback an
//! upstream error answer is returned as is. With fallback (universal), a
//! step that fails (transport error, timeout, any non-2xx answer, a body
//! that breaks before its first byte) moves on to the next; retryable
//! failures are first retried on the same step if it allows more attempts.

mod attempt;
pub mod body;
pub mod forward;
pub mod path;
mod table;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use http::{HeaderMap, Method, StatusCode};
use sluice_protocol::error::classify_upstream;
use sluice_protocol::meter::Framing;
use sluice_protocol::{Error, ErrorKind};
use sluice_store::Attempt;
use tokio::time::Instant;

pub use table::{PassTarget, Table};

use crate::exec::{Answer, Job};
use crate::record::{RecordHandle, ms};

/// How the wait grows between attempts of one universal step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backoff {
    /// The same delay each time.
    #[default]
    Constant,
    /// delay × attempt.
    Linear,
    /// delay × 2^(attempt − 1).
    Exponential,
}

/// One request to one provider's API.
pub struct Step {
    pub target: Arc<PassTarget>,
    pub method: Method,
    /// The checked path (after `/{name}`), starting with `/`.
    pub path: String,
    /// The query as the client sent it; credential parameters are removed
    /// per the target's mode when sending.
    pub query: Option<String>,
    /// The client's headers; filtered per the target's mode when sending.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The model the request names, if any.
    pub model: Option<String>,
    /// The client asked for a stream.
    pub stream: bool,
    /// Time until the response must start; `None`: the provider's timeouts.
    pub request_timeout: Option<Duration>,
    /// Attempts on this step for retryable failures (at least 1).
    pub attempts: u32,
    /// Wait before retrying this step.
    pub retry_delay: Duration,
    pub backoff: Backoff,
}

/// Steps to try in order.
pub struct Plan {
    pub steps: Vec<Step>,
    /// Move on to the next step when one fails (universal endpoint);
    /// otherwise the first step's answer, whatever it is, is final.
    pub fallback: bool,
}

/// The upstream's answer, ready to be passed back.
pub struct Reply {
    pub status: StatusCode,
    /// The upstream's headers (filter with [`forward::response_headers`]).
    pub headers: HeaderMap,
    /// The body, as it arrives.
    pub body: BoxStream<'static, Result<Bytes, Error>>,
    pub framing: Framing,
    /// Index of the step that answered.
    pub step: usize,
    /// The model the request named.
    pub model: Option<String>,
    /// The request asked for a stream or the answer is one.
    pub stream: bool,
    /// Longest gap between two body chunks.
    pub idle: Duration,
    /// When the whole exchange must be over.
    pub deadline: Instant,
    /// Size of the request body, for estimates.
    pub request_bytes: usize,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("framing", &self.framing)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// Runs `plan`. `Ok` carries the answer to pass back, which is a non-2xx
/// answer when that is what the (last) upstream said; `Err` means no
/// upstream answered at all (transport failure, timeout, refused request).
pub async fn run(job: &Job<'_>, plan: Plan) -> Result<Answer<Reply>, Error> {
    let n = plan.steps.len();
    let mut reason = if plan.fallback {
        "first_step".to_owned()
    } else {
        "passthrough".to_owned()
    };
    let mut made = 0u32;
    let mut upstream = Duration::ZERO;
    let mut last_err: Option<Error> = None;
    for (i, step) in plan.steps.iter().enumerate() {
        let last_step = i + 1 == n;
        let mut tries = 0u32;
        loop {
            tries += 1;
            made += 1;
            let peek = plan.fallback && !(last_step && tries >= step.attempts);
            let started = Instant::now();
            let result = attempt::send(step, i, peek).await;
            let took = started.elapsed();
            upstream += took;
            note(job.record, step, &result, took, &reason);
            let failure = match &result {
                Ok(r) if r.status.is_success() || !plan.fallback => None,
                Ok(r) => Some(status_kind(r.status)),
                Err(e) => Some(e.kind()),
            };
            let Some(kind) = failure else {
                return answer(job, step, result, made, upstream, reason);
            };
            let more_tries = tries < step.attempts.max(1) && kind.is_retryable();
            if !plan.fallback || (last_step && !more_tries) {
                return answer(job, step, result, made, upstream, reason);
            }
            if let Err(e) = result {
                last_err = Some(e);
            }
            if more_tries {
                reason = format!("retry_after_{}", kind.as_str());
                tokio::time::sleep(retry_wait(step, tries)).await;
                continue;
            }
            reason = format!("fallback_after_{}", kind.as_str());
            break;
        }
    }
    Err(last_err.unwrap_or_else(|| Error::internal("no step to run")))
}

fn answer(
    job: &Job<'_>,
    step: &Step,
    result: Result<Reply, Error>,
    made: u32,
    upstream: Duration,
    reason: String,
) -> Result<Answer<Reply>, Error> {
    let reply = result?;
    Ok(Answer {
        price: step
            .model
            .as_deref()
            .and_then(|m| job.rt.prices.lookup(&step.target.name, step.target.kind, m)),
        upstream_model: step.model.clone().unwrap_or_default(),
        value: reply,
        provider: step.target.provider.clone(),
        upstream_time: upstream,
        attempts: made,
        reason,
    })
}

/// The error kind an upstream answer's status stands for.
pub fn status_kind(status: StatusCode) -> ErrorKind {
    classify_upstream(status.as_u16(), None, "")
}

fn retry_wait(step: &Step, tries: u32) -> Duration {
    let factor = match step.backoff {
        Backoff::Constant => 1,
        Backoff::Linear => tries,
        Backoff::Exponential => 2u32.saturating_pow(tries.saturating_sub(1)),
    };
    step.retry_delay.saturating_mul(factor)
}

/// Records one attempt.
fn note(
    record: &RecordHandle,
    step: &Step,
    result: &Result<Reply, Error>,
    took: Duration,
    reason: &str,
) {
    let (status, outcome) = match result {
        Ok(r) if r.status.is_success() => (Some(r.status.as_u16()), "ok".to_owned()),
        Ok(r) => (
            Some(r.status.as_u16()),
            status_kind(r.status).as_str().to_owned(),
        ),
        Err(e) => (e.upstream_status(), e.kind().as_str().to_owned()),
    };
    record.push_attempt(Attempt {
        provider: step.target.name.clone(),
        upstream_model: step.model.clone().unwrap_or_default(),
        status,
        outcome,
        latency_ms: ms(took),
        reason: Some(reason.to_owned()),
        usage: None,
        start_ms: None,
    });
}
