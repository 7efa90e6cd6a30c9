//! OpenAI's legacy Completions API at any path ending in `/completions`
//! (but not `/chat/completions`): `POST {base}/completions` for OpenAI and
//! the OpenAI-compatible family, `/openai/deployments/{d}/completions` for
//! Azure. Streamed and not, with the legacy default of 16 `max_tokens`
//! (one token per word here) and `finish_reason: length` when cut.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Ctx;
use crate::openai::error;
use crate::stream::{self, Guard, Script};
use crate::text;

fn prompt_text(body: &Value) -> Option<String> {
    match body.get("prompt") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// `POST .../completions`.
pub fn create(cx: Ctx, body: &Value, model: &str) -> Response {
    let b = &cx.behavior;
    let Some(prompt) = prompt_text(body) else {
        let bad = crate::Behavior {
            message: Some("'prompt' is required".into()),
            ..crate::Behavior::default()
        };
        return error(&bad, 400);
    };
    let max_tokens = body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .map_or(16, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let full = text::reply(&prompt, model, b);
    let words: Vec<&str> = full.split(' ').collect();
    let (reply, finish) = if words.len() > max_tokens {
        (words[..max_tokens].join(" "), "length")
    } else {
        (full.clone(), "stop")
    };
    let echo = body.get("echo") == Some(&json!(true));
    let text = if echo {
        format!("{prompt}{reply}")
    } else {
        reply.clone()
    };
    let prompt_tokens = text::tokens(&prompt);
    let completion_tokens = text::tokens(&reply);
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens});
    if !b.no_usage {
        cx.state.set_usage(cx.seq, usage.clone());
    }
    let id = format!("cmpl-mock{}", cx.seq);
    let created = 1_700_000_000 + cx.seq;
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    if body.get("stream") != Some(&json!(true)) {
        guard.complete();
        let mut out = json!({"id": id, "object": "text_completion", "created": created, "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]});
        if !b.no_usage {
            out["usage"] = usage;
        }
        return Json(out).into_response();
    }
    let chunk = |t: &str, finish: Value| {
        stream::data(
            &json!({"id": id, "object": "text_completion", "created": created, "model": model,
                "choices": [{"text": t, "index": 0, "logprobs": null, "finish_reason": finish}]})
            .to_string(),
        )
    };
    let mut chunks: Vec<_> = text::pieces(&text)
        .iter()
        .map(|p| chunk(p, Value::Null))
        .collect();
    chunks.push(chunk("", json!(finish)));
    let mut tail = Vec::new();
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if include_usage && !b.no_usage {
        tail.push(stream::data(
            &json!({"id": id, "object": "text_completion", "created": created, "model": model,
                "choices": [], "usage": usage})
            .to_string(),
        ));
    }
    tail.push(stream::data("[DONE]"));
    let script = Script {
        chunks,
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
