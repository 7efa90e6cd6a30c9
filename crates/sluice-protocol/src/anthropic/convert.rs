//! OpenAI Chat Completions ⇄ Anthropic Messages, for an OpenAI client
//! talking to an Anthropic upstream.
//!
//! Request: `system`/`developer` messages are lifted into `system`; `tool`
//! messages become `tool_result` blocks in a user turn; consecutive turns of
//! one role are merged (Anthropic requires alternation); `max_tokens` is
//! filled from the configured default; JSON mode is carried by a forced tool
//! whose input becomes the answer's content. Response: blocks become content,
//! `tool_calls`, `reasoning_content` and `thinking_blocks` (with signatures,
//! so the next turn can send them back).

use serde_json::{Map, Value, json};

use super::wire::{
    self, Block, Content, Message, MessagesRequest, MessagesResponse, Source, System,
};
use crate::Error;
use crate::openai::chat::{
    ChatRequest, ChatResponse, Choice, Content as OaContent, ContentPart, FunctionCall,
    ResponseFormat, ResponseMessage, Role, Stop, ToolCall, ToolChoice, WireUsage,
};
use crate::translate::{Translated, arguments_object, parse_data_url, unsupported};

/// Name of the tool that carries JSON mode.
pub const JSON_TOOL: &str = "json_response";

/// Top-level Anthropic parameters a client may send through `extra_body`.
const PASSTHROUGH: &[&str] = &[
    "top_k",
    "thinking",
    "container",
    "mcp_servers",
    "context_management",
];

/// Translates an OpenAI chat request for an Anthropic upstream.
pub fn to_anthropic(
    req: &ChatRequest,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Translated<MessagesRequest>, Error> {
    let mut dropped = Vec::new();
    if req.n.is_some_and(|n| n > 1) {
        return Err(unsupported(
            "Anthropic",
            "n",
            "it returns one choice per request",
        ));
    }
    let (system, messages) = messages(req)?;
    let mut out = MessagesRequest {
        model: upstream_model.to_owned(),
        max_tokens: req.max_output_tokens().unwrap_or(default_max_tokens),
        messages,
        system,
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: None,
        stop_sequences: req.stop.as_ref().map(Stop::to_vec).unwrap_or_default(),
        stream: req.stream.filter(|s| *s),
        tools: req
            .tools
            .iter()
            .flatten()
            .map(|t| wire::Tool {
                name: t.function.name.clone(),
                description: t.function.description.clone(),
                input_schema: t
                    .function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                extra: t.extra.clone(),
            })
            .collect(),
        tool_choice: tool_choice(req),
        thinking: req.reasoning_effort.as_deref().and_then(thinking_budget),
        metadata: req.user.as_ref().map(|u| json!({"user_id": u})),
        extra: Map::new(),
    };
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema
                .schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"}));
            force_json_tool(&mut out, schema, json_schema.description.clone());
        }
        Some(ResponseFormat::JsonObject) => {
            force_json_tool(
                &mut out,
                json!({"type": "object", "additionalProperties": true}),
                None,
            );
        }
        Some(ResponseFormat::Text) | None => {}
    }
    for (k, v) in &req.extra {
        if PASSTHROUGH.contains(&k.as_str()) {
            match k.as_str() {
                "top_k" => out.top_k = v.as_u64(),
                "thinking" => out.thinking = Some(v.clone()),
                _ => {
                    out.extra.insert(k.clone(), v.clone());
                }
            }
        } else {
            dropped.push(k.clone());
        }
    }
    for (name, present) in [
        ("presence_penalty", req.presence_penalty.is_some()),
        ("frequency_penalty", req.frequency_penalty.is_some()),
        ("logit_bias", req.logit_bias.is_some()),
        ("logprobs", req.logprobs == Some(true)),
        ("top_logprobs", req.top_logprobs.is_some()),
        ("seed", req.seed.is_some()),
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

fn thinking_budget(effort: &str) -> Option<Value> {
    let budget = match effort {
        "minimal" | "low" => 1024,
        "medium" => 4096,
        "high" => 16384,
        _ => return None,
    };
    Some(json!({"type": "enabled", "budget_tokens": budget}))
}

fn force_json_tool(out: &mut MessagesRequest, schema: Value, description: Option<String>) {
    out.tools.push(wire::Tool {
        name: JSON_TOOL.to_owned(),
        description: Some(description.unwrap_or_else(|| "Respond with a JSON object.".to_owned())),
        input_schema: schema,
        extra: Map::new(),
    });
    out.tool_choice = Some(wire::ToolChoice {
        kind: "tool".to_owned(),
        name: Some(JSON_TOOL.to_owned()),
        disable_parallel_tool_use: None,
    });
}

fn tool_choice(req: &ChatRequest) -> Option<wire::ToolChoice> {
    let no_parallel = (req.parallel_tool_calls == Some(false)).then_some(true);
    let (kind, name) = match &req.tool_choice {
        None if no_parallel.is_some() && req.tools.is_some() => ("auto", None),
        None => return None,
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "none" => ("none", None),
            "required" => ("any", None),
            _ => ("auto", None),
        },
        Some(ToolChoice::Named(n)) => ("tool", Some(n.function.name.clone())),
    };
    Some(wire::ToolChoice {
        kind: kind.to_owned(),
        name,
        disable_parallel_tool_use: if kind == "none" { None } else { no_parallel },
    })
}

