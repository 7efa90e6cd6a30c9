//! Token estimates, for when a provider reports no usage and, later, for
//! admission control. Billing always uses provider-reported usage; numbers
//! from here are marked [`UsageSource::Estimated`].
//!
//! Uses the `o200k_base` encoding bundled with `tiktoken-rs` (works offline).
//! The per-message overhead follows OpenAI's published counting recipe.

use sluice_protocol::openai::chat::{ChatRequest, ChatResponse, Content, ContentPart};
use sluice_protocol::{Usage, UsageSource};

/// Loads the tokenizer's tables in the background so that no request pays
/// for their one-time initialisation. Call once at start-up.
pub fn warm_up() {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn_blocking(|| count("warm up"));
    }
}

/// Tokens in `text`.
pub fn count(text: &str) -> u64 {
    tiktoken_rs::o200k_base_singleton().count_ordinary(text) as u64
}

/// Estimated prompt tokens of a chat request: text content, tool calls and
/// tool definitions, plus the fixed per-message overhead. Images count a
/// flat 85 tokens each (OpenAI's low-detail price).
pub fn chat_prompt(req: &ChatRequest) -> u64 {
    let mut n = 3;
    for m in &req.messages {
        n += 3;
        match &m.content {
            Some(Content::Text(t)) => n += count(t),
            Some(Content::Parts(parts)) => {
                for p in parts {
                    n += match p {
                        ContentPart::Text { text, .. } => count(text),
                        ContentPart::ImageUrl { .. } => 85,
                        _ => 0,
                    }
                }
            }
            None => {}
        }
        for call in m.tool_calls.iter().flatten() {
            n += count(&call.function.name) + count(&call.function.arguments);
        }
        if let Some(name) = &m.name {
            n += count(name) + 1;
        }
    }
    for tool in req.tools.iter().flatten() {
        n += count(&tool.function.name) + 8;
        if let Some(d) = &tool.function.description {
            n += count(d);
        }
        if let Some(p) = &tool.function.parameters {
            n += count(&p.to_string());
        }
    }
    n
}

/// Estimated prompt tokens of a chat input, typed if it parses, else by size
/// (of the client's own body, for a request that came in on another API).
pub fn prompt_of(input: &crate::provider::ChatInput) -> u64 {
    input.typed().map_or_else(
        |_| {
            let raw = input
                .native_body()
                .map_or(input.raw().object.body(), |n| n.request.object.body());
            from_bytes(raw.len())
        },
        chat_prompt,
    )
}

/// Estimated completion tokens of an OpenAI chat response body.
pub fn completion_body(body: &[u8]) -> u64 {
    let Ok(resp) = serde_json::from_slice::<ChatResponse>(body) else {
        return from_bytes(body.len());
    };
    resp.choices
        .iter()
        .map(|c| {
            c.message.content.as_deref().map_or(0, count)
                + c.message
                    .tool_calls
                    .iter()
                    .flatten()
                    .map(|t| count(&t.function.name) + count(&t.function.arguments))
                    .sum::<u64>()
        })
        .sum()
}

/// Estimated prompt tokens from raw request bytes, when the request cannot
/// be typed: about four bytes per token.
pub fn from_bytes(len: usize) -> u64 {
    (len as u64).div_ceil(4)
}

/// An estimated usage record.
pub fn estimated(prompt_tokens: u64, completion_tokens: u64) -> Usage {
    Usage {
        prompt_tokens,
        completion_tokens,
        source: UsageSource::Estimated,
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_openai() {
        assert_eq!(count("hello world"), 2);
        let req: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"user","content":"hello world"}]}"#,
        )
        .unwrap();
        assert_eq!(chat_prompt(&req), 3 + 3 + 2);
    }
}
