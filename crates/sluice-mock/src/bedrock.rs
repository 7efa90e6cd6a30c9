//! The AWS Bedrock Runtime format: `POST /model/{modelId}/converse`,
//! `/converse-stream` (binary event-stream framing, exceptions as frames
//! inside the 200) and `/invoke` for Titan text embeddings. Errors carry
//! `x-amzn-ErrorType` and `{"message": ...}`. Validates what the real
//! service validates that a gateway could get wrong: alternating roles
//! starting with a user turn, tool blocks only with a `toolConfig`, image
//! formats.

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use sluice_protocol::eventstream::{self, encode};

use crate::Ctx;
use crate::behavior::Behavior;
use crate::stream::{self, Guard, Script};
use crate::text;

/// The error type Bedrock uses for `status`.
fn error_type(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("ValidationException", "Malformed input request (mock)."),
        401 | 403 => (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID (mock).",
        ),
        404 => (
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier (mock).",
        ),
        408 => (
            "ModelTimeoutException",
            "Model has timed out in processing the request (mock).",
        ),
        424 => ("ModelErrorException", "The model failed (mock)."),
        429 => (
            "ThrottlingException",
            "Too many requests, please wait before trying again (mock).",
        ),
        503 | 529 => (
            "ServiceUnavailableException",
            "Bedrock is unable to process your request (mock).",
        ),
        _ => ("InternalServerException", "Internal server error (mock)."),
    }
}

/// An error answer of `kind` with `message`.
pub fn typed_error(status: u16, kind: &str, message: &str, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(json!({ "message": message }))).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    )) {
        h.insert("x-amzn-errortype", v);
    }
    h.insert(
        "x-amzn-requestid",
        HeaderValue::from_static("00000000-mock-0000-0000-000000000000"),
    );
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        h.insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Bedrock's error answer for an injected error.
pub fn error(b: &Behavior, status: u16) -> Response {
    let (kind, default_msg) = error_type(status);
    typed_error(
        status,
        b.code.as_deref().unwrap_or(kind),
        b.message.as_deref().unwrap_or(default_msg),
        b.retry_after,
    )
}

fn invalid(msg: &str) -> Response {
    typed_error(400, "ValidationException", msg, None)
}

