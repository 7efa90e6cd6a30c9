//! One attempt against one target, under the target's deadlines.
//!
//! Non-streamed calls must finish within the total timeout. Streamed calls
//! must deliver their first chunk within the first-token timeout; the stream
//! is then wrapped with the idle and total deadlines and with what the target
//! needs to know while it runs (requests in flight, failures mid-stream).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use sluice_protocol::{Error, ErrorKind};

use super::deadline::Deadlines;
use crate::provider::{
    ChatCall, ChatInput, ChatOutput, ChatReply, Completion, EmbedInput, NativeBody, Provider,
    RerankInput,
};
use crate::routing::stats::InFlight;
use crate::routing::{Group, Target};

/// What an attempt's result keeps of its target while it is in use.
pub trait Attach: Sized {
    /// Holds the in-flight guard for as long as the value is in use and
    /// reports failures that happen later (mid-stream).
    fn attach(self, guard: InFlight, target: &Target, group: &Arc<Group>) -> Self;

    /// Whether the value is a stream (its attempt ended at the first chunk).
    fn is_stream(&self) -> bool;
}

impl Attach for ChatOutput {
    fn attach(self, guard: InFlight, target: &Target, group: &Arc<Group>) -> Self {
        let ChatReply::Stream(stream) = self.reply else {
            return self;
        };
        let stats = target.stats.clone();
        let half_life = group.half_life();
        let stream = stream.map(move |item| {
            let _held = &guard;
            if item.is_err() {
                stats.on_failure(half_life);
            }
            item
        });
        ChatOutput {
            reply: ChatReply::Stream(stream.boxed()),
            dropped: self.dropped,
            native: self.native,
        }
    }

    fn is_stream(&self) -> bool {
        matches!(self.reply, ChatReply::Stream(_))
    }
}

impl Attach for Completion {
    fn attach(self, _guard: InFlight, _target: &Target, _group: &Arc<Group>) -> Self {
        self
    }

    fn is_stream(&self) -> bool {
        false
    }
}

/// What a token-counting attempt produced: the upstream's answer, or
/// `None` when the provider has no counting endpoint.
#[derive(Debug)]
pub struct Counted(pub Option<Completion>);

impl Attach for Counted {
    fn attach(self, _guard: InFlight, _target: &Target, _group: &Arc<Group>) -> Self {
        self
    }

    fn is_stream(&self) -> bool {
        false
    }
}

/// A token-counting attempt (Anthropic's `count_tokens`).
pub async fn count_tokens(
    target: &Target,
    input: &NativeBody,
    upstream_model: &str,
) -> Result<Counted, Error> {
    let provider = &*target.provider;
    let fut = async {
        match provider.count_tokens(input, upstream_model).await {
            Some(r) => r.map(|c| Counted(Some(c))),
            None => Ok(Counted(None)),
        }
    };
    with_timeout(target.timeouts.total, provider, fut).await
}

/// A chat attempt.
pub async fn chat(
    target: &Target,
    input: &ChatInput,
    upstream_model: &str,
) -> Result<ChatOutput, Error> {
    let call = ChatCall {
        input,
        upstream_model,
    };
    let provider = &*target.provider;
    if let Some(n) = input.native_body()
        && !provider.speaks(n.api)
        && let Some(e) = input.untranslatable()
    {
        return Err(e.clone().with_provider(provider.name()));
    }
    if input.head().stream {
        stream(provider, call, target).await
    } else {
        with_timeout(target.timeouts.total, provider, provider.chat(call)).await
    }
}

/// A rerank attempt.
pub async fn rerank(
    target: &Target,
    input: &RerankInput,
    upstream_model: &str,
) -> Result<Completion, Error> {
    let provider = &*target.provider;
    with_timeout(
        target.timeouts.total,
        provider,
        provider.rerank(input, upstream_model),
    )
    .await
}

/// An embeddings attempt.
pub async fn embeddings(
    target: &Target,
    input: &EmbedInput,
    upstream_model: &str,
) -> Result<Completion, Error> {
    let provider = &*target.provider;
    with_timeout(
        target.timeouts.total,
        provider,
        provider.embeddings(input, upstream_model),
    )
    .await
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

/// A streaming attempt: headers and first chunk within `first_token`, then
/// the idle and total deadlines for the rest.
async fn stream(
    provider: &dyn Provider,
    call: ChatCall<'_>,
    target: &Target,
) -> Result<ChatOutput, Error> {
    let timeouts = &target.timeouts;
    let start = tokio::time::Instant::now();
    let first_deadline = start + timeouts.first_token.min(timeouts.total);
    let total_deadline = start + timeouts.total;
    let out = tokio::time::timeout_at(first_deadline, provider.chat(call))
        .await
        .map_err(|_| timeout_error(provider, "first token", timeouts.first_token))??;
    let ChatOutput {
        reply,
        dropped,
        native,
    } = out;
    let ChatReply::Stream(mut stream) = reply else {
        return Ok(ChatOutput {
            reply,
            dropped,
            native,
        });
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
                native,
            });
        }
    };
    let rest = futures_util::stream::once(async move { Ok(head) }).chain(stream);
    let stream = Deadlines::new(
        rest.boxed(),
        timeouts.idle,
        total_deadline,
        provider.name().to_owned(),
    );
    Ok(ChatOutput {
        reply: ChatReply::Stream(stream.boxed()),
        dropped,
        native,
    })
}
