//! OpenAI Chat Completions ⇄ Gemini `generateContent`, for an OpenAI client
//! talking to Gemini on AI Studio or Vertex AI.
//!
//! Request: `system`/`developer` messages become `systemInstruction`; turns
//! become `contents` with roles `user`/`model` (consecutive turns of one role
//! merged); images and audio travel as `inlineData` (image URLs are refused:
//! Gemini cannot fetch them, and the gateway will not); tool calls become
//! `functionCall` parts and tool results `functionResponse` parts, named after
//! the tool call they answer; tools become `functionDeclarations` with their
//! schemas cleaned ([`super::schema`]); sampling options, JSON mode and
//! `reasoning_effort` go to `generationConfig`.
//!
//! Response: candidates become choices; thought parts become
//! `reasoning_content`; function calls become `tool_calls` with generated
//! ids when Gemini gives none. A function call's `thoughtSignature` (which
//! Gemini wants back next turn) rides inside the tool call id.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::schema;
use super::wire::{
    Blob, Content, FunctionCall, FunctionCallingConfig, FunctionDeclaration, FunctionResponse,
    GenerateContentRequest, GenerateContentResponse, GenerationConfig, Part, Tool, ToolConfig,
    UsageMetadata,
};
use crate::openai::chat::{
    ChatRequest, ChatResponse, Choice, Content as OaContent, ContentPart, FunctionCall as OaCall,
    Message, ResponseFormat, ResponseMessage, Role, Stop, ToolCall, ToolChoice, WireUsage,
};
use crate::translate::{Translated, arguments_object, parse_data_url, unsupported};
use crate::{Error, ErrorKind};

/// Separates a tool call id from the `thoughtSignature` carried inside it.
pub const SIGNATURE_SEPARATOR: &str = "~ts~";

/// Translates an OpenAI chat request into a `generateContent` body.
pub fn to_gemini(req: &ChatRequest) -> Result<Translated<GenerateContentRequest>, Error> {
    let mut dropped: BTreeSet<String> = BTreeSet::new();
    let (system_instruction, contents) = contents(&req.messages, &mut dropped)?;
    let mut out = GenerateContentRequest {
        contents,
        system_instruction,
        ..GenerateContentRequest::default()
    };
    out.tools = tools(req, &mut dropped)?;
    out.tool_config = tool_config(req);
    let mut gc = GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        candidate_count: req.n.filter(|n| *n != 1),
        max_output_tokens: req.max_output_tokens(),
        stop_sequences: req.stop.as_ref().map(Stop::to_vec).unwrap_or_default(),
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        ..GenerationConfig::default()
    };
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            gc.response_mime_type = Some("application/json".to_owned());
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            gc.response_mime_type = Some("application/json".to_owned());
            if let Some(s) = &json_schema.schema {
                gc.response_schema = Some(schema::clean(
                    s,
                    "response_format.json_schema.schema",
                    &mut dropped,
                )?);
            }
            if json_schema.strict.is_some() {
                dropped.insert("response_format.json_schema.strict".to_owned());
            }
        }
        Some(ResponseFormat::Text) | None => {}
    }
    if let Some(effort) = req.reasoning_effort.as_deref() {
        match thinking_config(effort) {
            Some(t) => gc.thinking_config = Some(t),
            None => {
                dropped.insert("reasoning_effort".to_owned());
            }
        }
    }
    for (k, v) in &req.extra {
        match k.as_str() {
            "safetySettings" | "safety_settings" => out.safety_settings = Some(v.clone()),
            "cachedContent" | "cached_content" => {
                out.cached_content = v.as_str().map(str::to_owned);
            }
            "top_k" | "topK" => gc.top_k = v.as_u64(),
            "thinkingConfig" | "thinking_config" => gc.thinking_config = Some(v.clone()),
            _ => {
                dropped.insert(k.clone());
            }
        }
    }
    for (name, present) in [
        ("logit_bias", req.logit_bias.is_some()),
        ("logprobs", req.logprobs == Some(true)),
        ("top_logprobs", req.top_logprobs.is_some()),
        ("user", req.user.is_some()),
        (
            "parallel_tool_calls",
            req.parallel_tool_calls == Some(false),
        ),
    ] {
        if present {
            dropped.insert(name.to_owned());
        }
    }
    if gc != GenerationConfig::default() {
        out.generation_config = Some(gc);
    }
    Ok(Translated {
        value: out,
        dropped: dropped.into_iter().collect(),
    })
}

