//! OpenAI Chat Completions ⇄ Bedrock Converse, for an OpenAI client talking
//! to a Bedrock upstream. Runs once per attempt, before the HTTP call and
//! after the answer.
//!
//! Request: `system`/`developer` messages become `system` text blocks;
//! `tool` messages become `toolResult` blocks in a user turn; consecutive
//! turns of one role are merged (Converse requires alternation); images are
//! inline `data:` URLs only; `max_tokens` defaults to the configured value;
//! JSON mode is a forced tool whose input becomes the answer's content.
//! `tool_choice: "none"` has no Converse equivalent: the tools are left out
//! (and `tools` is reported dropped) unless the conversation already holds
//! tool blocks, which Converse only accepts with a `toolConfig`, in which
//! case the request is refused.
//! Response: blocks become content, `tool_calls`, `reasoning_content` and
//! `thinking_blocks` (with signatures, so the next turn can send them back).

use serde_json::{Map, Value, json};

use super::wire::{
    self, ContentBlock, ConverseRequest, ConverseResponse, InferenceConfig, Message,
    ReasoningContent, SystemBlock, ToolConfig, ToolSpec,
};
use crate::Error;
use crate::openai::chat::{
    ChatRequest, ChatResponse, Choice, Content as OaContent, FunctionCall, ResponseFormat,
    ResponseMessage, Role, Stop, ToolCall, ToolChoice, WireUsage,
};
use crate::translate::{Translated, unsupported};

use blocks::{assistant_blocks, cache_point, user_blocks};

/// Name of the tool that carries JSON mode.
pub const JSON_TOOL: &str = "json_response";

const PROVIDER: &str = "Bedrock";

/// Top-level Converse fields a client may send through `extra_body`.
const PASSTHROUGH: &[&str] = &[
    "guardrailConfig",
    "performanceConfig",
    "requestMetadata",
    "additionalModelResponseFieldPaths",
    "serviceTier",
];

/// Model-specific parameters carried in `additionalModelRequestFields`.
const MODEL_FIELDS: &[&str] = &["top_k", "thinking", "reasoning_config"];

/// Whether the request asks for JSON mode (a forced [`JSON_TOOL`]).
pub fn is_json_mode(req: &ChatRequest) -> bool {
    matches!(
        req.response_format,
        Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
    )
}

/// Translates an OpenAI chat request for a Bedrock upstream.
pub fn to_bedrock(
    req: &ChatRequest,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Translated<ConverseRequest>, Error> {
    let mut dropped = Vec::new();
    if req.n.is_some_and(|n| n > 1) {
        return Err(unsupported(
            PROVIDER,
            "n",
            "Converse returns one choice per request",
        ));
    }
    let (system, messages) = messages(req, &mut dropped)?;
    let mut out = ConverseRequest {
        messages,
        system,
        inference_config: Some(InferenceConfig {
            max_tokens: Some(req.max_output_tokens().unwrap_or(default_max_tokens)),
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: req.stop.as_ref().map(Stop::to_vec).unwrap_or_default(),
        }),
        tool_config: None,
        additional_model_request_fields: None,
        extra: Map::new(),
    };
    tool_config(req, &mut out, &mut dropped)?;
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema
                .schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"}));
            force_json_tool(&mut out, schema, json_schema.description.clone());
        }
        Some(ResponseFormat::JsonObject) => force_json_tool(
            &mut out,
            json!({"type": "object", "additionalProperties": true}),
            None,
        ),
        Some(ResponseFormat::Text) | None => {}
    }
    let mut fields = Map::new();
    if let Some(effort) = req.reasoning_effort.as_deref() {
        match thinking_budget(effort) {
            Some(t) if upstream_model.contains("anthropic.") => {
                fields.insert("thinking".to_owned(), t);
            }
            _ => dropped.push("reasoning_effort".to_owned()),
        }
    }
    for (k, v) in &req.extra {
        if PASSTHROUGH.contains(&k.as_str()) {
            out.extra.insert(k.clone(), v.clone());
        } else if MODEL_FIELDS.contains(&k.as_str()) {
            fields.insert(k.clone(), v.clone());
        } else if k == "additionalModelRequestFields"
            && let Value::Object(o) = v
        {
            fields.extend(o.clone());
        } else {
            dropped.push(k.clone());
        }
    }
    if !fields.is_empty() {
        out.additional_model_request_fields = Some(fields);
    }
    for (name, present) in [
        ("presence_penalty", req.presence_penalty.is_some()),
        ("frequency_penalty", req.frequency_penalty.is_some()),
        ("logit_bias", req.logit_bias.is_some()),
        ("logprobs", req.logprobs == Some(true)),
        ("top_logprobs", req.top_logprobs.is_some()),
        ("seed", req.seed.is_some()),
        ("user", req.user.is_some()),
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

fn thinking_budget(effort: &str) -> Option<Value> {
    let budget = match effort {
        "minimal" | "low" => 1024,
        "medium" => 4096,
        "high" => 16384,
        _ => return None,
    };
    Some(json!({"type": "enabled", "budget_tokens": budget}))
}

fn tool_config(
    req: &ChatRequest,
    out: &mut ConverseRequest,
    dropped: &mut Vec<String>,
) -> Result<(), Error> {
    let tools: Vec<wire::Tool> = req
        .tools
        .iter()
        .flatten()
        .map(|t| {
            wire::Tool::ToolSpec(ToolSpec {
                name: t.function.name.clone(),
                description: t.function.description.clone(),
                input_schema: json!({"json": t.function.parameters.clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}))}),
            })
        })
        .collect();
    let choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "none" => {
                let history =
                    out.messages.iter().flat_map(|m| &m.content).any(|b| {
                        matches!(b, ContentBlock::ToolUse(_) | ContentBlock::ToolResult(_))
                    });
                if history && !tools.is_empty() {
                    return Err(unsupported(
                        PROVIDER,
                        "tool_choice",
                        "Converse has no `none` tool choice, and a conversation with \
                         tool calls must keep its tools; omit `tool_choice` or the tools",
                    ));
                }
                if !tools.is_empty() {
                    dropped.push("tools".to_owned());
                }
                return Ok(());
            }
            "required" => Some(wire::ToolChoice::Any(Map::new())),
            _ => Some(wire::ToolChoice::Auto(Map::new())),
        },
        Some(ToolChoice::Named(n)) => Some(wire::ToolChoice::Tool {
            name: n.function.name.clone(),
        }),
    };
    if !tools.is_empty() {
        out.tool_config = Some(ToolConfig {
            tools,
            tool_choice: choice,
        });
    }
    Ok(())
}

