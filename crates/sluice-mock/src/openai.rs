//! The OpenAI wire format: Chat Completions (streamed and not), Embeddings
//! and Models, at any path ending in `/chat/completions`, `/embeddings` or
//! `/models`, which covers OpenAI, the OpenAI-compatible family and Azure's
//! `/openai/deployments/{deployment}/...` paths.

use axum::Json;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::Ctx;
use crate::behavior::Behavior;
use crate::stream::{self, Guard, Script};
use crate::text;

/// The OpenAI error body and status for an injected error.
pub fn error(b: &Behavior, status: u16) -> Response {
    let (kind, code, default_msg) = match status {
        400 => ("invalid_request_error", None, "Invalid request (mock)."),
        401 => (
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided (mock).",
        ),
        404 => (
            "invalid_request_error",
            Some("model_not_found"),
            "The model does not exist (mock).",
        ),
        429 => (
            "requests",
            Some("rate_limit_exceeded"),
            "Rate limit reached (mock).",
        ),
        503 => ("server_error", None, "The server is overloaded (mock)."),
        _ => (
            "server_error",
            None,
            "The server had an error while processing your request (mock).",
        ),
    };
    let body = json!({"error": {
        "message": b.message.as_deref().unwrap_or(default_msg),
        "type": kind,
        "param": null,
        "code": b.code.as_deref().or(code),
    }});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(body)).into_response();
    if let Some(s) = b.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn message_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The last user message's text.
pub fn last_user_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|ms| {
            ms.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .map(message_text)
        .unwrap_or_default()
}

fn prompt_tokens(body: &Value) -> u64 {
    let msgs = body.get("messages").and_then(Value::as_array);
    msgs.map_or(0, |ms| {
        ms.iter().map(|m| 3 + text::tokens(&message_text(m))).sum()
    })
}

/// The tool calls to make, if the request offers tools and wants them used.
fn tool_calls(body: &Value, b: &Behavior) -> Vec<(String, String)> {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else {
        return Vec::new();
    };
    let last_role = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str);
    let choice = body.get("tool_choice");
    if b.no_tools || tools.is_empty() || last_role == Some("tool") || choice == Some(&json!("none"))
    {
        return Vec::new();
    }
    let named = choice
        .and_then(|c| c.get("function"))
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str);
    let parallel = body.get("parallel_tool_calls") != Some(&json!(false));
    let count = if named.is_some() || !parallel {
        1
    } else {
        tools.len().min(4)
    };
    tools
        .iter()
        .filter(|t| {
            named.is_none_or(|n| t.pointer("/function/name").and_then(Value::as_str) == Some(n))
        })
        .take(count)
        .filter_map(|t| {
            let f = t.get("function")?;
            let name = f.get("name")?.as_str()?.to_owned();
            Some((name, text::tool_args(f.get("parameters")).to_string()))
        })
        .collect()
}

/// The reply text: JSON when JSON mode is on, an echo of a tool result when
/// the last message is one, else the deterministic reply.
fn reply_text(body: &Value, model: &str, b: &Behavior) -> String {
    let msgs = body.get("messages").and_then(Value::as_array);
    let last = msgs.and_then(|m| m.last());
    let base = match last {
        Some(m) if m.get("role").and_then(Value::as_str) == Some("tool") && b.reply.is_none() => {
            format!("Tool result received: {}", message_text(m))
        }
        _ => text::reply(&last_user_text(body), model, b),
    };
    let json_mode = body
        .pointer("/response_format/type")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "json_object" || t == "json_schema");
    if json_mode {
        json!({"reply": base}).to_string()
    } else {
        base
    }
}

