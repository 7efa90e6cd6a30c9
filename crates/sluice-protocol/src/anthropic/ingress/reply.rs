//! A canonical chat response turned into a Messages response, for a
//! Messages client served by a non-Anthropic provider.
//!
//! Runs once per complete (non-streamed) answer. Reasoning becomes a
//! `thinking` block (with the signature when the provider gave one, as
//! Bedrock's Claude does), text a `text` block, tool calls `tool_use` blocks
//! whose `input` is the parsed arguments.

use serde_json::{Map, Value};

use crate::anthropic::wire::{Block, DeltaUsage, MessagesResponse, Usage};
use crate::openai::chat::{ChatResponse, WireUsage};

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`. A stream that
/// produced tool calls stops for `tool_use` whatever the upstream said.
pub fn stop_reason(finish: Option<&str>, has_tool_calls: bool) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        Some("tool_calls" | "function_call") => "tool_use",
        _ if has_tool_calls => "tool_use",
        _ => "end_turn",
    }
}

/// A Messages id for a chat id: kept if it already is one, else prefixed.
pub fn message_id(chat_id: &str) -> String {
    if chat_id.starts_with("msg_") {
        chat_id.to_owned()
    } else if chat_id.is_empty() {
        "msg_sluice".to_owned()
    } else {
        format!("msg_{chat_id}")
    }
}

/// Anthropic's usage for an OpenAI usage: `input_tokens` excludes cached
/// ones, which are reported as `cache_read_input_tokens`.
pub fn usage(u: Option<WireUsage>) -> Usage {
    let u = u.unwrap_or_default();
    let cached = u.prompt_tokens_details.map_or(0, |d| d.cached_tokens);
    Usage {
        input_tokens: u.prompt_tokens.saturating_sub(cached),
        output_tokens: u.completion_tokens,
        cache_creation_input_tokens: Some(0),
        cache_read_input_tokens: Some(cached),
    }
}

/// The cumulative usage carried by the closing `message_delta` event.
pub fn delta_usage(u: Option<WireUsage>) -> DeltaUsage {
    let u = usage(u);
    DeltaUsage {
        output_tokens: u.output_tokens,
        input_tokens: Some(u.input_tokens),
        cache_creation_input_tokens: u.cache_creation_input_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
    }
}

/// A tool call's arguments as the `input` object Anthropic clients expect.
/// Arguments that are not a JSON object are kept as the raw string, so a
/// malformed call is visible rather than silently emptied.
pub fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(arguments.to_owned()),
    }
}

/// Translates a complete chat response. Only the first choice is used.
pub fn from_chat(resp: ChatResponse) -> MessagesResponse {
    let mut content = Vec::new();
    let choice = resp.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    let mut has_calls = false;
    if let Some(c) = choice {
        let m = c.message;
        match m.extra.get("thinking_blocks") {
            Some(Value::Array(blocks)) => content.extend(
                blocks
                    .iter()
                    .filter_map(|b| serde_json::from_value::<Block>(b.clone()).ok()),
            ),
            _ => {
                if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
                    content.push(Block::Thinking {
                        thinking: r,
                        signature: String::new(),
                    });
                }
            }
        }
        let text = m.content.or(m.refusal).unwrap_or_default();
        if !text.is_empty() {
            content.push(Block::text(text));
        }
        for call in m.tool_calls.into_iter().flatten() {
            has_calls = true;
            content.push(Block::ToolUse {
                id: call.id,
                name: call.function.name,
                input: tool_input(&call.function.arguments),
                extra: Map::new(),
            });
        }
    }
    MessagesResponse {
        id: message_id(&resp.id),
        kind: "message".to_owned(),
        role: "assistant".to_owned(),
        model: resp.model,
        content,
        stop_reason: Some(stop_reason(finish.as_deref(), has_calls).to_owned()),
        stop_sequence: None,
        usage: usage(resp.usage),
        extra: Map::new(),
    }
}
