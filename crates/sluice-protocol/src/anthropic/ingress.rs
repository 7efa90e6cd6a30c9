//! Anthropic Messages *clients*: a `POST /v1/messages` request turned into
//! Sluice's canonical OpenAI chat request, so that any provider can serve it.
//!
//! Runs once per Messages request, before routing. When the request is
//! routed to an Anthropic upstream the client's own bytes are sent instead
//! (see the gateway's native pass-through) and this translation is used only
//! if the group falls back to another provider.
//!
//! - [`parse_messages`]: the head (`model`, `stream`) and the shape checks
//!   the real API makes (`messages` an array, `max_tokens` an integer);
//! - [`to_chat`]: the whole request → [`ChatRequest`]. Anthropic-only
//!   features that would change the answer if ignored (server tools such as
//!   `web_search`, `mcp_servers`, images inside tool results...) are refused
//!   with [`ErrorKind::UnsupportedParam`]; harmless ones (`cache_control`,
//!   `top_k`, `thinking`...) are dropped and named;
//! - [`reply`]: a chat response → a Messages response;
//! - [`events`]: chat chunks → Messages stream events.

pub mod events;
pub mod reply;
mod tools;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::wire::{Block, Content, Message, MessagesRequest, Source, System};
use crate::json::RawObject;
use crate::openai::chat::{
    ChatRequest, Content as OaContent, ContentPart, FilePart, FunctionCall, ImageUrl,
    Message as OaMessage, Role, Stop, ToolCall,
};
use crate::openai::request::{ParsedRequest, RequestHead, invalid_json};
use crate::translate::Translated;
use crate::{Error, ErrorKind};

/// Reads the head of a Messages request and checks the fields the real API
/// requires: `model` (a string), `messages` (an array), `max_tokens` (an
/// integer) and `stream` (a boolean, optional).
pub fn parse_messages(body: Bytes) -> Result<ParsedRequest, Error> {
    let object = RawObject::parse(body).map_err(|e| invalid_json(&e))?;
    let model = match object.get_as::<Option<String>>("model") {
        Ok(Some(Some(m))) if !m.is_empty() => m,
        Ok(_) => return Err(required("model")),
        Err(_) => return Err(wrong_type("model", "a string")),
    };
    match object.get("messages") {
        None => return Err(required("messages")),
        Some(raw) if !raw.starts_with('[') => return Err(wrong_type("messages", "a list")),
        Some(_) => {}
    }
    match object.get_as::<Option<u64>>("max_tokens") {
        Ok(Some(Some(_))) => {}
        Ok(_) => return Err(required("max_tokens")),
        Err(_) => return Err(wrong_type("max_tokens", "a non-negative integer")),
    }
    let stream = match object.get_as::<Option<bool>>("stream") {
        Ok(v) => v.flatten().unwrap_or(false),
        Err(_) => return Err(wrong_type("stream", "a boolean")),
    };
    Ok(ParsedRequest {
        object,
        head: RequestHead {
            model,
            stream,
            include_usage: stream,
        },
    })
}

fn required(field: &'static str) -> Error {
    Error::invalid(format!("{field}: Field required")).with_param(field)
}

fn wrong_type(field: &'static str, expected: &str) -> Error {
    Error::invalid(format!("{field}: Input should be {expected}")).with_param(field)
}

/// The error for an Anthropic feature no other provider can serve.
pub fn anthropic_only(param: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedParam,
        format!(
            "{what} can only be served by an Anthropic upstream, and this request was \
             routed to another provider. Route the model to an `anthropic` provider or \
             remove `{param}`."
        ),
    )
    .with_param(param)
}