fn block_text(b: &Value) -> String {
    if let Some(t) = b.get("text").and_then(Value::as_str) {
        return t.to_owned();
    }
    if let Some(r) = b.get("toolResult") {
        return r
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| match (c.get("text"), c.get("json")) {
                (Some(Value::String(t)), _) => t.clone(),
                (_, Some(j)) => j.to_string(),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    String::new()
}

fn content_text(m: Option<&Value>) -> String {
    m.and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .map(|bs| {
            bs.iter()
                .map(block_text)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn has_block(m: &Value, kind: &str) -> bool {
    m.get("content")
        .and_then(Value::as_array)
        .is_some_and(|bs| bs.iter().any(|b| b.get(kind).is_some()))
}

/// What the real service refuses; `None` when the request is acceptable.
fn validate(body: &Value) -> Option<&'static str> {
    let Some(msgs) = body.get("messages").and_then(Value::as_array) else {
        return Some("The messages field is required.");
    };
    if msgs.first().and_then(|m| m.get("role")) != Some(&json!("user")) {
        return Some(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
        );
    }
    if msgs
        .windows(2)
        .any(|w| w[0].get("role") == w[1].get("role"))
    {
        return Some(
            "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.",
        );
    }
    let tools_used = msgs
        .iter()
        .any(|m| has_block(m, "toolUse") || has_block(m, "toolResult"));
    if tools_used && body.get("toolConfig").is_none() {
        return Some(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        );
    }
    let images = msgs
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter_map(|b| b.get("image"));
    for img in images {
        let format_ok = matches!(
            img.get("format").and_then(Value::as_str),
            Some("png" | "jpeg" | "gif" | "webp")
        );
        if !format_ok
            || img
                .pointer("/source/bytes")
                .and_then(Value::as_str)
                .is_none()
        {
            return Some("The provided image is not valid.");
        }
    }
    None
}

/// The tool uses to make, if tools are offered and wanted.
fn tool_uses(body: &Value, b: &Behavior, seq: u64) -> Vec<Value> {
    let specs: Vec<&Value> = body
        .pointer("/toolConfig/tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("toolSpec"))
        .collect();
    let last_is_result = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .is_some_and(|m| has_block(m, "toolResult"));
    let named = body
        .pointer("/toolConfig/toolChoice/tool/name")
        .and_then(Value::as_str);
    if b.no_tools || specs.is_empty() || (last_is_result && named.is_none()) {
        return Vec::new();
    }
    let count = if named.is_some() {
        1
    } else {
        specs.len().min(4)
    };
    specs
        .iter()
        .filter(|t| named.is_none_or(|n| t.get("name").and_then(Value::as_str) == Some(n)))
        .take(count)
        .enumerate()
        .map(|(i, t)| {
            json!({"toolUse": {"toolUseId": format!("tooluse_mock{seq}_{i}"),
                "name": t.get("name").cloned().unwrap_or(Value::Null),
                "input": text::tool_args(t.pointer("/inputSchema/json"))}})
        })
        .collect()
}

fn input_tokens(body: &Value) -> u64 {
    let system: String = body
        .get("system")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(block_text)
        .collect::<Vec<_>>()
        .join(" ");
    let msgs = body.get("messages").and_then(Value::as_array);
    text::tokens(&system)
        + msgs.map_or(0, |ms| {
            ms.iter()
                .map(|m| 3 + text::tokens(&content_text(Some(m))))
                .sum()
        })
}

/// `POST /model/{model}/converse` and `/converse-stream`.
pub fn converse(cx: Ctx, body: &Value, model: &str, streaming: bool) -> Response {
    if let Some(msg) = validate(body) {
        return invalid(msg);
    }
    let b = &cx.behavior;
    let msgs = body.get("messages").and_then(Value::as_array);
    let last = msgs.and_then(|m| m.last());
    let uses = tool_uses(body, b, cx.seq);
    let mut blocks: Vec<Value> = Vec::new();
    let thinking = body
        .pointer("/additionalModelRequestFields/thinking/type")
        .and_then(Value::as_str)
        == Some("enabled");
    if thinking {
        blocks.push(
            json!({"reasoningContent": {"reasoningText": {"text": "Mock reasoning.",
            "signature": format!("mock-signature-{}", cx.seq)}}}),
        );
    }
    let mut stop = if uses.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    let mut output_tokens;
    if uses.is_empty() {
        let is_result = last.is_some_and(|m| has_block(m, "toolResult"));
        let mut reply = if is_result && b.reply.is_none() {
            format!("Tool result received: {}", content_text(last))
        } else {
            let last_user = msgs
                .and_then(|ms| {
                    ms.iter()
                        .rev()
                        .find(|m| m.get("role") == Some(&json!("user")))
                })
                .map(|m| content_text(Some(m)))
                .unwrap_or_default();
            text::reply(&last_user, model, b)
        };
        let max_tokens = body
            .pointer("/inferenceConfig/maxTokens")
            .and_then(Value::as_u64);
        let words: Vec<&str> = reply.split(' ').collect();
        if let Some(max) = max_tokens
            && words.len() as u64 > max
        {
            reply = words[..usize::try_from(max).unwrap_or(0)].join(" ");
            stop = "max_tokens";
        }
        output_tokens = text::tokens(&reply);
        blocks.push(json!({ "text": reply }));
    } else {
        output_tokens = 0;
        for u in &uses {
            output_tokens += 1 + (u["toolUse"]["input"].to_string().len() as u64).div_ceil(4);
        }
        blocks.extend(uses);
    }
    if thinking {
        output_tokens += 2;
    }
    let input = input_tokens(body);
    let cached = b.cached_tokens.unwrap_or(0);
    let mut usage = json!({"inputTokens": input, "outputTokens": output_tokens,
        "totalTokens": input + output_tokens + cached});
    if let Some(n) = b.cached_tokens {
        usage["cacheReadInputTokens"] = json!(n);
        usage["cacheWriteInputTokens"] = json!(0);
    }
    if !b.no_usage {
        cx.state.set_usage(cx.seq, usage.clone());
    }
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    let request_id = format!("mock-{:08}-0000-0000-0000-000000000000", cx.seq);
    let mut resp = if streaming {
        stream::respond(stream_script(&blocks, stop, &usage, b), b, guard)
    } else {
        guard.complete();
        if b.invalid_json {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"output\": {\"mess",
            )
                .into_response();
        }
        let mut out = json!({"output": {"message": {"role": "assistant", "content": blocks}},
            "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 1}});
        if b.no_usage
            && let Some(o) = out.as_object_mut()
        {
            o.remove("usage");
        }
        Json(out).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// Padding AWS adds to event payloads (so their sizes leak nothing).
fn padded(mut payload: Value, n: usize) -> Vec<u8> {
    const P: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    payload["p"] = json!(&P[..(n * 7) % P.len()]);
    serde_json::to_vec(&payload).unwrap_or_default()
}

fn frame(event_type: &str, payload: Value, n: usize) -> Bytes {
    encode(&eventstream::event(event_type, &padded(payload, n)))
}

fn stream_script(blocks: &[Value], stop: &str, usage: &Value, b: &Behavior) -> Script {
    let mut chunks = vec![frame("messageStart", json!({"role": "assistant"}), 0)];
    for (i, block) in blocks.iter().enumerate() {
        let n = chunks.len();
        let delta = |d: Value, k: usize| {
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": i, "delta": d}),
                n + k,
            )
        };
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            for (k, piece) in text::pieces(t).into_iter().enumerate() {
                chunks.push(delta(json!({ "text": piece }), k));
            }
        } else if let Some(u) = block.get("toolUse") {
            chunks.push(frame(
                "contentBlockStart",
                json!({"contentBlockIndex": i, "start": {"toolUse": {
                    "toolUseId": u["toolUseId"], "name": u["name"]}}}),
                n,
            ));
            let args = u["input"].to_string();
            let mid = (0..=args.len() / 2)
                .rev()
                .find(|m| args.is_char_boundary(*m))
                .unwrap_or(0);
            for (k, part) in [&args[..mid], &args[mid..]].into_iter().enumerate() {
                chunks.push(delta(json!({"toolUse": {"input": part}}), k + 1));
            }
        } else if let Some(r) = block.pointer("/reasoningContent/reasoningText") {
            chunks.push(delta(json!({"reasoningContent": {"text": r["text"]}}), 1));
            chunks.push(delta(
                json!({"reasoningContent": {"signature": r["signature"]}}),
                2,
            ));
        } else {
            continue;
        }
        chunks.push(frame(
            "contentBlockStop",
            json!({ "contentBlockIndex": i }),
            n + 3,
        ));
    }
    let mut metadata = json!({"metrics": {"latencyMs": 1}});
    if !b.no_usage {
        metadata["usage"] = usage.clone();
    }
    let tail = vec![
        frame("messageStop", json!({ "stopReason": stop }), 1),
        frame("metadata", metadata, 2),
    ];
    let exception = b.code.as_deref().unwrap_or("modelStreamErrorException");
    let message = b
        .message
        .as_deref()
        .unwrap_or("The model stream failed (mock).");
    let error_frame = encode(&eventstream::exception(
        exception,
        &serde_json::to_vec(&json!({ "message": message })).unwrap_or_default(),
    ));
    // A well-formed frame whose message checksum is wrong.
    let mut malformed = frame(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
        0,
    )
    .to_vec();
    if let Some(last) = malformed.last_mut() {
        *last ^= 0xff;
    }
    Script {
        chunks,
        tail,
        error_frame,
        malformed_frame: Bytes::from(malformed),
        content_type: "application/vnd.amazon.eventstream",
    }
}

/// `POST /model/{model}/invoke` for Titan text embeddings.
pub fn invoke(cx: Ctx, body: &Value, model: &str) -> Response {
    if !model.starts_with("amazon.titan-embed") {
        return invalid("The mock serves InvokeModel for Titan text embeddings only.");
    }
    let Some(input) = body.get("inputText").and_then(Value::as_str) else {
        return invalid("Malformed input request: #: required key [inputText] not found");
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(1024, |d| usize::try_from(d).unwrap_or(1024));
    let tokens = text::tokens(input);
    cx.state
        .set_usage(cx.seq, json!({ "inputTextTokenCount": tokens }));
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    guard.complete();
    Json(json!({"embedding": text::embedding(input, dims), "inputTextTokenCount": tokens}))
        .into_response()
}
