//! The Cohere v2 format: `POST /v2/chat` (streamed with named SSE events,
//! and not), plus `/v2/embed` and `/v2/rerank` ([`embed`]). Error bodies are
//! Cohere's `{"id", "message"}`. Like the real API it refuses a request
//! without `model`, a system turn that is not first, a tool result for an
//! unknown tool call, and (stricter than Cohere, to catch translation leaks)
//! any top-level field the v2 API does not define.

mod embed;

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

pub use embed::{embed, rerank};

use crate::Ctx;
use crate::behavior::Behavior;
use crate::stream::{self, Guard, Script};
use crate::text;

/// Top-level fields of a v2 chat request.
const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "strict_tools",
    "documents",
    "citation_options",
    "response_format",
    "safety_mode",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "k",
    "p",
    "logprobs",
    "tool_choice",
    "thinking",
    "priority",
    "stream",
];

/// Cohere's error body and status for an injected error.
pub fn error(b: &Behavior, status: u16) -> Response {
    let default_msg = match status {
        400 => "invalid request: bad request (mock)",
        401 => "invalid api token (mock)",
        402 => "Please add or update your payment method to continue (mock)",
        404 => "model not found, make sure the correct model ID was used (mock)",
        422 => "invalid request: unprocessable (mock)",
        429 => "You are past the per minute request limit, please wait and try again later. (mock)",
        499 => "request cancelled (mock)",
        503 => "service unavailable (mock)",
        _ => "internal server error (mock)",
    };
    let body = json!({"id": "mock-error", "message": b.message.as_deref().unwrap_or(default_msg)});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(body)).into_response();
    if let Some(s) = b.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// A 400 with `msg`.
pub fn bad_request(msg: &str) -> Response {
    let b = Behavior {
        message: Some(msg.to_owned()),
        ..Behavior::default()
    };
    error(&b, 400)
}

