//! The executor: runs one request against its resolved targets.
//!
//! Called by the innermost service of the pipeline, after every policy has
//! admitted the request. For each target in order it makes one attempt under
//! the target's deadlines, records the attempt, and moves to the next target
//! only when the error is retryable and nothing has reached the client yet.
//!
//! For streams it peeks at the first chunk before committing to a target, so
//! an upstream that fails or hangs before its first token can still be
//! replaced. After that, the stream is wrapped with the idle and total
//! deadlines ([`deadline::Deadlines`]) and handed to the response writer.

mod deadline;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sluice_protocol::{Error, ErrorKind};
use sluice_store::Attempt;

use crate::config::Timeouts;
use crate::provider::{
    ChatCall, ChatInput, ChatOutput, ChatReply, Completion, EmbedInput, Provider, RerankInput,
};
use crate::record::RecordHandle;
use crate::routing::Resolved;

/// A successful answer and where it came from.
pub struct Answer<T> {
    pub value: T,
    pub provider: Arc<dyn Provider>,
    pub upstream_model: String,
    /// Time spent waiting on upstreams before the answer was ready
    /// (all attempts), used to report the gateway's own overhead.
    pub upstream_time: Duration,
}

/// Runs a chat request.
pub async fn chat(
    input: &ChatInput,
    targets: &[Resolved],
    record: &RecordHandle,
) -> Result<Answer<ChatOutput>, Error> {
    let stream = input.head().stream;
    run(targets, record, |t| async move {
        let call = ChatCall {
            input,
            upstream_model: &t.upstream_model,
        };
        if stream {
            attempt_stream(&*t.provider, call, &t.timeouts).await
        } else {
            with_timeout(t.timeouts.total, &*t.provider, t.provider.chat(call)).await
        }
    })
    .await
}

/// Runs an embeddings request.
pub async fn embeddings(
    input: &EmbedInput,
    targets: &[Resolved],
    record: &RecordHandle,
) -> Result<Answer<Completion>, Error> {
    run(targets, record, |t| async move {
        with_timeout(
            t.timeouts.total,
            &*t.provider,
            t.provider.embeddings(input, &t.upstream_model),
        )
        .await
    })
    .await
}

/// Runs a rerank request.
pub async fn rerank(
    input: &RerankInput,
    targets: &[Resolved],
    record: &RecordHandle,
) -> Result<Answer<Completion>, Error> {
    run(targets, record, |t| async move {
        with_timeout(
            t.timeouts.total,
            &*t.provider,
            t.provider.rerank(input, &t.upstream_model),
        )
        .await
    })
    .await
}

async fn run<'t, T, F, Fut>(
    targets: &'t [Resolved],
    record: &RecordHandle,
    mut attempt: F,
) -> Result<Answer<T>, Error>
where
    F: FnMut(&'t Resolved) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut upstream_time = Duration::ZERO;
    let mut last: Option<Error> = None;
    for t in targets {
        let started = Instant::now();
        let result = attempt(t).await;
        let took = started.elapsed();
        upstream_time += took;
        record.push_attempt(Attempt {
            provider: t.provider.name().to_owned(),
            upstream_model: t.upstream_model.clone(),
            status: match &result {
                Ok(_) => Some(200),
                Err(e) => e.upstream_status(),
            },
            outcome: match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => e.kind().as_str().to_owned(),
            },
            latency_ms: took.as_secs_f64() * 1000.0,
        });
        match result {
            Ok(value) => {
                return Ok(Answer {
                    value,
                    provider: t.provider.clone(),
                    upstream_model: t.upstream_model.clone(),
                    upstream_time,
                });
            }
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::internal("the model has no targets")))
}

async fn with_timeout<T>(
    limit: Duration,
    provider: &dyn Provider,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(timeout_error(provider, "answer", limit)),
    }
}

fn timeout_error(provider: &dyn Provider, what: &str, limit: Duration) -> Error {
    Error::new(
        ErrorKind::UpstreamTimeout,
        format!(
            "upstream `{}` sent no {what} within {:.1}s",
            provider.name(),
            limit.as_secs_f64()
        ),
    )
    .with_provider(provider.name())
}

/// One streaming attempt: headers and first chunk within `first_token`,
/// then the idle and total deadlines for the rest.
async fn attempt_stream(
    provider: &dyn Provider,
    call: ChatCall<'_>,
    timeouts: &Timeouts,
) -> Result<ChatOutput, Error> {
    let start = tokio::time::Instant::now();
    let first_deadline = start + timeouts.first_token.min(timeouts.total);
    let total_deadline = start + timeouts.total;
    let reply = tokio::time::timeout_at(first_deadline, provider.chat(call))
        .await
        .map_err(|_| timeout_error(provider, "first token", timeouts.first_token))??;
    let ChatOutput { reply, dropped } = reply;
    let ChatReply::Stream(mut stream) = reply else {
        return Ok(ChatOutput { reply, dropped });
    };
    let first = tokio::time::timeout_at(first_deadline, stream.next())
        .await
        .map_err(|_| timeout_error(provider, "first token", timeouts.first_token))?;
    let head = match first {
        Some(Ok(chunk)) => chunk,
        Some(Err(e)) => return Err(e),
        None => {
            return Ok(ChatOutput {
                reply: ChatReply::Stream(stream),
                dropped,
            });
        }
    };
    let rest = futures_util::stream::once(async move { Ok(head) }).chain(stream);
    let stream = deadline::Deadlines::new(
        rest.boxed(),
        timeouts.idle,
        total_deadline,
        provider.name().to_owned(),
    );
    Ok(ChatOutput {
        reply: ChatReply::Stream(stream.boxed()),
        dropped,
    })
}