fn force_json_tool(out: &mut ConverseRequest, schema: Value, description: Option<String>) {
    let spec = wire::Tool::ToolSpec(ToolSpec {
        name: JSON_TOOL.to_owned(),
        description: Some(description.unwrap_or_else(|| "Respond with a JSON object.".to_owned())),
        input_schema: json!({ "json": schema }),
    });
    let choice = Some(wire::ToolChoice::Tool {
        name: JSON_TOOL.to_owned(),
    });
    match &mut out.tool_config {
        Some(tc) => {
            tc.tools.push(spec);
            tc.tool_choice = choice;
        }
        None => {
            out.tool_config = Some(ToolConfig {
                tools: vec![spec],
                tool_choice: choice,
            });
        }
    }
}

/// `system` and the alternating turns.
fn messages(
    req: &ChatRequest,
    dropped: &mut Vec<String>,
) -> Result<(Vec<SystemBlock>, Vec<Message>), Error> {
    let mut system = Vec::new();
    let mut turns: Vec<Message> = Vec::new();
    for m in &req.messages {
        let (role, mut blocks) = match m.role {
            Role::System | Role::Developer => {
                for b in user_blocks(m.content.as_ref(), dropped)? {
                    match b {
                        ContentBlock::Text(t) => system.push(SystemBlock::Text(t)),
                        ContentBlock::CachePoint(c) => system.push(SystemBlock::CachePoint(c)),
                        _ => {
                            return Err(Error::invalid(
                                "a system message may only contain text for Bedrock",
                            )
                            .with_param("messages"));
                        }
                    }
                }
                if m.extra.contains_key("cache_control") {
                    system.push(SystemBlock::CachePoint(cache_point()));
                }
                continue;
            }
            Role::User => ("user", user_blocks(m.content.as_ref(), dropped)?),
            Role::Assistant => ("assistant", assistant_blocks(m, dropped)?),
            Role::Tool | Role::Function => {
                let text = m
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
                    vec![ContentBlock::ToolResult(wire::ToolResult {
                        tool_use_id: id,
                        content: vec![json!({ "text": text })],
                        status: None,
                    })],
                )
            }
        };
        if m.extra.contains_key("cache_control") {
            blocks.push(ContentBlock::CachePoint(cache_point()));
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => turns.push(Message {
                role: role.to_owned(),
                content: blocks,
            }),
        }
    }
    // Tool results lead their user turn, as Converse expects.
    for t in &mut turns {
        t.content
            .sort_by_key(|b| !matches!(b, ContentBlock::ToolResult(_)));
    }
    Ok((system, turns))
}

/// OpenAI's `finish_reason` for a Converse `stopReason`.
pub fn finish_reason(stop: &str, json_mode: bool) -> &'static str {
    match stop {
        "tool_use" if json_mode => "stop",
        "tool_use" => "tool_calls",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI's `usage` for Converse's.
pub fn wire_usage(u: wire::Usage) -> WireUsage {
    crate::Usage::from(u).into()
}

/// Translates a complete Converse response. `id` and `model` are the
/// gateway's (Converse returns neither); `json_mode` as in [`is_json_mode`].
pub fn from_bedrock(
    resp: ConverseResponse,
    id: &str,
    model: &str,
    created: u64,
    json_mode: bool,
) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut calls = Vec::new();
    for b in resp.output.message.content {
        match b {
            ContentBlock::Text(t) => text.push_str(&t),
            ContentBlock::ToolUse(u) if json_mode && u.name == JSON_TOOL => {
                text.push_str(&u.input.to_string());
            }
            ContentBlock::ToolUse(u) => calls.push(ToolCall {
                id: u.tool_use_id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: u.name,
                    arguments: u.input.to_string(),
                },
            }),
            ContentBlock::ReasoningContent(ReasoningContent::ReasoningText(r)) => {
                reasoning.push_str(&r.text);
                thinking_blocks.push(json!({"type": "thinking", "thinking": r.text,
                    "signature": r.signature.unwrap_or_default()}));
            }
            ContentBlock::ReasoningContent(ReasoningContent::RedactedContent(data)) => {
                thinking_blocks.push(json!({"type": "redacted_thinking", "data": data}));
            }
            _ => {}
        }
    }
    let mut extra = Map::new();
    if !thinking_blocks.is_empty() {
        extra.insert("thinking_blocks".to_owned(), Value::Array(thinking_blocks));
    }
    let has_calls = !calls.is_empty();
    ChatResponse {
        id: id.to_owned(),
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
            finish_reason: Some(finish_reason(&resp.stop_reason, json_mode).to_owned()),
            logprobs: None,
        }],
        usage: resp.usage.map(wire_usage),
        system_fingerprint: None,
        extra: Map::new(),
    }
}

mod blocks;

#[cfg(test)]
mod tests;