/// Text of a v2 content value: a string, or the text of its blocks
/// (`text` blocks, and the `data` of `document` blocks).
fn content_text(c: Option<&Value>) -> String {
    match c {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b.get("text").and_then(Value::as_str).map(str::to_owned),
                Some("document") => b.pointer("/document/data").map(|d| match d {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn role(m: &Value) -> Option<&str> {
    m.get("role").and_then(Value::as_str)
}

/// Checks the request the way Cohere does; the message of the 400 if not.
fn validate(body: &Value) -> Result<&Vec<Value>, String> {
    let Some(obj) = body.as_object() else {
        return Err("invalid json syntax: the body must be a JSON object".to_owned());
    };
    if let Some(k) = obj.keys().find(|k| !CHAT_FIELDS.contains(&k.as_str())) {
        return Err(format!("invalid request: unknown field `{k}` (mock)"));
    }
    if !obj.get("model").is_some_and(Value::is_string) {
        return Err("a model parameter is required for this endpoint.".to_owned());
    }
    let Some(msgs) = obj.get("messages").and_then(Value::as_array) else {
        return Err("invalid request: messages must be a list".to_owned());
    };
    let mut call_ids: Vec<&str> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        match role(m) {
            Some("system") if i > 0 => {
                return Err("system turn must be the first in the list".into());
            }
            Some("system" | "user") => {}
            Some("assistant") => call_ids.extend(
                m.get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("id").and_then(Value::as_str)),
            ),
            Some("tool") => match m.get("tool_call_id").and_then(Value::as_str) {
                None => return Err("tool call id must be provided with tool message".into()),
                Some(id) if !call_ids.contains(&id) => {
                    return Err("tool call id not found in previous tool calls".into());
                }
                Some(_) => {}
            },
            other => return Err(format!("invalid request: invalid role {other:?} (mock)")),
        }
    }
    Ok(msgs)
}

/// The tool calls to make: `(id, name, arguments)`.
fn tool_calls(
    body: &Value,
    msgs: &[Value],
    b: &Behavior,
    seq: u64,
) -> Vec<(String, String, String)> {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else {
        return Vec::new();
    };
    let last_is_result = msgs.last().and_then(role) == Some("tool");
    let choice = body.get("tool_choice").and_then(Value::as_str);
    if b.no_tools || tools.is_empty() || choice == Some("NONE") || last_is_result {
        return Vec::new();
    }
    tools
        .iter()
        .take(4)
        .enumerate()
        .filter_map(|(i, t)| {
            let f = t.get("function")?;
            let name = f.get("name")?.as_str()?.to_owned();
            let args = text::tool_args(f.get("parameters")).to_string();
            Some((format!("{name}_mock{seq}x{i}"), name, args))
        })
        .collect()
}

/// What the mock answers to one chat request.
struct Answer {
    text: String,
    plan: String,
    calls: Vec<(String, String, String)>,
    citations: Vec<Value>,
    finish: &'static str,
    usage: Value,
}

fn answer(body: &Value, msgs: &[Value], b: &Behavior, seq: u64) -> Answer {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("command-mock");
    let prompt: u64 = msgs
        .iter()
        .map(|m| 3 + text::tokens(&content_text(m.get("content"))))
        .sum();
    let calls = tool_calls(body, msgs, b, seq);
    let mut finish = "COMPLETE";
    let mut citations = Vec::new();
    let (mut text, plan, output) = if calls.is_empty() {
        let results: Vec<String> = msgs
            .iter()
            .rev()
            .take_while(|m| role(m) == Some("tool"))
            .map(|m| content_text(m.get("content")))
            .collect();
        let last_user = msgs
            .iter()
            .rev()
            .find(|m| role(m) == Some("user"))
            .map(|m| content_text(m.get("content")))
            .unwrap_or_default();
        let base = if !results.is_empty() && b.reply.is_none() {
            let mut results = results;
            results.reverse();
            format!("Tool result received: {}", results.join(" "))
        } else {
            text::reply(&last_user, model, b)
        };
        let reply = match body.get("response_format") {
            Some(f) if f.get("type") == Some(&json!("json_object")) => match f.get("json_schema") {
                Some(schema) => text::tool_args(Some(schema)).to_string(),
                None => json!({"reply": base}).to_string(),
            },
            _ => base,
        };
        (reply, String::new(), 0)
    } else {
        let names: Vec<&str> = calls.iter().map(|c| c.1.as_str()).collect();
        let plan = format!("I will call {}.", names.join(" and "));
        let out = text::tokens(&plan)
            + calls
                .iter()
                .map(|c| 1 + (c.2.len() as u64).div_ceil(4))
                .sum::<u64>();
        (String::new(), plan, out)
    };
    if calls.is_empty() {
        for stop in body
            .get("stop_sequences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(at) = stop
                .as_str()
                .filter(|s| !s.is_empty())
                .and_then(|s| text.find(s))
            {
                text.truncate(at);
                finish = "STOP_SEQUENCE";
            }
        }
        if let Some(max) = body.get("max_tokens").and_then(Value::as_u64) {
            let words: Vec<&str> = text.split(' ').collect();
            if words.len() as u64 > max {
                text = words[..usize::try_from(max).unwrap_or(0)].join(" ");
                finish = "MAX_TOKENS";
            }
        }
        // With documents, the reply cites the first one for its last word.
        if let Some(doc) = body
            .get("documents")
            .and_then(Value::as_array)
            .and_then(|d| d.first())
            && let Some(start) = text.rfind(' ').map(|i| i + 1)
        {
            let cited = &text[start..];
            let id = doc.get("id").and_then(Value::as_str).unwrap_or("doc:0");
            let document = match doc {
                Value::String(s) => json!({"id": id, "snippet": s}),
                other => other.get("data").cloned().unwrap_or_else(|| other.clone()),
            };
            citations.push(json!({"start": text[..start].chars().count(),
                "end": text.chars().count(), "text": cited, "type": "TEXT_CONTENT",
                "sources": [{"type": "document", "id": id, "document": document}]}));
        }
    } else {
        finish = "TOOL_CALL";
    }
    let output = if calls.is_empty() {
        text::tokens(&text)
    } else {
        output
    };
    let usage = json!({
        "billed_units": {"input_tokens": prompt, "output_tokens": output},
        "tokens": {"input_tokens": prompt + 7, "output_tokens": output},
    });
    Answer {
        text,
        plan,
        calls,
        citations,
        finish,
        usage,
    }
}

/// `POST /v2/chat`.
pub fn chat(cx: Ctx, body: &Value) -> Response {
    let msgs = match validate(body) {
        Ok(m) => m,
        Err(msg) => return bad_request(&msg),
    };
    let b = &cx.behavior;
    let a = answer(body, msgs, b, cx.seq);
    if !b.no_usage {
        cx.state.set_usage(cx.seq, a.usage.clone());
    }
    let id = format!("c0e8mock-{:04}-4bb8-ae1f-a174e8b02ae8", cx.seq);
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    if body.get("stream") != Some(&json!(true)) {
        guard.complete();
        if b.invalid_json {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"id\": \"c0e",
            )
                .into_response();
        }
        let mut message = json!({"role": "assistant"});
        if a.calls.is_empty() {
            message["content"] = json!([{"type": "text", "text": a.text}]);
        } else {
            message["tool_plan"] = json!(a.plan);
            message["tool_calls"] = a
                .calls
                .iter()
                .map(|(id, name, args)| {
                    json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
                })
                .collect();
        }
        if !a.citations.is_empty() {
            message["citations"] = json!(a.citations);
        }
        let mut resp = json!({"id": id, "message": message, "finish_reason": a.finish});
        if !b.no_usage {
            resp["usage"] = a.usage.clone();
        }
        return Json(resp).into_response();
    }
    stream::respond(stream_script(&id, &a, b), b, guard)
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn stream_script(id: &str, a: &Answer, b: &Behavior) -> Script {
    let mut chunks = vec![event(
        "message-start",
        &json!({"id": id, "type": "message-start", "delta": {"message": {"role": "assistant",
            "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
    )];
    if a.calls.is_empty() {
        chunks.push(event(
            "content-start",
            &json!({"type": "content-start", "index": 0,
            "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        ));
        for piece in text::pieces(&a.text) {
            chunks.push(event(
                "content-delta",
                &json!({"type": "content-delta", "index": 0,
                "delta": {"message": {"content": {"text": piece}}}}),
            ));
        }
        for (i, c) in a.citations.iter().enumerate() {
            chunks.push(event(
                "citation-start",
                &json!({"type": "citation-start", "index": i,
                "delta": {"message": {"citations": c}}}),
            ));
            chunks.push(event(
                "citation-end",
                &json!({"type": "citation-end", "index": i}),
            ));
        }
        chunks.push(event(
            "content-end",
            &json!({"type": "content-end", "index": 0}),
        ));
    } else {
        for piece in text::pieces(&a.plan) {
            chunks.push(event(
                "tool-plan-delta",
                &json!({"type": "tool-plan-delta",
                "delta": {"message": {"tool_plan": piece}}}),
            ));
        }
        for (i, (call_id, name, args)) in a.calls.iter().enumerate() {
            chunks.push(event(
                "tool-call-start",
                &json!({"type": "tool-call-start", "index": i,
                "delta": {"message": {"tool_calls": {"id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""}}}}}),
            ));
            let mid = (0..=args.len() / 2)
                .rev()
                .find(|m| args.is_char_boundary(*m))
                .unwrap_or(0);
            for part in [&args[..mid], &args[mid..]] {
                chunks.push(event(
                    "tool-call-delta",
                    &json!({"type": "tool-call-delta", "index": i,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": part}}}}}),
                ));
            }
            chunks.push(event(
                "tool-call-end",
                &json!({"type": "tool-call-end", "index": i}),
            ));
        }
    }
    let mut end = json!({"type": "message-end", "delta": {"finish_reason": a.finish}});
    if !b.no_usage {
        end["delta"]["usage"] = a.usage.clone();
    }
    Script {
        chunks,
        tail: vec![event("message-end", &end)],
        error_frame: event(
            "message-end",
            &json!({"type": "message-end", "delta": {"finish_reason": "ERROR",
                "error": b.message.as_deref().unwrap_or("internal error during generation (mock)")}}),
        ),
        malformed_frame: Bytes::from_static(
            b"event: content-delta\ndata: {\"type\":\"content-delta\",\"ind\n\n",
        ),
        content_type: "text/event-stream",
    }
}
