//! `:generateContent` and `:streamGenerateContent?alt=sse`: request checks
//! as strict as the real API's, the deterministic answer (text, function
//! calls, thoughts, JSON mode), `usageMetadata`, and the SSE framing with
//! faults.

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use serde_json::{Map, Value, json};

use super::bad_request;
use crate::Ctx;
use crate::behavior::Behavior;
use crate::stream::{self, Guard, Script};
use crate::text;

const TOP_LEVEL: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
    "labels",
];

const GENERATION: &[&str] = &[
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "thinkingConfig",
    "responseLogprobs",
    "logprobs",
    "responseModalities",
];

/// JSON-Schema keywords Gemini's `Schema` refuses.
const SCHEMA_REFUSED: &[&str] = &["additionalProperties", "$ref", "$schema", "$defs", "const"];

fn schema_problem(s: &Value) -> Option<String> {
    match s {
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            if SCHEMA_REFUSED.contains(&k.as_str()) {
                Some(format!(
                    "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
                ))
            } else if k == "properties" {
                v.as_object()?.values().find_map(schema_problem)
            } else {
                schema_problem(v)
            }
        }),
        Value::Array(a) => a.iter().find_map(schema_problem),
        _ => None,
    }
}

/// What the real API would refuse with a 400, if anything.
fn problem(body: &Value) -> Option<String> {
    let obj = body.as_object()?;
    if let Some(k) = obj.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Some(format!(
            "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
        ));
    }
    if let Some(gc) = obj.get("generationConfig").and_then(Value::as_object)
        && let Some(k) = gc.keys().find(|k| !GENERATION.contains(&k.as_str()))
    {
        return Some(format!(
            "Invalid JSON payload received. Unknown name \"{k}\" at 'generation_config': Cannot find field."
        ));
    }
    let contents = obj.get("contents").and_then(Value::as_array);
    let Some(contents) = contents.filter(|c| !c.is_empty()) else {
        return Some("* GenerateContentRequest.contents: contents is not specified".to_owned());
    };
    for c in contents {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "model" {
            return Some(format!(
                "Please use a valid role: user, model. Got `{role}`."
            ));
        }
        if c.get("parts")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            return Some(
                "* GenerateContentRequest.contents.parts: contents.parts must not be empty."
                    .to_owned(),
            );
        }
    }
    if let Some(p) = obj.get("tools").and_then(schema_problem) {
        return Some(p);
    }
    obj.get("generationConfig")
        .and_then(|g| g.get("responseSchema"))
        .and_then(schema_problem)
}

fn response_text(p: &Value) -> String {
    match p.pointer("/functionResponse/response") {
        Some(r) => match r.get("content") {
            Some(Value::String(s)) => s.clone(),
            _ => r.to_string(),
        },
        None => String::new(),
    }
}