/// Translates a Messages request body into the canonical chat request.
pub fn to_chat(body: &[u8]) -> Result<Translated<ChatRequest>, Error> {
    let mut obj: Map<String, Value> = serde_json::from_slice(body).map_err(|e| invalid_json(&e))?;
    let tools = obj.remove("tools");
    if obj.contains_key("mcp_servers") {
        return Err(anthropic_only(
            "mcp_servers",
            "`mcp_servers` (remote MCP tools)",
        ));
    }
    let req: MessagesRequest = serde_json::from_value(Value::Object(obj))
        .map_err(|e| Error::invalid(format!("invalid Messages request: {e}")))?;
    let mut dropped = Vec::new();
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = req.system {
        messages.push(system_message(system, &mut dropped)?);
    }
    for (i, m) in req.messages.into_iter().enumerate() {
        turn(m, i, &mut messages, &mut dropped)?;
    }
    let tools = match tools {
        None | Some(Value::Null) => None,
        Some(Value::Array(t)) if t.is_empty() => None,
        Some(Value::Array(t)) => Some(tools::convert(t, &mut dropped)?),
        Some(_) => return Err(wrong_type("tools", "a list")),
    };
    let (tool_choice, parallel) = match (&req.tool_choice, &tools) {
        (Some(c), Some(_)) => tools::choice(c)?,
        (Some(c), None) if c.kind == "none" => (None, None),
        (Some(_), None) => {
            return Err(
                Error::invalid("tool_choice may only be set when tools are given")
                    .with_param("tool_choice"),
            );
        }
        (None, _) => (None, None),
    };
    if req
        .thinking
        .as_ref()
        .is_some_and(|t| t.get("type").and_then(Value::as_str) != Some("disabled"))
    {
        note(&mut dropped, "thinking");
    }
    if req.top_k.is_some() {
        note(&mut dropped, "top_k");
    }
    let user = req
        .metadata
        .as_ref()
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    // Anthropic-only knobs (`service_tier`, `container`,
    // `context_management`...): nothing to send them to.
    for k in req.extra.keys() {
        note(&mut dropped, k);
    }
    let stream = req.stream == Some(true);
    Ok(Translated {
        value: ChatRequest {
            model: req.model,
            messages,
            stream: stream.then_some(true),
            max_tokens: Some(req.max_tokens),
            temperature: req.temperature,
            top_p: req.top_p,
            stop: (!req.stop_sequences.is_empty()).then_some(Stop::Many(req.stop_sequences)),
            user,
            tools,
            tool_choice,
            parallel_tool_calls: parallel,
            ..ChatRequest::default()
        },
        dropped,
    })
}

/// Adds `name` to the dropped list once.
fn note(dropped: &mut Vec<String>, name: &str) {
    if !dropped.iter().any(|d| d == name) {
        dropped.push(name.to_owned());
    }
}

fn system_message(system: System, dropped: &mut Vec<String>) -> Result<OaMessage, Error> {
    let text = match system {
        System::Text(t) => t,
        System::Blocks(blocks) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for b in blocks {
                match b {
                    Block::Text { text, extra } => {
                        note_block_extras(&extra, dropped);
                        parts.push(text);
                    }
                    other => {
                        return Err(Error::invalid(format!(
                            "system: only text blocks are allowed, got `{}`",
                            block_type(&other)
                        ))
                        .with_param("system"));
                    }
                }
            }
            parts.join("\n")
        }
    };
    Ok(OaMessage::text(Role::System, text))
}

/// Names the block-level fields that have no chat counterpart.
fn note_block_extras(extra: &Map<String, Value>, dropped: &mut Vec<String>) {
    for k in extra.keys() {
        note(dropped, k);
    }
}

fn block_type(b: &Block) -> String {
    serde_json::to_value(b)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Appends the chat messages for one Messages turn.
fn turn(
    m: Message,
    i: usize,
    out: &mut Vec<OaMessage>,
    dropped: &mut Vec<String>,
) -> Result<(), Error> {
    match m.role.as_str() {
        "user" => user_turn(m.content, i, out, dropped),
        "assistant" => {
            out.push(assistant_turn(m.content, i, dropped)?);
            Ok(())
        }
        other => Err(Error::invalid(format!(
            "messages.{i}.role: Input should be 'user' or 'assistant', got '{other}'"
        ))
        .with_param("messages")),
    }
}

/// A user turn: its tool results become `tool` messages (they answer the
/// previous assistant turn, so they come first), the rest one user message.
fn user_turn(
    content: Content,
    i: usize,
    out: &mut Vec<OaMessage>,
    dropped: &mut Vec<String>,
) -> Result<(), Error> {
    let blocks = match content {
        Content::Text(t) => {
            out.push(OaMessage::text(Role::User, t));
            return Ok(());
        }
        Content::Blocks(b) => b,
    };
    let mut parts: Vec<ContentPart> = Vec::new();
    for b in blocks {
        match b {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
                extra,
            } => {
                note_block_extras(&extra, dropped);
                if is_error == Some(true) {
                    note(dropped, "is_error");
                }
                out.push(OaMessage {
                    tool_call_id: Some(tool_use_id),
                    ..OaMessage::text(Role::Tool, tool_result_text(content, i)?)
                });
            }
            Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
            Block::ToolUse { .. } => {
                return Err(Error::invalid(format!(
                    "messages.{i}: `tool_use` blocks belong in assistant turns"
                ))
                .with_param("messages"));
            }
            other => parts.push(user_part(other, i, dropped)?),
        }
    }
    match parts.as_slice() {
        [] => {}
        [ContentPart::Text { text, .. }] => out.push(OaMessage::text(Role::User, text.clone())),
        _ => out.push(OaMessage {
            content: Some(OaContent::Parts(parts)),
            ..OaMessage::text(Role::User, "")
        }),
    }
    Ok(())
}

