//! The Anthropic Messages format: `POST /v1/messages`, streamed and not,
//! and `POST /v1/messages/count_tokens`. Requires `anthropic-version` and
//! `max_tokens` as the real API does.

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::Ctx;
use crate::behavior::Behavior;
use crate::stream::{self, Guard, Script};
use crate::text;

/// Anthropic's error body and status for an injected error.
pub fn error(b: &Behavior, status: u16) -> Response {
    let (kind, default_msg) = match status {
        400 => ("invalid_request_error", "Invalid request (mock)."),
        401 => ("authentication_error", "invalid x-api-key (mock)"),
        403 => ("permission_error", "Permission denied (mock)."),
        404 => ("not_found_error", "model not found (mock)"),
        413 => (
            "request_too_large",
            "Request exceeds the maximum size (mock).",
        ),
        429 => (
            "rate_limit_error",
            "Number of requests has exceeded your rate limit (mock).",
        ),
        529 | 503 => ("overloaded_error", "Overloaded (mock)"),
        _ => ("api_error", "Internal server error (mock)"),
    };
    let body = json!({"type": "error", "error": {
        "type": b.code.as_deref().unwrap_or(kind),
        "message": b.message.as_deref().unwrap_or(default_msg),
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

fn bad_request(msg: &str) -> Response {
    error(
        &Behavior {
            message: Some(msg.to_owned()),
            ..Behavior::default()
        },
        400,
    )
}

fn block_text(b: &Value) -> String {
    match b.get("type").and_then(Value::as_str) {
        Some("text") => b
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        Some("tool_result") => match b.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => a.iter().map(block_text).collect::<Vec<_>>().join(" "),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn content_text(c: Option<&Value>) -> String {
    match c {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks.iter().map(block_text).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

fn input_tokens(body: &Value) -> u64 {
    let system = content_text(body.get("system"));
    let msgs = body.get("messages").and_then(Value::as_array);
    text::tokens(&system)
        + msgs.map_or(0, |ms| {
            ms.iter()
                .map(|m| 3 + text::tokens(&content_text(m.get("content"))))
                .sum()
        })
}

/// `POST /v1/messages/count_tokens`.
pub fn count_tokens(body: &Value) -> Response {
    Json(json!({"input_tokens": input_tokens(body)})).into_response()
}

/// The tool uses to make, if tools are offered and wanted.
fn tool_uses(body: &Value, b: &Behavior, seq: u64) -> Vec<Value> {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else {
        return Vec::new();
    };
    let last = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last());
    let last_is_result = last
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .is_some_and(|blocks| {
            blocks
                .iter()
                .any(|x| x.get("type") == Some(&json!("tool_result")))
        });
    let choice = body.get("tool_choice");
    let kind = choice
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("auto");
    if b.no_tools || tools.is_empty() || kind == "none" || (last_is_result && kind != "tool") {
        return Vec::new();
    }
    let named = (kind == "tool")
        .then(|| choice.and_then(|c| c.get("name")).and_then(Value::as_str))
        .flatten();
    let single = choice.and_then(|c| c.get("disable_parallel_tool_use")) == Some(&json!(true));
    let count = if named.is_some() || single {
        1
    } else {
        tools.len().min(4)
    };
    tools
        .iter()
        .filter(|t| named.is_none_or(|n| t.get("name").and_then(Value::as_str) == Some(n)))
        .take(count)
        .enumerate()
        .map(|(i, t)| {
            json!({"type": "tool_use", "id": format!("toolu_mock{seq}_{i}"),
                "name": t.get("name").cloned().unwrap_or(Value::Null),
                "input": text::tool_args(t.get("input_schema"))})
        })
        .collect()
}

/// `POST /v1/messages`.
pub fn messages(cx: Ctx, headers: &HeaderMap, body: &Value) -> Response {
    if !headers.contains_key("anthropic-version") {
        return bad_request("anthropic-version: header is required");
    }
    let Some(max_tokens) = body.get("max_tokens").and_then(Value::as_u64) else {
        return bad_request("max_tokens: Field required");
    };
    if !body.get("messages").is_some_and(Value::is_array) {
        return bad_request("messages: Field required");
    }
    let b = &cx.behavior;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-mock");
    let msgs = body.get("messages").and_then(Value::as_array);
    let last = msgs.and_then(|m| m.last());
    let uses = tool_uses(body, b, cx.seq);
    let mut blocks: Vec<Value> = Vec::new();
    let thinking = body.pointer("/thinking/type").and_then(Value::as_str) == Some("enabled");
    let last_user = msgs
        .and_then(|ms| {
            ms.iter()
                .rev()
                .find(|m| m.get("role") == Some(&json!("user")))
        })
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();
    if thinking {
        blocks.push(json!({"type": "thinking", "thinking": "Mock reasoning.", "signature": format!("mock-signature-{}", cx.seq)}));
    }
    let mut stop = if uses.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    let mut output_tokens;
    if uses.is_empty() {
        let is_result = last
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
            .is_some_and(|bs| {
                bs.iter()
                    .any(|x| x.get("type") == Some(&json!("tool_result")))
            });
        let mut reply = if is_result && b.reply.is_none() {
            format!(
                "Tool result received: {}",
                content_text(last.and_then(|m| m.get("content")))
            )
        } else {
            text::reply(&last_user, model, b)
        };
        let words: Vec<&str> = reply.split(' ').collect();
        if words.len() as u64 > max_tokens {
            reply = words[..usize::try_from(max_tokens).unwrap_or(0)].join(" ");
            stop = "max_tokens";
        }
        output_tokens = text::tokens(&reply);
        blocks.push(json!({"type": "text", "text": reply}));
    } else {
        output_tokens = 0;
        for u in &uses {
            output_tokens += 1 + (u["input"].to_string().len() as u64).div_ceil(4);
        }
        blocks.extend(uses);
    }
    if thinking {
        output_tokens += 2;
    }
    let mut usage = json!({"input_tokens": input_tokens(body), "output_tokens": output_tokens});
    if let Some(n) = b.cached_tokens {
        usage["cache_read_input_tokens"] = json!(n);
        usage["cache_creation_input_tokens"] = json!(0);
    }
    if !b.no_usage {
        cx.state.set_usage(cx.seq, usage.clone());
    }
    let id = format!("msg_mock{}", cx.seq);
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    if body.get("stream") != Some(&json!(true)) {
        guard.complete();
        if b.invalid_json {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"id\": \"msg_bro",
            )
                .into_response();
        }
        let mut resp = json!({"id": id, "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": stop, "stop_sequence": null, "usage": usage});
        if b.no_usage {
            resp["usage"] = json!({"input_tokens": 0, "output_tokens": 0});
        }
        return Json(resp).into_response();
    }
    stream::respond(
        stream_script(&id, model, &blocks, stop, &usage, b),
        b,
        guard,
    )
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn stream_script(
    id: &str,
    model: &str,
    blocks: &[Value],
    stop: &str,
    usage: &Value,
    b: &Behavior,
) -> Script {
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    let mut chunks = vec![
        event(
            "message_start",
            &json!({"type": "message_start", "message": {"id": id, "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": start_usage}}),
        ),
        event("ping", &json!({"type": "ping"})),
    ];
    for (i, block) in blocks.iter().enumerate() {
        let delta = |d: Value| {
            event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": i, "delta": d}),
            )
        };
        match block["type"].as_str() {
            Some("text") => {
                chunks.push(event("content_block_start", &json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})));
                for piece in text::pieces(block["text"].as_str().unwrap_or("")) {
                    chunks.push(delta(json!({"type": "text_delta", "text": piece})));
                }
            }
            Some("tool_use") => {
                chunks.push(event("content_block_start", &json!({"type": "content_block_start", "index": i,
                    "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})));
                let args = block["input"].to_string();
                let mid = (0..=args.len() / 2)
                    .rev()
                    .find(|m| args.is_char_boundary(*m))
                    .unwrap_or(0);
                for part in [&args[..mid], &args[mid..]] {
                    chunks.push(delta(
                        json!({"type": "input_json_delta", "partial_json": part}),
                    ));
                }
            }
            Some("thinking") => {
                chunks.push(event(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": i,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
                ));
                chunks.push(delta(
                    json!({"type": "thinking_delta", "thinking": block["thinking"]}),
                ));
                chunks.push(delta(
                    json!({"type": "signature_delta", "signature": block["signature"]}),
                ));
            }
            _ => continue,
        }
        chunks.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": i}),
        ));
    }
    let mut delta_usage = json!({"output_tokens": usage["output_tokens"]});
    if b.no_usage {
        delta_usage = json!({"output_tokens": 0});
    }
    let tail = vec![
        event(
            "message_delta",
            &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": delta_usage}),
        ),
        event("message_stop", &json!({"type": "message_stop"})),
    ];
    Script {
        chunks,
        tail,
        error_frame: event(
            "error",
            &json!({"type": "error", "error": {"type": "overloaded_error",
            "message": b.message.as_deref().unwrap_or("Overloaded (mock)")}}),
        ),
        malformed_frame: Bytes::from_static(
            b"event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"ind\n\n",
        ),
        content_type: "text/event-stream; charset=utf-8",
    }
}