/// A copy of a Gemini schema with lowercase types, for [`text::tool_args`].
fn lower_types(s: &Value) -> Value {
    match s {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("type", Value::String(t)) => (k.clone(), json!(t.to_ascii_lowercase())),
                    _ => (k.clone(), lower_types(v)),
                })
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// The function calls to make, as `functionCall` parts.
fn calls(body: &Value, b: &Behavior, seq: u64, last_is_result: bool) -> Vec<Value> {
    let decls: Vec<&Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .collect();
    let cfg = body.pointer("/toolConfig/functionCallingConfig");
    let mode = cfg
        .and_then(|c| c.get("mode"))
        .and_then(Value::as_str)
        .unwrap_or("AUTO");
    let allowed: Option<Vec<&str>> = cfg
        .and_then(|c| c.get("allowedFunctionNames"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    if b.no_tools || decls.is_empty() || mode == "NONE" || (last_is_result && mode != "ANY") {
        return Vec::new();
    }
    decls
        .iter()
        .filter(|d| {
            let name = d.get("name").and_then(Value::as_str).unwrap_or("");
            allowed.as_ref().is_none_or(|a| a.contains(&name))
        })
        .take(4)
        .enumerate()
        .map(|(i, d)| {
            let schema = d.get("parameters").map(lower_types);
            let mut part = json!({"functionCall": {"name": d.get("name").cloned().unwrap_or(Value::Null),
                "args": text::tool_args(schema.as_ref())}});
            // Like Gemini 3, only the first call of a turn carries the signature.
            if i == 0 {
                part["thoughtSignature"] = json!(format!("mock-signature-{seq}"));
            }
            part
        })
        .collect()
}

fn prompt_tokens(body: &Value) -> u64 {
    let system = super::parts_text(body.get("systemInstruction"));
    text::tokens(&system)
        + body
            .get("contents")
            .and_then(Value::as_array)
            .map_or(0, |cs| {
                cs.iter()
                    .map(|c| 3 + text::tokens(&super::parts_text(Some(c))))
                    .sum()
            })
}

/// `:generateContent` and `:streamGenerateContent`.
pub fn generate(cx: Ctx, body: &Value, model: &str, streaming: bool) -> Response {
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    if let Some(p) = problem(body) {
        guard.complete();
        return bad_request(p);
    }
    let b = &cx.behavior;
    let contents = body.get("contents").and_then(Value::as_array);
    let last = contents.and_then(|c| c.last());
    let last_parts = last.and_then(|c| c.get("parts")).and_then(Value::as_array);
    let results: Vec<String> = last_parts
        .into_iter()
        .flatten()
        .filter(|p| p.get("functionResponse").is_some())
        .map(response_text)
        .collect();
    let last_user = contents
        .and_then(|cs| {
            cs.iter().rev().find(|c| {
                c.get("role").and_then(Value::as_str).unwrap_or("user") == "user"
                    && !super::parts_text(Some(c)).is_empty()
            })
        })
        .map(|c| super::parts_text(Some(c)))
        .unwrap_or_default();
    let gc = body.get("generationConfig");
    let thinking =
        gc.and_then(|g| g.pointer("/thinkingConfig/includeThoughts")) == Some(&json!(true));
    let calls = calls(body, b, cx.seq, !results.is_empty());
    let mut finish = "STOP";
    let mut parts: Vec<Value> = Vec::new();
    if thinking {
        parts.push(json!({"text": "Mock reasoning.", "thought": true}));
    }
    let mut out_tokens = 0;
    if calls.is_empty() {
        let mut reply = if !results.is_empty() && b.reply.is_none() {
            format!("Tool result received: {}", results.join(" "))
        } else {
            text::reply(&last_user, model, b)
        };
        if gc.and_then(|g| g.get("responseMimeType")) == Some(&json!("application/json")) {
            reply = json!({"reply": reply}).to_string();
        }
        if let Some(max) = gc
            .and_then(|g| g.get("maxOutputTokens"))
            .and_then(Value::as_u64)
        {
            let words: Vec<&str> = reply.split(' ').collect();
            if words.len() as u64 > max {
                reply = words[..usize::try_from(max).unwrap_or(0)].join(" ");
                finish = "MAX_TOKENS";
            }
        }
        out_tokens += text::tokens(&reply);
        parts.push(json!({"text": reply}));
    } else {
        for c in &calls {
            out_tokens += 1 + (c["functionCall"]["args"].to_string().len() as u64).div_ceil(4);
        }
        parts.extend(calls);
    }
    let n = gc
        .and_then(|g| g.get("candidateCount"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8);
    let prompt = prompt_tokens(body);
    let thoughts = if thinking { 2 } else { 0 };
    let mut usage = json!({"promptTokenCount": prompt, "candidatesTokenCount": out_tokens * n,
        "totalTokenCount": prompt + out_tokens * n + thoughts});
    if thinking {
        usage["thoughtsTokenCount"] = json!(thoughts);
    }
    if let Some(c) = b.cached_tokens {
        usage["cachedContentTokenCount"] = json!(c);
    }
    if !b.no_usage {
        cx.state.set_usage(cx.seq, usage.clone());
    }
    let rid = format!("mockresp{}", cx.seq);
    let head = |candidates: Vec<Value>, usage: Option<&Value>| {
        let mut v = json!({"candidates": candidates, "modelVersion": model, "responseId": rid});
        if let Some(u) = usage.filter(|_| !b.no_usage) {
            v["usageMetadata"] = u.clone();
        }
        v
    };
    let candidate = |parts: Vec<Value>, finish: Option<&str>, i: u64| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": i});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        c
    };
    if !streaming {
        guard.complete();
        if b.invalid_json {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"candidates\": [",
            )
                .into_response();
        }
        let cands = (0..n)
            .map(|i| candidate(parts.clone(), Some(finish), i))
            .collect();
        return Json(head(cands, Some(&usage))).into_response();
    }
    let running = json!({"promptTokenCount": prompt, "totalTokenCount": prompt});
    let mut chunks = Vec::new();
    for p in &parts {
        let pieces: Vec<Value> = match p.get("text").and_then(Value::as_str) {
            Some(t) if p.get("thought").is_none() => text::pieces(t)
                .into_iter()
                .map(|piece| json!({"text": piece}))
                .collect(),
            _ => vec![p.clone()],
        };
        for piece in pieces {
            let cands = (0..n)
                .map(|i| candidate(vec![piece.clone()], None, i))
                .collect();
            chunks.push(event(&head(cands, Some(&running))));
        }
    }
    let last_cands = (0..n)
        .map(|i| candidate(vec![json!({"text": ""})], Some(finish), i))
        .collect();
    let script = Script {
        chunks,
        tail: vec![event(&head(last_cands, Some(&usage)))],
        error_frame: event(&json!({"error": {"code": 503,
            "message": b.message.as_deref().unwrap_or("The model is overloaded. Please try again later. (mock)"),
            "status": "UNAVAILABLE"}})),
        malformed_frame: Bytes::from_static(b"data: {\"candidates\": [{\"content\r\n\r\n"),
        content_type: "text/event-stream",
    };
    stream::respond(script, b, guard)
}

/// One SSE event as Google frames it (`\r\n` line ends).
fn event(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\r\n\r\n"))
}
