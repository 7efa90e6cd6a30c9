//! The body of a forwarded answer: the upstream's bytes, passed on chunk by
//! chunk as they arrive, under the idle and total deadlines, read on the way
//! by a [`BodyMeter`] for the request record.
//!
//! When the body ends the record gets the model and usage the answer
//! reported (else an estimate, for requests that named a model), time to
//! first byte, and its outcome: `ok`, or a stream error when the upstream
//! reported one inside a successful answer. If the upstream breaks or a
//! deadline passes mid-body, the client's connection is aborted rather than
//! ended cleanly (the client's SDK sees a broken response, never a silent
//! truncation) and the record says why. If the client goes away, dropping
//! the body drops the upstream response (cancelling it) and the usage seen
//! so far is kept.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::BoxStream;
use sluice_protocol::meter::{BodyMeter, Metered};
use sluice_protocol::{Error, ErrorKind, Usage, UsageSource};
use tokio::time::{Instant, Sleep, sleep, sleep_until};

use super::Reply;
use crate::record::{RecordHandle, ms};
use crate::tokens;

/// What the record needs besides the body itself.
pub struct Settle {
    pub record: RecordHandle,
    pub provider: String,
    /// The answer was a success (2xx): the body's end decides the outcome.
    /// Otherwise the record is already finished as an upstream error.
    pub success: bool,
    /// Usage from response headers (Bedrock InvokeModel), used when the
    /// body reports none.
    pub header_usage: Option<Usage>,
    /// The request named a model: estimate usage if none is reported.
    pub estimate: bool,
}

/// The response body for `reply`.
pub fn metered(reply: Reply, settle: Settle) -> Body {
    Body::from_stream(MeteredBody {
        inner: reply.body,
        meter: BodyMeter::new(reply.framing),
        idle: reply.idle,
        idle_timer: Box::pin(sleep(reply.idle)),
        total_timer: Box::pin(sleep_until(reply.deadline)),
        request_bytes: reply.request_bytes,
        settle,
        sent_any: false,
        done: false,
    })
}

struct MeteredBody {
    inner: BoxStream<'static, Result<Bytes, Error>>,
    meter: BodyMeter,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    total_timer: Pin<Box<Sleep>>,
    request_bytes: usize,
    settle: Settle,
    sent_any: bool,
    done: bool,
}

impl MeteredBody {
    /// Writes what the body showed into the record; `err` when it broke.
    fn finish(&mut self, err: Option<&Error>) {
        self.done = true;
        let found = self.meter.finish();
        self.record_usage(&found);
        let record = &self.settle.record;
        if !self.settle.success {
            if let Some(msg) = &found.error {
                record.update(|r| r.error_message = Some(msg.clone()));
            }
            return;
        }
        match (err, &found.error) {
            (Some(e), _) => record.finish_err(e, self.sent_any),
            (None, Some(msg)) => {
                let e = Error::new(
                    ErrorKind::StreamInterrupted,
                    format!(
                        "upstream `{}` reported an error inside its answer: {msg}",
                        self.settle.provider
                    ),
                );
                record.finish_err(&e, true);
            }
            (None, None) => record.finish_ok(),
        }
    }

    fn record_usage(&self, found: &Metered) {
        let usage = found.usage.or(self.settle.header_usage).or_else(|| {
            (self.settle.success && self.settle.estimate).then(|| self.estimate(found))
        });
        let model = found.model.clone();
        self.settle.record.update(|r| {
            if usage.is_some() {
                r.usage = usage;
            }
            if model.is_some() {
                r.meta.response_model = model;
            }
        });
    }

    /// Prompt tokens from the request's size, one completion token per
    /// streamed event (as the chat endpoint estimates OpenAI streams).
    fn estimate(&self, found: &Metered) -> Usage {
        Usage {
            prompt_tokens: tokens::from_bytes(self.request_bytes),
            completion_tokens: found.events,
            source: UsageSource::Estimated,
            ..Usage::default()
        }
    }

    fn deadline_error(&self, which: &str) -> Error {
        Error::new(
            ErrorKind::UpstreamTimeout,
            format!(
                "upstream `{}` answer stopped: {which}",
                self.settle.provider
            ),
        )
        .with_provider(self.settle.provider.as_str())
    }
}

impl Stream for MeteredBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if !self.sent_any {
                    self.sent_any = true;
                    let ttfb = ms(self.settle.record.elapsed());
                    self.settle.record.update(|r| r.ttft_ms = Some(ttfb));
                }
                self.meter.push(&chunk);
                let next = Instant::now() + self.idle;
                self.idle_timer.as_mut().reset(next);
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(Some(Err(e))) => {
                self.finish(Some(&e));
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(None) => {
                self.finish(None);
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        let which = if self.total_timer.as_mut().poll(cx).is_ready() {
            "its total deadline passed"
        } else if self.idle_timer.as_mut().poll(cx).is_ready() {
            "it sent nothing for longer than the idle timeout"
        } else {
            return Poll::Pending;
        };
        let e = self.deadline_error(which);
        self.finish(Some(&e));
        Poll::Ready(Some(Err(e)))
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        if !self.done {
            // The client went away: keep what was seen; the record's own
            // drop marks it cancelled.
            let found = self.meter.current();
            self.record_usage(&found);
        }
    }
}