fn text_part(text: String) -> ContentPart {
    ContentPart::Text {
        text,
        extra: Map::new(),
    }
}

fn user_part(b: Block, i: usize, dropped: &mut Vec<String>) -> Result<ContentPart, Error> {
    Ok(match b {
        Block::Text { text, extra } => {
            note_block_extras(&extra, dropped);
            text_part(text)
        }
        Block::Image { source, extra } => {
            note_block_extras(&extra, dropped);
            let url = match source {
                Source::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
                Source::Url { url } => url,
                _ => {
                    return Err(anthropic_only(
                        "messages",
                        &format!("messages.{i}: an image given by file id"),
                    ));
                }
            };
            ContentPart::ImageUrl {
                image_url: ImageUrl { url, detail: None },
            }
        }
        Block::Document { source, extra } => {
            let filename = extra
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_owned);
            for k in extra.keys().filter(|k| *k != "title") {
                note(dropped, k);
            }
            match source {
                Source::Base64 { media_type, data } => ContentPart::File {
                    file: FilePart {
                        file_data: Some(format!("data:{media_type};base64,{data}")),
                        file_id: None,
                        filename: Some(filename.unwrap_or_else(|| "document".to_owned())),
                    },
                },
                Source::Text { data, .. } => text_part(data),
                _ => {
                    return Err(anthropic_only(
                        "messages",
                        &format!(
                            "messages.{i}: a document given by URL, file id or content blocks"
                        ),
                    ));
                }
            }
        }
        other => {
            let kind = block_type(&other);
            return Err(anthropic_only(
                "messages",
                &format!("messages.{i}: a `{kind}` content block"),
            ));
        }
    })
}

fn tool_result_text(content: Option<Content>, i: usize) -> Result<String, Error> {
    Ok(match content {
        None => String::new(),
        Some(Content::Text(t)) => t,
        Some(Content::Blocks(blocks)) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for b in blocks {
                match b {
                    Block::Text { text, .. } => texts.push(text),
                    other => {
                        let kind = block_type(&other);
                        return Err(anthropic_only(
                            "messages",
                            &format!("messages.{i}: a `{kind}` block inside a tool result"),
                        ));
                    }
                }
            }
            texts.join("\n")
        }
    })
}

fn assistant_turn(
    content: Content,
    i: usize,
    dropped: &mut Vec<String>,
) -> Result<OaMessage, Error> {
    let blocks = match content {
        Content::Text(t) => return Ok(OaMessage::text(Role::Assistant, t)),
        Content::Blocks(b) => b,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b {
            Block::Text { text: t, extra } => {
                note_block_extras(&extra, dropped);
                text.push_str(&t);
            }
            Block::ToolUse {
                id,
                name,
                input,
                extra,
            } => {
                note_block_extras(&extra, dropped);
                calls.push(ToolCall {
                    id,
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name,
                        arguments: input.to_string(),
                    },
                });
            }
            // Reasoning is bound to the model that produced it; other
            // providers neither need nor accept it back.
            Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
            other => {
                let kind = block_type(&other);
                return Err(anthropic_only(
                    "messages",
                    &format!("messages.{i}: a `{kind}` content block"),
                ));
            }
        }
    }
    let has_calls = !calls.is_empty();
    Ok(OaMessage {
        content: (!text.is_empty() || !has_calls).then_some(OaContent::Text(text)),
        tool_calls: has_calls.then_some(calls),
        ..OaMessage::text(Role::Assistant, "")
    })
}

#[cfg(test)]
mod tests;