/// `POST .../chat/completions`.
pub fn chat(cx: Ctx, body: &Value, model: &str) -> Response {
    let b = &cx.behavior;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let calls = tool_calls(body, b);
    let text = if calls.is_empty() {
        reply_text(body, model, b)
    } else {
        String::new()
    };
    let completion_tokens = if calls.is_empty() {
        text::tokens(&text)
    } else {
        calls
            .iter()
            .map(|(n, a)| 1 + text::tokens(n) + (a.len() as u64).div_ceil(4))
            .sum()
    };
    let usage = json!({
        "prompt_tokens": prompt_tokens(body),
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens(body) + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": b.cached_tokens.unwrap_or(0)},
        "completion_tokens_details": {"reasoning_tokens": 0},
    });
    if !b.no_usage {
        cx.state.set_usage(cx.seq, usage.clone());
    }
    let id = format!("chatcmpl-mock{}", cx.seq);
    let created = 1_700_000_000 + cx.seq;
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    let guard = Guard::new(cx.state.clone(), cx.seq);
    if !stream {
        return complete(b, guard, &id, created, model, &text, &calls, finish, &usage);
    }
    let base = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    };
    let mut chunks = Vec::new();
    if calls.is_empty() {
        chunks.push(base(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ));
        for piece in text::pieces(&text) {
            chunks.push(base(json!({"content": piece}), Value::Null));
        }
    } else {
        chunks.push(base(
            json!({"role": "assistant", "content": null, "refusal": null}),
            Value::Null,
        ));
        for (i, (name, args)) in calls.iter().enumerate() {
            chunks.push(base(
                json!({"tool_calls": [{"index": i, "id": format!("call_mock{}_{i}", cx.seq), "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            let mid = args.len() / 2;
            let split = (0..=mid)
                .rev()
                .find(|i| args.is_char_boundary(*i))
                .unwrap_or(0);
            for part in [&args[..split], &args[split..]] {
                chunks.push(base(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": part}}]}),
                    Value::Null,
                ));
            }
        }
    }
    chunks.push(base(json!({}), json!(finish)));
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut chunks: Vec<Value> = chunks;
    if include_usage {
        for c in &mut chunks {
            c["usage"] = Value::Null;
        }
    }
    let mut tail = Vec::new();
    if include_usage && !b.no_usage {
        tail.push(stream::data(
            &json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_mock", "choices": [], "usage": usage})
            .to_string(),
        ));
    }
    tail.push(stream::data("[DONE]"));
    let script = Script {
        chunks: chunks.iter().map(|c| stream::data(&c.to_string())).collect(),
        tail,
        error_frame: stream::data(
            &json!({"error": {"message": b.message.as_deref().unwrap_or("The server had an error while streaming (mock)."),
                "type": "server_error", "param": null, "code": null}})
            .to_string(),
        ),
        malformed_frame: stream::data("{\"id\": \"broken"),
        content_type: "text/event-stream; charset=utf-8",
    };
    stream::respond(script, b, guard)
}

#[expect(clippy::too_many_arguments, reason = "one response, many parts")]
fn complete(
    b: &Behavior,
    mut guard: Guard,
    id: &str,
    created: u64,
    model: &str,
    text: &str,
    calls: &[(String, String)],
    finish: &str,
    usage: &Value,
) -> Response {
    guard.complete();
    if b.invalid_json {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"id\": \"chatcmpl-bro",
        )
            .into_response();
    }
    let message = if calls.is_empty() {
        json!({"role": "assistant", "content": text, "refusal": null})
    } else {
        let tc: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| {
                json!({"id": format!("call_mock{}_{i}", created - 1_700_000_000), "type": "function",
                    "function": {"name": name, "arguments": args}})
            })
            .collect();
        json!({"role": "assistant", "content": null, "tool_calls": tc, "refusal": null})
    };
    let mut body = json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
    });
    if !b.no_usage {
        body["usage"] = usage.clone();
    }
    Json(body).into_response()
}

/// `POST .../embeddings`.
pub fn embeddings(cx: Ctx, body: &Value, model: &str) -> Response {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        _ => {
            let b = Behavior {
                message: Some("'input' is required".into()),
                ..Behavior::default()
            };
            return error(&b, 400);
        }
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(64, |d| usize::try_from(d).unwrap_or(64));
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = text::embedding(t, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|t| text::tokens(t)).sum();
    let usage = json!({"prompt_tokens": tokens, "total_tokens": tokens});
    cx.state.set_usage(cx.seq, usage.clone());
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    guard.complete();
    Json(json!({"object": "list", "data": data, "model": model, "usage": usage})).into_response()
}

/// `GET .../models`.
pub fn models() -> Response {
    let data: Vec<Value> = ["mock-gpt", "mock-gpt-mini", "mock-embed"]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "sluice-mock"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}
