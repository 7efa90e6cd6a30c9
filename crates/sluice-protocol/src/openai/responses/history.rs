//! Conversations moving between the Responses API and chat, for groups that
//! mix OpenAI with other providers.
//!
//! - [`assistant_of`]: the assistant turn of a Response object answered by
//!   OpenAI itself, so Sluice can keep the conversation and a later turn can
//!   continue it on another provider;
//! - [`expand_input`]: a request continuing a response only Sluice knows,
//!   rewritten for OpenAI: the earlier turns become input items and
//!   `previous_response_id` is removed.

use serde_json::{Value, json};

use super::request::parse_history_input;
use crate::Error;
use crate::openai::chat::{Content, ContentPart, FunctionCall, Message, Role, ToolCall};

/// The assistant turn of a Response object's `output`: the text of its
/// message items and its function calls. Reasoning items are left out.
pub fn assistant_of(response: &Value) -> Message {
    let mut text = String::new();
    let mut calls = Vec::new();
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for c in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = c
                        .get("text")
                        .or_else(|| c.get("refusal"))
                        .and_then(Value::as_str)
                    {
                        text.push_str(t);
                    }
                }
            }
            Some("function_call") => {
                let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                calls.push(ToolCall {
                    id: s("call_id"),
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: s("name"),
                        arguments: s("arguments"),
                    },
                });
            }
            _ => {}
        }
    }
    let has_calls = !calls.is_empty();
    Message {
        content: (!text.is_empty() || !has_calls).then_some(Content::Text(text)),
        tool_calls: has_calls.then_some(calls),
        ..Message::text(Role::Assistant, "")
    }
}

/// Chat messages as Responses input items.
pub fn input_items(messages: &[Message]) -> Vec<Value> {
    let mut items = Vec::with_capacity(messages.len());
    for m in messages {
        match m.role {
            Role::Tool | Role::Function => items.push(json!({
                "type": "function_call_output",
                "call_id": m.tool_call_id.clone().or_else(|| m.name.clone()).unwrap_or_default(),
                "output": m.content.as_ref().map(Content::joined_text).unwrap_or_default(),
            })),
            Role::Assistant => {
                let text = m
                    .content
                    .as_ref()
                    .map(Content::joined_text)
                    .unwrap_or_default();
                if !text.is_empty() {
                    items.push(json!({"role": "assistant", "content": text}));
                }
                for c in m.tool_calls.iter().flatten() {
                    items.push(json!({"type": "function_call", "call_id": c.id,
                        "name": c.function.name, "arguments": c.function.arguments}));
                }
            }
            role => {
                let role = match role {
                    Role::System => "system",
                    Role::Developer => "developer",
                    _ => "user",
                };
                let content = match &m.content {
                    Some(Content::Parts(parts)) => {
                        Value::Array(parts.iter().map(input_part).collect())
                    }
                    Some(c) => json!(c.joined_text()),
                    None => json!(""),
                };
                items.push(json!({"role": role, "content": content}));
            }
        }
    }
    items
}

fn input_part(p: &ContentPart) -> Value {
    match p {
        ContentPart::Text { text, .. } => json!({"type": "input_text", "text": text}),
        ContentPart::ImageUrl { image_url } => json!({"type": "input_image",
            "image_url": image_url.url, "detail": image_url.detail.as_deref().unwrap_or("auto")}),
        ContentPart::File { file } => json!({"type": "input_file", "file_data": file.file_data,
            "filename": file.filename}),
        ContentPart::InputAudio { input_audio } => {
            json!({"type": "input_audio", "input_audio": input_audio})
        }
        ContentPart::Refusal { refusal } => json!({"type": "input_text", "text": refusal}),
    }
}

/// The `input` for a request continuing `history` without
/// `previous_response_id`: the earlier turns as items, then the request's
/// own `input` (raw JSON: a string or a list of items).
pub fn expand_input(history: &[Message], raw_input: Option<&str>) -> Result<Value, Error> {
    let mut items = input_items(history);
    items.extend(parse_history_input(raw_input)?);
    Ok(Value::Array(items))
}
