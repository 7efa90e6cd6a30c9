//! OpenAI Chat Completions ⇄ Cohere v2 chat, for an OpenAI client talking
//! to a Cohere upstream.
//!
//! Request: `system`/`developer` messages become one leading `system` turn
//! (Cohere wants the system turn first); an assistant turn's text becomes its
//! `tool_plan` when it carries tool calls (the inverse of the response
//! mapping below) and `reasoning_content` becomes a `thinking` block; `tool`
//! messages keep their `tool_call_id`; images stay `image_url` blocks (Cohere
//! takes `data:` and `https:` URLs as they are); `top_p`/`stop` become
//! `p`/`stop_sequences`; JSON mode becomes `response_format` `json_object`
//! with the schema; a named `tool_choice` keeps only that tool and makes it
//! `REQUIRED`. Cohere-only parameters (`documents`, `citation_options`,
//! `safety_mode`, `k`, `thinking`...) pass through from `extra_body`.
//!
//! Response: text blocks become `content` (or, for a turn that only calls
//! tools, the `tool_plan`), thinking blocks `reasoning_content`, citations a
//! non-standard `citations` array on the message, and billed units a
//! non-standard top-level `billed_units` object.

use serde_json::{Map, Value, json};

use super::error::in_stream;
use super::wire::{
    self, Block, ChatRequest as CoRequest, ChatResponse as CoResponse, Content, ImageUrl, Message,
};
use crate::Error;
use crate::openai::chat::{
    ChatRequest, ChatResponse, Choice, Content as OaContent, ContentPart, FunctionCall,
    Message as OaMessage, ResponseFormat, ResponseMessage, Role, Stop, ToolCall, ToolChoice,
    WireUsage,
};
use crate::translate::{Translated, unsupported};

/// Translates an OpenAI chat request for a Cohere upstream.
pub fn to_cohere(req: &ChatRequest, upstream_model: &str) -> Result<Translated<CoRequest>, Error> {
    let mut dropped = Vec::new();
    if req.n.is_some_and(|n| n > 1) {
        return Err(unsupported(
            "Cohere",
            "n",
            "it returns one choice per request",
        ));
    }
    let mut out = CoRequest {
        model: upstream_model.to_owned(),
        messages: messages(&req.messages, &mut dropped)?,
        max_tokens: req.max_output_tokens(),
        stop_sequences: req.stop.as_ref().map(Stop::to_vec).unwrap_or_default(),
        temperature: req.temperature,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        p: req.top_p,
        stream: req.stream.filter(|s| *s),
        ..CoRequest::default()
    };
    tools(req, &mut out)?;
    out.response_format = match &req.response_format {
        Some(ResponseFormat::JsonObject) => Some(wire::ResponseFormat {
            kind: "json_object".to_owned(),
            json_schema: None,
        }),
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(wire::ResponseFormat {
            kind: "json_object".to_owned(),
            json_schema: json_schema.schema.clone(),
        }),
        Some(ResponseFormat::Text) | None => None,
    };
    for (k, v) in &req.extra {
        match k.as_str() {
            "documents" => match v {
                Value::Array(docs) => out.documents = Some(docs.clone()),
                _ => {
                    return Err(Error::invalid(
                        "`documents` must be an array of strings or objects",
                    )
                    .with_param("documents"));
                }
            },
            "citation_options" => out.citation_options = Some(v.clone()),
            "safety_mode" => out.safety_mode = Some(typed(k, v.as_str(), "a string")?.to_owned()),
            "k" | "top_k" => out.k = Some(typed(k, v.as_u64(), "a non-negative integer")?),
            "p" => out.p = Some(typed(k, v.as_f64(), "a number")?),
            "thinking" => out.thinking = Some(v.clone()),
            "strict_tools" => out.strict_tools = Some(typed(k, v.as_bool(), "a boolean")?),
            "priority" => {
                out.extra.insert(k.clone(), v.clone());
            }
            _ => dropped.push(k.clone()),
        }
    }
    for (name, present) in [
        ("logit_bias", req.logit_bias.is_some()),
        ("logprobs", req.logprobs == Some(true)),
        ("top_logprobs", req.top_logprobs.is_some()),
        ("user", req.user.is_some()),
        ("reasoning_effort", req.reasoning_effort.is_some()),
        (
            "parallel_tool_calls",
            req.parallel_tool_calls == Some(false),
        ),
    ] {
        if present {
            dropped.push(name.to_owned());
        }
    }
    Ok(Translated {
        value: out,
        dropped,
    })
}