/// `thinkingConfig` for an OpenAI `reasoning_effort`; thoughts are asked
/// for so they can be returned as `reasoning_content`.
fn thinking_config(effort: &str) -> Option<Value> {
    let budget = match effort {
        "none" => return Some(json!({"thinkingBudget": 0})),
        "minimal" => 512,
        "low" => 1024,
        "medium" => 8192,
        "high" => 24576,
        _ => return None,
    };
    Some(json!({"thinkingBudget": budget, "includeThoughts": true}))
}

fn tools(req: &ChatRequest, dropped: &mut BTreeSet<String>) -> Result<Vec<Tool>, Error> {
    let Some(list) = req.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut decls = Vec::with_capacity(list.len());
    for t in list {
        if t.kind != "function" {
            return Err(unsupported(
                "Gemini",
                "tools",
                &format!("only function tools can be translated, not `{}`", t.kind),
            ));
        }
        if t.function.strict.is_some() {
            dropped.insert("tools.function.strict".to_owned());
        }
        for k in t.extra.keys() {
            dropped.insert(format!("tools.{k}"));
        }
        let parameters = match &t.function.parameters {
            Some(p) => Some(schema::clean(p, "tools.function.parameters", dropped)?),
            None => None,
        };
        // Gemini refuses an OBJECT schema without properties: a function that
        // takes nothing simply has no `parameters`.
        let parameters = parameters.filter(|p| {
            !(p.get("type") == Some(&json!("OBJECT"))
                && p.get("properties")
                    .and_then(Value::as_object)
                    .is_none_or(Map::is_empty))
        });
        decls.push(FunctionDeclaration {
            name: t.function.name.clone(),
            description: t.function.description.clone(),
            parameters,
        });
    }
    Ok(vec![Tool {
        function_declarations: decls,
        extra: Map::new(),
    }])
}

fn tool_config(req: &ChatRequest) -> Option<ToolConfig> {
    let (mode, names) = match req.tool_choice.as_ref()? {
        ToolChoice::Mode(m) => match m.as_str() {
            "none" => ("NONE", None),
            "required" => ("ANY", None),
            _ => ("AUTO", None),
        },
        ToolChoice::Named(n) => ("ANY", Some(vec![n.function.name.clone()])),
    };
    Some(ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode: mode.to_owned(),
            allowed_function_names: names,
        },
    })
}

/// `systemInstruction` and the `contents`.
fn contents(
    messages: &[Message],
    dropped: &mut BTreeSet<String>,
) -> Result<(Option<Content>, Vec<Content>), Error> {
    // Gemini needs the function name with each result: find it by call id.
    let names: HashMap<&str, &str> = messages
        .iter()
        .flat_map(|m| m.tool_calls.iter().flatten())
        .map(|c| (c.id.as_str(), c.function.name.as_str()))
        .collect();
    let mut system: Vec<Part> = Vec::new();
    let mut turns: Vec<Content> = Vec::new();
    for m in messages {
        let (role, parts) = match m.role {
            Role::System | Role::Developer => {
                if let Some(c) = &m.content {
                    system.push(Part::text(c.joined_text()));
                }
                continue;
            }
            Role::User => ("user", user_parts(m.content.as_ref())?),
            Role::Assistant => ("model", assistant_parts(m, dropped)?),
            Role::Tool | Role::Function => ("user", vec![tool_result(m, &names)?]),
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
            _ => turns.push(Content {
                role: Some(role.to_owned()),
                parts,
            }),
        }
    }
    let system = (!system.is_empty()).then_some(Content {
        role: None,
        parts: system,
    });
    Ok((system, turns))
}

