//! The answer a refused prompt gets when its prompt guard says
//! `on_block: refuse`: a well-formed assistant message carrying the
//! refusal text, complete or streamed as the client asked, in OpenAI chat
//! form (the handlers translate it to the client's API like any answer).
//!
//! Built in the pipeline instead of calling a provider; the record shows
//! the provider `guardrail` and no usage.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::json;
use sluice_protocol::{Error, Usage};

use crate::exec::{Answer, Job};
use crate::provider::{
    ChatCall, ChatInput, ChatOutput, ChatReply, Chunk, Completion, EmbedInput, Provider,
    ProviderKind,
};

/// The name the record and `x-sluice-provider` show for a refusal.
pub const PROVIDER: &str = "guardrail";

/// The provider a refusal is attributed to; it is never called.
struct Guardrail;

#[async_trait]
impl Provider for Guardrail {
    fn name(&self) -> &str {
        PROVIDER
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    async fn chat(&self, _call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        Err(Error::internal("the guardrail provider is never called"))
    }

    async fn embeddings(&self, _input: &EmbedInput, _model: &str) -> Result<Completion, Error> {
        Err(Error::internal("the guardrail provider is never called"))
    }
}

/// A refusal of `input` with `text`, as an answer of `policy`.
pub fn answer(job: &Job<'_>, input: &ChatInput, policy: &str, text: &str) -> Answer<ChatOutput> {
    let id = format!("chatcmpl-guardrail-{}", uuid::Uuid::new_v4().simple());
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let model = job.model;
    let usage = Usage::default();
    let reply = if input.head().stream {
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            })
        };
        let frames = [
            chunk(json!({"role": "assistant", "content": text}), None),
            chunk(json!({}), Some("stop")),
        ];
        let mut chunks: Vec<Result<Chunk, Error>> = frames
            .iter()
            .map(|v| {
                Ok(Chunk {
                    data: Bytes::from(v.to_string()),
                    usage: None,
                    usage_only: false,
                })
            })
            .collect();
        chunks.push(Ok(Chunk {
            data: Bytes::from(
                json!({
                    "id": id, "object": "chat.completion.chunk", "created": created,
                    "model": model, "choices": [],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                })
                .to_string(),
            ),
            usage: Some(usage),
            usage_only: true,
        }));
        ChatReply::Stream(Box::pin(futures_util::stream::iter(chunks)))
    } else {
        let body = json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        });
        ChatReply::Complete(Completion {
            body: Bytes::from(body.to_string()),
            usage: Some(usage),
            model: Some(model.to_owned()),
            dropped: Vec::new(),
        })
    };
    Answer {
        value: ChatOutput::from(reply),
        provider: Arc::new(Guardrail),
        upstream_model: model.to_owned(),
        upstream_time: Duration::ZERO,
        attempts: 0,
        reason: format!("guardrail:{policy}"),
        price: None,
    }
}