/// A passthrough parameter's value, or a 400 naming it.
fn typed<T>(name: &str, value: Option<T>, expected: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::invalid(format!("`{name}` must be {expected}")).with_param(name))
}

/// `tools`, `tool_choice` and `strict_tools`. Cohere cannot name the tool
/// to call, so a named choice offers only that tool and requires a call.
fn tools(req: &ChatRequest, out: &mut CoRequest) -> Result<(), Error> {
    let named = match &req.tool_choice {
        Some(ToolChoice::Named(n)) => Some(n.function.name.as_str()),
        _ => None,
    };
    if let Some(name) = named
        && !req.tools.iter().flatten().any(|t| t.function.name == name)
    {
        return Err(Error::invalid(format!(
            "`tool_choice` names the function `{name}`, which is not in `tools`"
        ))
        .with_param("tool_choice"));
    }
    out.tools = req
        .tools
        .iter()
        .flatten()
        .filter(|t| named.is_none_or(|n| t.function.name == n))
        .map(|t| wire::Tool {
            kind: "function".to_owned(),
            function: wire::Function {
                name: t.function.name.clone(),
                description: t.function.description.clone(),
                parameters: t
                    .function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            },
        })
        .collect();
    if req
        .tools
        .iter()
        .flatten()
        .any(|t| t.function.strict == Some(true))
    {
        out.strict_tools = Some(true);
    }
    out.tool_choice = match &req.tool_choice {
        Some(ToolChoice::Named(_)) => Some("REQUIRED".to_owned()),
        Some(ToolChoice::Mode(m)) if m == "required" => Some("REQUIRED".to_owned()),
        Some(ToolChoice::Mode(m)) if m == "none" && !out.tools.is_empty() => {
            Some("NONE".to_owned())
        }
        _ => None,
    };
    Ok(())
}

fn messages(msgs: &[OaMessage], dropped: &mut Vec<String>) -> Result<Vec<Message>, Error> {
    let mut system: Vec<String> = Vec::new();
    let mut turns = Vec::with_capacity(msgs.len());
    let mut named = false;
    for m in msgs {
        named |= m.name.is_some() && m.role != Role::Function;
        match m.role {
            Role::System | Role::Developer => {
                system.push(
                    m.content
                        .as_ref()
                        .map(OaContent::joined_text)
                        .unwrap_or_default(),
                );
            }
            Role::User => turns.push(Message::User {
                content: user_content(m.content.as_ref())?,
            }),
            Role::Assistant => turns.push(assistant(m)),
            Role::Tool | Role::Function => {
                let id = m
                    .tool_call_id
                    .clone()
                    .or_else(|| m.name.clone())
                    .ok_or_else(|| {
                        Error::invalid("a `tool` message needs a `tool_call_id`")
                            .with_param("messages")
                    })?;
                turns.push(Message::Tool {
                    tool_call_id: id,
                    content: Content::Text(
                        m.content
                            .as_ref()
                            .map(OaContent::joined_text)
                            .unwrap_or_default(),
                    ),
                });
            }
        }
    }
    if named {
        dropped.push("messages[].name".to_owned());
    }
    if !system.is_empty() {
        turns.insert(
            0,
            Message::System {
                content: Content::Text(system.join("\n\n")),
            },
        );
    }
    Ok(turns)
}