fn tool_result(m: &Message, names: &HashMap<&str, &str>) -> Result<Part, Error> {
    let name = m
        .tool_call_id
        .as_deref()
        .and_then(|id| names.get(id).copied())
        .or(m.name.as_deref())
        .ok_or_else(|| {
            Error::invalid(
                "a `tool` message's `tool_call_id` matches no tool call in the conversation; \
                 Gemini needs the function's name",
            )
            .with_param("messages")
        })?;
    let text = m
        .content
        .as_ref()
        .map(OaContent::joined_text)
        .unwrap_or_default();
    // `response` must be an object: a JSON object result is sent as it is.
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    };
    Ok(Part {
        function_response: Some(FunctionResponse {
            id: None,
            name: name.to_owned(),
            response,
        }),
        ..Part::default()
    })
}

fn inline(data_url: &str, param: &str, why: &str) -> Result<Part, Error> {
    let d = parse_data_url(data_url).ok_or_else(|| unsupported("Gemini", param, why))?;
    Ok(Part {
        inline_data: Some(Blob {
            mime_type: d.media_type.to_owned(),
            data: d.data.to_owned(),
        }),
        ..Part::default()
    })
}

fn user_parts(content: Option<&OaContent>) -> Result<Vec<Part>, Error> {
    let parts = match content {
        None => return Ok(Vec::new()),
        Some(OaContent::Text(t)) => return Ok(vec![Part::text(t.clone())]),
        Some(OaContent::Parts(p)) => p,
    };
    parts
        .iter()
        .map(|p| match p {
            ContentPart::Text { text, .. } => Ok(Part::text(text.clone())),
            ContentPart::Refusal { refusal } => Ok(Part::text(refusal.clone())),
            ContentPart::ImageUrl { image_url } => inline(
                &image_url.url,
                "image_url",
                "Gemini cannot fetch image URLs and the gateway does not download them; \
                 send the image inline as a base64 `data:` URL",
            ),
            ContentPart::File { file } => inline(
                file.file_data.as_deref().unwrap_or(""),
                "file",
                "send the file inline as a base64 `data:` URL in `file_data`",
            ),
            ContentPart::InputAudio { input_audio } => {
                let data = input_audio.get("data").and_then(Value::as_str);
                let format = input_audio.get("format").and_then(Value::as_str);
                match (data, format) {
                    (Some(data), Some(format)) => Ok(Part {
                        inline_data: Some(Blob {
                            mime_type: format!("audio/{format}"),
                            data: data.to_owned(),
                        }),
                        ..Part::default()
                    }),
                    _ => Err(Error::invalid("`input_audio` needs `data` and `format`")
                        .with_param("input_audio")),
                }
            }
        })
        .collect()
}

fn assistant_parts(m: &Message, dropped: &mut BTreeSet<String>) -> Result<Vec<Part>, Error> {
    let mut parts = Vec::new();
    if m.reasoning_content.is_some() {
        dropped.insert("messages.reasoning_content".to_owned());
    }
    match &m.content {
        Some(OaContent::Text(t)) if !t.is_empty() => parts.push(Part::text(t.clone())),
        Some(c @ OaContent::Parts(_)) => {
            let t = c.joined_text();
            if !t.is_empty() {
                parts.push(Part::text(t));
            }
        }
        _ => {}
    }
    for call in m.tool_calls.iter().flatten() {
        let signature = call
            .id
            .split_once(SIGNATURE_SEPARATOR)
            .map(|(_, s)| s.to_owned());
        parts.push(Part {
            function_call: Some(FunctionCall {
                id: None,
                name: call.function.name.clone(),
                args: Some(arguments_object(&call.function.arguments)?),
            }),
            thought_signature: signature,
            ..Part::default()
        });
    }
    Ok(parts)
}

/// OpenAI's `finish_reason` for Gemini's `finishReason`.
pub fn finish_reason(reason: &str, has_calls: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if has_calls => "tool_calls",
        _ => "stop",
    }
}