/// `system` and the alternating turns.
fn messages(req: &ChatRequest) -> Result<(Option<System>, Vec<Message>), Error> {
    let mut system_blocks: Vec<Block> = Vec::new();
    let mut turns: Vec<Message> = Vec::new();
    for m in &req.messages {
        let (role, blocks) = match m.role {
            Role::System | Role::Developer => {
                system_blocks.extend(user_blocks(m.content.as_ref())?);
                continue;
            }
            Role::User => ("user", user_blocks(m.content.as_ref())?),
            Role::Assistant => ("assistant", assistant_blocks(m)?),
            Role::Tool | Role::Function => {
                let content = m
                    .content
                    .as_ref()
                    .map(OaContent::joined_text)
                    .unwrap_or_default();
                let id = m
                    .tool_call_id
                    .clone()
                    .or_else(|| m.name.clone())
                    .ok_or_else(|| {
                        Error::invalid("a `tool` message needs a `tool_call_id`")
                            .with_param("messages")
                    })?;
                (
                    "user",
                    vec![Block::ToolResult {
                        tool_use_id: id,
                        content: Some(Content::Text(content)),
                        is_error: None,
                        extra: Map::new(),
                    }],
                )
            }
        };
        let mut blocks = blocks;
        if let Some(cc) = m.extra.get("cache_control") {
            set_cache_control(blocks.last_mut(), cc);
        }
        match turns.last_mut() {
            Some(last) if last.role == role => {
                let prev = std::mem::replace(&mut last.content, Content::Blocks(Vec::new()));
                let mut merged = prev.into_blocks();
                merged.extend(blocks);
                last.content = Content::Blocks(merged);
            }
            _ => turns.push(Message {
                role: role.to_owned(),
                content: Content::Blocks(blocks),
            }),
        }
    }
    // Plain single-text turns are sent as strings, as most clients do.
    for t in &mut turns {
        if let Content::Blocks(b) = &t.content
            && let [Block::Text { text, extra }] = b.as_slice()
            && extra.is_empty()
        {
            t.content = Content::Text(text.clone());
        }
    }
    let system = match system_blocks.as_slice() {
        [] => None,
        blocks
            if blocks
                .iter()
                .all(|b| matches!(b, Block::Text { extra, .. } if extra.is_empty())) =>
        {
            let text: Vec<&str> = blocks
                .iter()
                .filter_map(|b| match b {
                    Block::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            Some(System::Text(text.join("\n\n")))
        }
        _ => Some(System::Blocks(system_blocks)),
    };
    Ok((system, turns))
}

fn set_cache_control(block: Option<&mut Block>, cc: &Value) {
    let extra = match block {
        Some(
            Block::Text { extra, .. }
            | Block::Image { extra, .. }
            | Block::Document { extra, .. }
            | Block::ToolUse { extra, .. }
            | Block::ToolResult { extra, .. },
        ) => extra,
        _ => return,
    };
    extra.insert("cache_control".to_owned(), cc.clone());
}

fn user_blocks(content: Option<&OaContent>) -> Result<Vec<Block>, Error> {
    let Some(content) = content else {
        return Ok(Vec::new());
    };
    let parts = match content {
        OaContent::Text(t) => return Ok(vec![Block::text(t.clone())]),
        OaContent::Parts(p) => p,
    };
    parts
        .iter()
        .map(|p| match p {
            ContentPart::Text { text, extra } => Ok(Block::Text {
                text: text.clone(),
                extra: extra
                    .iter()
                    .filter(|(k, _)| k.as_str() == "cache_control")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }),
            ContentPart::ImageUrl { image_url } => Ok(Block::Image {
                source: source_for(&image_url.url),
                extra: Map::new(),
            }),
            ContentPart::File { file } => match file.file_data.as_deref() {
                Some(data) => Ok(Block::Document {
                    source: source_for(data),
                    extra: Map::new(),
                }),
                None => Err(unsupported(
                    "Anthropic",
                    "file_id",
                    "send the file inline as `file_data`",
                )),
            },
            ContentPart::InputAudio { .. } => Err(unsupported(
                "Anthropic",
                "input_audio",
                "Claude models do not take audio",
            )),
            ContentPart::Refusal { refusal } => Ok(Block::text(refusal.clone())),
        })
        .collect()
}

fn source_for(url: &str) -> Source {
    match parse_data_url(url) {
        Some(d) => Source::Base64 {
            media_type: d.media_type.to_owned(),
            data: d.data.to_owned(),
        },
        None => Source::Url {
            url: url.to_owned(),
        },
    }
}

fn assistant_blocks(m: &crate::openai::chat::Message) -> Result<Vec<Block>, Error> {
    let mut blocks = Vec::new();
    // Thinking blocks come first, with their signatures, as Anthropic requires.
    if let Some(Value::Array(tb)) = m.extra.get("thinking_blocks") {
        for b in tb {
            if let Ok(block) = serde_json::from_value::<Block>(b.clone()) {
                blocks.push(block);
            }
        }
    }
    match &m.content {
        Some(OaContent::Text(t)) if !t.is_empty() => blocks.push(Block::text(t.clone())),
        Some(OaContent::Parts(_)) => blocks.extend(user_blocks(m.content.as_ref())?),
        _ => {}
    }
    for call in m.tool_calls.iter().flatten() {
        blocks.push(Block::ToolUse {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input: arguments_object(&call.function.arguments)?,
            extra: Map::new(),
        });
    }
    Ok(blocks)
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop: Option<&str>) -> Option<&'static str> {
    Some(match stop? {
        "end_turn" | "stop_sequence" | "pause_turn" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    })
}

/// OpenAI's `usage` for Anthropic's.
pub fn wire_usage(u: wire::Usage) -> WireUsage {
    crate::Usage::from(u).into()
}

/// Translates a complete Anthropic response. `json_mode`: the request used
/// the JSON tool, whose input becomes the content.
pub fn from_anthropic(resp: MessagesResponse, created: u64, json_mode: bool) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut calls = Vec::new();
    for b in resp.content {
        match b {
            Block::Text { text: t, .. } => text.push_str(&t),
            Block::ToolUse { name, input, .. } if json_mode && name == JSON_TOOL => {
                text.push_str(&input.to_string());
            }
            Block::ToolUse {
                id, name, input, ..
            } => calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            Block::Thinking {
                thinking,
                signature,
            } => {
                reasoning.push_str(&thinking);
                thinking_blocks.push(
                    json!({"type": "thinking", "thinking": thinking, "signature": signature}),
                );
            }
            Block::RedactedThinking { data } => {
                thinking_blocks.push(json!({"type": "redacted_thinking", "data": data}));
            }
            _ => {}
        }
    }
    let finish = if json_mode && resp.stop_reason.as_deref() == Some("tool_use") {
        Some("stop")
    } else {
        finish_reason(resp.stop_reason.as_deref())
    };
    let mut extra = Map::new();
    if !thinking_blocks.is_empty() {
        extra.insert("thinking_blocks".to_owned(), Value::Array(thinking_blocks));
    }
    let has_calls = !calls.is_empty();
    ChatResponse {
        id: resp.id,
        object: "chat.completion".to_owned(),
        created,
        model: resp.model,
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
            finish_reason: finish.map(str::to_owned),
            logprobs: None,
        }],
        usage: Some(wire_usage(resp.usage)),
        system_fingerprint: None,
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests;