fn user_content(content: Option<&OaContent>) -> Result<Content, Error> {
    let parts = match content {
        None => return Ok(Content::Text(String::new())),
        Some(OaContent::Text(t)) => return Ok(Content::Text(t.clone())),
        Some(OaContent::Parts(p)) => p,
    };
    parts
        .iter()
        .map(|p| match p {
            ContentPart::Text { text, .. } => Ok(Block::Text { text: text.clone() }),
            ContentPart::Refusal { refusal } => Ok(Block::Text {
                text: refusal.clone(),
            }),
            ContentPart::ImageUrl { image_url } => Ok(Block::ImageUrl {
                image_url: ImageUrl {
                    url: image_url.url.clone(),
                    detail: image_url.detail.clone(),
                },
            }),
            ContentPart::InputAudio { .. } => Err(unsupported(
                "Cohere",
                "input_audio",
                "Cohere chat models do not take audio",
            )),
            ContentPart::File { .. } => Err(unsupported(
                "Cohere",
                "file",
                "Cohere chat takes no files; send their text as `documents` in extra_body",
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Content::Blocks)
}

fn assistant(m: &OaMessage) -> Message {
    let text = match &m.content {
        Some(OaContent::Text(t)) => t.clone(),
        Some(c @ OaContent::Parts(_)) => c.joined_text(),
        None => String::new(),
    };
    let tool_calls: Vec<wire::ToolCall> = m
        .tool_calls
        .iter()
        .flatten()
        .map(|c| wire::ToolCall {
            id: c.id.clone(),
            kind: "function".to_owned(),
            function: wire::FunctionCall {
                name: c.function.name.clone(),
                arguments: if c.function.arguments.trim().is_empty() {
                    "{}".to_owned()
                } else {
                    c.function.arguments.clone()
                },
            },
        })
        .collect();
    let mut blocks = Vec::new();
    if let Some(r) = m.reasoning_content.as_ref().filter(|r| !r.is_empty()) {
        blocks.push(Block::Thinking {
            thinking: r.clone(),
        });
    }
    let mut tool_plan = None;
    if !text.is_empty() {
        if tool_calls.is_empty() {
            blocks.push(Block::Text { text });
        } else {
            tool_plan = Some(text);
        }
    }
    let citations = match m.extra.get("citations") {
        Some(Value::Array(c)) => c.clone(),
        _ => Vec::new(),
    };
    let content = match blocks.as_slice() {
        [] if tool_calls.is_empty() => Some(Content::Text(String::new())),
        [] => None,
        [Block::Text { text }] => Some(Content::Text(text.clone())),
        _ => Some(Content::Blocks(blocks)),
    };
    Message::Assistant {
        content,
        tool_calls,
        tool_plan,
        citations,
    }
}

/// OpenAI's `finish_reason` for a Cohere one. `ERROR` and `TIMEOUT` are not
/// finish reasons but failures; see [`super::error::in_stream`].
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("MAX_TOKENS") => "length",
        Some("TOOL_CALL") => "tool_calls",
        _ => "stop",
    }
}

/// Whether a Cohere finish reason reports a failure.
pub fn is_failure(reason: Option<&str>) -> bool {
    matches!(reason, Some("ERROR" | "TIMEOUT"))
}

/// Billed units as a JSON object, when Cohere reported them.
pub fn billed_units(usage: Option<&wire::Usage>) -> Option<Value> {
    usage
        .and_then(|u| u.billed_units.as_ref())
        .and_then(|b| serde_json::to_value(b).ok())
}

/// Translates a complete Cohere response. `model` is the upstream model the
/// request named (Cohere's response does not repeat it).
pub fn from_cohere(resp: CoResponse, model: &str, created: u64) -> Result<ChatResponse, Error> {
    if is_failure(resp.finish_reason.as_deref()) {
        let msg = resp.extra.get("error").and_then(Value::as_str);
        return Err(in_stream(
            resp.finish_reason.as_deref().unwrap_or("ERROR"),
            msg,
        ));
    }
    let mut text = String::new();
    let mut reasoning = String::new();
    for b in &resp.message.content {
        match b {
            Block::Text { text: t } => text.push_str(t),
            Block::Thinking { thinking } => reasoning.push_str(thinking),
            _ => {}
        }
    }
    let calls: Vec<ToolCall> = resp
        .message
        .tool_calls
        .into_iter()
        .map(|c| ToolCall {
            id: c.id,
            kind: "function".to_owned(),
            function: FunctionCall {
                name: c.function.name,
                arguments: c.function.arguments,
            },
        })
        .collect();
    let mut extra = Map::new();
    if let Some(plan) = resp.message.tool_plan.filter(|p| !p.is_empty()) {
        if text.is_empty() && !calls.is_empty() {
            text = plan;
        } else {
            extra.insert("tool_plan".to_owned(), Value::String(plan));
        }
    }
    if !resp.message.citations.is_empty() {
        extra.insert("citations".to_owned(), Value::Array(resp.message.citations));
    }
    let mut top = Map::new();
    if let Some(b) = billed_units(resp.usage.as_ref()) {
        top.insert("billed_units".to_owned(), b);
    }
    let has_calls = !calls.is_empty();
    Ok(ChatResponse {
        id: resp.id,
        object: "chat.completion".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: (!text.is_empty() || !has_calls).then_some(text),
                tool_calls: has_calls.then_some(calls),
                refusal: None,
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                extra,
            },
            finish_reason: Some(finish_reason(resp.finish_reason.as_deref()).to_owned()),
            logprobs: None,
        }],
        usage: resp
            .usage
            .as_ref()
            .and_then(wire::Usage::to_usage)
            .map(WireUsage::from),
        system_fingerprint: None,
        extra: top,
    })
}

#[cfg(test)]
mod tests;