/// The OpenAI id of the `n`-th function call of candidate `candidate`:
/// Gemini's own id when it gave one, else one derived from the response id,
/// so the same response always yields the same ids. A `thoughtSignature`
/// is appended after [`SIGNATURE_SEPARATOR`].
pub fn call_id(
    call: &FunctionCall,
    response_id: Option<&str>,
    candidate: u32,
    n: usize,
    signature: Option<&str>,
) -> String {
    let base = match call.id.as_deref().filter(|i| !i.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            let rid = response_id.filter(|r| !r.is_empty()).unwrap_or("gemini");
            if candidate == 0 {
                format!("call_{rid}_{n}")
            } else {
                format!("call_{rid}_{candidate}_{n}")
            }
        }
    };
    match signature {
        Some(s) if !s.is_empty() => format!("{base}{SIGNATURE_SEPARATOR}{s}"),
        _ => base,
    }
}

/// The arguments of a function call as the JSON text OpenAI clients expect.
pub fn arguments_text(call: &FunctionCall) -> String {
    call.args
        .as_ref()
        .map_or_else(|| "{}".to_owned(), Value::to_string)
}

/// OpenAI's `usage` for Gemini's.
pub fn wire_usage(u: UsageMetadata) -> WireUsage {
    crate::Usage::from(u).into()
}

/// The error for a prompt Gemini blocked (`promptFeedback.blockReason`).
pub fn blocked(resp: &GenerateContentResponse) -> Option<Error> {
    let fb = resp.prompt_feedback.as_ref()?;
    let reason = fb.block_reason.as_deref()?;
    let mut msg = format!("Gemini blocked the prompt ({reason})");
    if let Some(m) = &fb.block_reason_message {
        msg.push_str(": ");
        msg.push_str(m);
    }
    Some(Error::new(ErrorKind::ContentFiltered, msg))
}

/// The chat id for a Gemini response.
pub fn chat_id(response_id: Option<&str>, created: u64) -> String {
    match response_id.filter(|r| !r.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!("chatcmpl-gemini-{created}"),
    }
}

/// Translates a complete `generateContent` response. `model` names the
/// answer when Gemini reports no `modelVersion`.
pub fn from_gemini(
    resp: GenerateContentResponse,
    created: u64,
    model: &str,
) -> Result<ChatResponse, Error> {
    if resp.candidates.is_empty() {
        return Err(blocked(&resp).unwrap_or_else(|| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                "Gemini answered without any candidate",
            )
        }));
    }
    let rid = resp.response_id.as_deref();
    let mut choices = Vec::with_capacity(resp.candidates.len());
    for c in &resp.candidates {
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut calls = Vec::new();
        for p in c.content.iter().flat_map(|c| &c.parts) {
            if let Some(call) = &p.function_call {
                calls.push(ToolCall {
                    id: call_id(
                        call,
                        rid,
                        c.index,
                        calls.len(),
                        p.thought_signature.as_deref(),
                    ),
                    kind: "function".to_owned(),
                    function: OaCall {
                        name: call.name.clone(),
                        arguments: arguments_text(call),
                    },
                });
            } else if let Some(t) = &p.text {
                if p.thought == Some(true) {
                    reasoning.push_str(t);
                } else {
                    text.push_str(t);
                }
            }
        }
        let has_calls = !calls.is_empty();
        choices.push(Choice {
            index: c.index,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: (!text.is_empty() || !has_calls).then_some(text),
                tool_calls: has_calls.then_some(calls),
                refusal: None,
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                extra: Map::new(),
            },
            finish_reason: Some(
                finish_reason(c.finish_reason.as_deref().unwrap_or("STOP"), has_calls).to_owned(),
            ),
            logprobs: None,
        });
    }
    choices.sort_by_key(|c| c.index);
    Ok(ChatResponse {
        id: chat_id(rid, created),
        object: "chat.completion".to_owned(),
        created,
        model: resp
            .model_version
            .clone()
            .unwrap_or_else(|| model.to_owned()),
        choices,
        usage: resp.usage_metadata.map(wire_usage),
        system_fingerprint: None,
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests;
