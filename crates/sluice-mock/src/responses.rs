//! The OpenAI Responses API at any path ending in `/responses`: OpenAI's
//! `POST /v1/responses`, Azure's `/openai/v1/responses` and
//! `/openai/responses?api-version=...`. Streamed (semantic events with
//! sequence numbers) and not; function tools are called like the chat mock
//! does. Response ids are `resp_mock{n}`; a `previous_response_id` must be
//! one the mock issued, else it answers 404 as OpenAI does.

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::behavior::Behavior;
use crate::openai::error;
use crate::stream::{self, Guard, Script};
use crate::{Ctx, text};

fn part_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The last user text and whether the input ends with a tool result.
fn last_input(body: &Value) -> (String, bool) {
    match body.get("input") {
        Some(Value::String(s)) => (s.clone(), false),
        Some(Value::Array(items)) => {
            let user = items
                .iter()
                .rev()
                .find(|i| i.get("role").and_then(Value::as_str) == Some("user"))
                .and_then(|i| i.get("content"))
                .map(part_text)
                .unwrap_or_default();
            let result = items.last().is_some_and(|i| {
                i.get("type").and_then(Value::as_str) == Some("function_call_output")
            });
            (user, result)
        }
        _ => (String::new(), false),
    }
}

fn issued(id: &str, seq: u64) -> bool {
    id.strip_prefix("resp_mock")
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n < seq)
}

/// `POST .../responses`.
pub fn create(cx: Ctx, body: &Value, model: &str) -> Response {
    let b = &cx.behavior;
    if let Some(prev) = body.get("previous_response_id").and_then(Value::as_str)
        && !issued(prev, cx.seq)
    {
        let nf = Behavior {
            message: Some(format!("Previous response with id '{prev}' not found.")),
            ..Behavior::default()
        };
        return error(&nf, 404);
    }
    let (user, after_result) = last_input(body);
    let tools: Vec<&Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter(|t| t["type"] == "function").collect())
        .unwrap_or_default();
    let wants_tools = !tools.is_empty()
        && !after_result
        && !b.no_tools
        && body.get("tool_choice") != Some(&json!("none"));
    let id = format!("resp_mock{}", cx.seq);
    let mut output = Vec::new();
    let mut output_tokens = 0;
    if wants_tools {
        let n = if body.get("parallel_tool_calls") == Some(&json!(false)) {
            1
        } else {
            tools.len().min(4)
        };
        for (i, t) in tools.iter().take(n).enumerate() {
            let args = text::tool_args(t.get("parameters")).to_string();
            output_tokens += 1 + (args.len() as u64).div_ceil(4);
            output.push(
                json!({"type": "function_call", "id": format!("fc_mock{}_{i}", cx.seq),
                "call_id": format!("call_mock{}_{i}", cx.seq), "name": t["name"], "arguments": args,
                "status": "completed"}),
            );
        }
    } else {
        let reply = if after_result && b.reply.is_none() {
            "Tool result received.".to_owned()
        } else {
            text::reply(&user, model, b)
        };
        output_tokens = text::tokens(&reply);
        output.push(json!({"type": "message", "id": format!("msg_mock{}", cx.seq), "status": "completed",
            "role": "assistant", "content": [{"type": "output_text", "text": reply, "annotations": []}]}));
    }
    let input_tokens = text::tokens(&user)
        + body
            .get("instructions")
            .map_or(0, |i| text::tokens(&part_text(i)));
    let usage = json!({"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens});
    if !b.no_usage {
        cx.state.set_usage(cx.seq, usage.clone());
    }
    let response = |status: &str, output: &[Value], usage: Value| {
        json!({"id": id, "object": "response", "created_at": 1_700_000_000 + cx.seq, "status": status,
            "error": null, "incomplete_details": null, "instructions": body.get("instructions"),
            "model": model, "output": output, "parallel_tool_calls": true,
            "previous_response_id": body.get("previous_response_id"), "store": true,
            "tool_choice": body.get("tool_choice").cloned().unwrap_or(json!("auto")),
            "tools": body.get("tools").cloned().unwrap_or(json!([])), "usage": usage,
            "text": {"format": {"type": "text"}}, "truncation": "disabled", "metadata": {}})
    };
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    if body.get("stream") != Some(&json!(true)) {
        guard.complete();
        let u = if b.no_usage { Value::Null } else { usage };
        return Json(response("completed", &output, u)).into_response();
    }
    let mut seq = 0u64;
    let mut ev = |kind: &str, mut data: Value| -> Bytes {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
    };
    let mut chunks = vec![
        ev(
            "response.created",
            json!({"response": response("in_progress", &[], Value::Null)}),
        ),
        ev(
            "response.in_progress",
            json!({"response": response("in_progress", &[], Value::Null)}),
        ),
    ];
    for (i, item) in output.iter().enumerate() {
        let item_id = item["id"].clone();
        if item["type"] == "message" {
            let mut empty = item.clone();
            empty["content"] = json!([]);
            empty["status"] = json!("in_progress");
            chunks.push(ev(
                "response.output_item.added",
                json!({"output_index": i, "item": empty}),
            ));
            chunks.push(ev("response.content_part.added", json!({"item_id": item_id, "output_index": i,
                "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})));
            let full = item["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            for piece in text::pieces(&full) {
                chunks.push(ev(
                    "response.output_text.delta",
                    json!({"item_id": item_id, "output_index": i,
                    "content_index": 0, "delta": piece, "logprobs": []}),
                ));
            }
            chunks.push(ev(
                "response.output_text.done",
                json!({"item_id": item_id, "output_index": i,
                "content_index": 0, "text": full, "logprobs": []}),
            ));
            chunks.push(ev(
                "response.content_part.done",
                json!({"item_id": item_id, "output_index": i,
                "content_index": 0, "part": item["content"][0]}),
            ));
        } else {
            let mut empty = item.clone();
            empty["arguments"] = json!("");
            empty["status"] = json!("in_progress");
            chunks.push(ev(
                "response.output_item.added",
                json!({"output_index": i, "item": empty}),
            ));
            chunks.push(ev(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id,
                "output_index": i, "delta": item["arguments"]}),
            ));
            chunks.push(ev(
                "response.function_call_arguments.done",
                json!({"item_id": item_id,
                "output_index": i, "arguments": item["arguments"]}),
            ));
        }
        chunks.push(ev(
            "response.output_item.done",
            json!({"output_index": i, "item": item}),
        ));
    }
    let u = if b.no_usage { Value::Null } else { usage };
    let tail = vec![ev(
        "response.completed",
        json!({"response": response("completed", &output, u)}),
    )];
    let message = b
        .message
        .as_deref()
        .unwrap_or("The server had an error while streaming (mock).");
    let script = Script {
        chunks,
        tail,
        error_frame: Bytes::from(format!(
            "event: error\ndata: {}\n\n",
            json!({"type": "error", "code": "server_error", "message": message, "param": null, "sequence_number": 0})
        )),
        malformed_frame: Bytes::from_static(
            b"event: response.output_text.delta\ndata: {\"type\": \"resp\n\n",
        ),
        content_type: "text/event-stream; charset=utf-8",
    };
    stream::respond(script, b, guard)
}
