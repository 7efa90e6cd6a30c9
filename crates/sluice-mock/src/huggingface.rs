//! Hugging Face text generation: the serverless form
//! `POST .../models/{model}` (`{"inputs", "parameters", "stream"}`, a list
//! answer) and TGI's native `POST .../generate` (one object) and
//! `POST .../generate_stream` (SSE of token events, the last one with
//! `generated_text` and `details`). Errors are TGI's
//! `{"error", "error_type"}` bodies.
//!
//! The prompt is read back with Sluice's template: the reply echoes the last
//! `User:` block (or the whole prompt). TGI's routes serve one model, whose
//! name the mock reports as `mock-tgi`. Chat models are served by the
//! OpenAI format (`.../v1/chat/completions`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::Ctx;
use crate::behavior::Behavior;
use crate::stream::{self, Guard, Script};
use crate::text;

/// The model TGI's native routes report.
pub const TGI_MODEL: &str = "mock-tgi";

/// Whether `path` is a text-generation route.
pub fn is_path(path: &str) -> bool {
    !path.ends_with("/chat/completions")
        && !path.ends_with("/embeddings")
        && (path.contains("/models/")
            || path.ends_with("/generate")
            || path.ends_with("/generate_stream"))
}

/// The model of a serverless path (`.../models/{org}/{name}`).
pub fn model_from_path(path: &str) -> Option<String> {
    if !is_path(path) {
        return None;
    }
    path.split_once("/models/")
        .map(|(_, m)| m.trim_end_matches('/').to_owned())
        .filter(|m| !m.is_empty())
}

/// The error body and status for an injected error.
pub fn error(b: &Behavior, status: u16) -> Response {
    let (kind, msg) = match status {
        400 | 422 => (
            Some("validation"),
            "Input validation error: invalid request (mock)",
        ),
        401 => (None, "Invalid credentials in Authorization header (mock)"),
        404 => (None, "Model not found (mock)"),
        424 => (
            Some("generation"),
            "Request failed during generation (mock)",
        ),
        429 => (Some("overloaded"), "Model is overloaded (mock)"),
        503 => (None, "Model mock is currently loading"),
        _ => (
            Some("incomplete_generation"),
            "Incomplete generation (mock)",
        ),
    };
    let mut body = json!({"error": b.message.as_deref().unwrap_or(msg)});
    if let Some(k) = b.code.as_deref().or(kind) {
        body["error_type"] = json!(k);
    }
    if status == 503 {
        body["estimated_time"] = json!(1.0);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(body)).into_response();
    if let Some(s) = b.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The last `User:` block of a prompt rendered with Sluice's template, or
/// the whole prompt.
pub fn last_user(prompt: &str) -> String {
    prompt
        .split("\n\n")
        .filter_map(|block| block.strip_prefix("User: "))
        .last()
        .unwrap_or(prompt)
        .to_owned()
}

/// `POST .../models/{model}`, `.../generate`, `.../generate_stream`.
pub fn generate(cx: Ctx, path: &str, body: &Value) -> Response {
    let Some(inputs) = body.get("inputs").and_then(Value::as_str) else {
        let b = Behavior {
            message: Some("Input validation error: missing field `inputs`".to_owned()),
            ..Behavior::default()
        };
        return error(&b, 422);
    };
    let b = &cx.behavior;
    let model = model_from_path(path).unwrap_or_else(|| TGI_MODEL.to_owned());
    let params = body.get("parameters").cloned().unwrap_or(Value::Null);
    let mut reply = text::reply(&last_user(inputs), &model, b);
    let mut finish = "eos_token";
    if let Some(max) = params.get("max_new_tokens").and_then(Value::as_u64) {
        let words: Vec<&str> = reply.split(' ').collect();
        if words.len() as u64 > max {
            reply = words[..usize::try_from(max).unwrap_or(0)].join(" ");
            finish = "length";
        }
    }
    let input_length = text::tokens(inputs);
    let generated = text::tokens(&reply);
    if !b.no_usage {
        cx.state.set_usage(
            cx.seq,
            json!({"input_length": input_length, "generated_tokens": generated}),
        );
    }
    let details = params.get("details") == Some(&json!(true)) && !b.no_usage;
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    let stream = path.ends_with("/generate_stream") || body.get("stream") == Some(&json!(true));
    if !stream {
        guard.complete();
        if b.invalid_json {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "[{\"generated_te",
            )
                .into_response();
        }
        let mut out = json!({"generated_text": reply});
        if details {
            let prefill: Vec<Value> = if params.get("decoder_input_details") == Some(&json!(true)) {
                (0..input_length)
                    .map(|i| json!({"id": i, "text": "tok", "logprob": null}))
                    .collect()
            } else {
                Vec::new()
            };
            out["details"] = json!({"finish_reason": finish, "generated_tokens": generated,
                "seed": null, "prefill": prefill, "tokens": []});
        }
        return if path.ends_with("/generate") {
            Json(out).into_response()
        } else {
            Json(json!([out])).into_response()
        };
    }
    let stream_details = details.then(
        || json!({"finish_reason": finish, "generated_tokens": generated, "input_length": input_length, "seed": null}),
    );
    stream::respond(stream_script(&reply, finish, stream_details, b), b, guard)
}

fn token_event(index: usize, text: &str, special: bool, last: Option<(&str, &Value)>) -> Bytes {
    let (generated_text, details) = match last {
        Some((t, d)) => (json!(t), d.clone()),
        None => (Value::Null, Value::Null),
    };
    let ev = json!({"index": index, "token": {"id": index, "text": text, "logprob": -0.5, "special": special},
        "generated_text": generated_text, "details": details});
    Bytes::from(format!("data:{ev}\n\n"))
}

fn stream_script(reply: &str, finish: &str, details: Option<Value>, b: &Behavior) -> Script {
    let pieces = text::pieces(reply);
    let details = details.unwrap_or(Value::Null);
    let mut chunks: Vec<Bytes> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| token_event(i + 1, p, false, None))
        .collect();
    let tail = if finish == "length" && !pieces.is_empty() {
        // The last generated token carries the end of the generation.
        chunks.pop();
        let n = pieces.len();
        vec![token_event(
            n,
            &pieces[n - 1],
            false,
            Some((reply, &details)),
        )]
    } else {
        vec![token_event(
            pieces.len() + 1,
            "</s>",
            true,
            Some((reply, &details)),
        )]
    };
    let msg = b
        .message
        .as_deref()
        .unwrap_or("Request failed during generation: Server error: mock failure");
    Script {
        chunks,
        tail,
        error_frame: Bytes::from(format!(
            "data:{}\n\n",
            json!({"error": msg, "error_type": "generation"})
        )),
        malformed_frame: Bytes::from_static(b"data:{\"index\":3,\"tok\n\n"),
        content_type: "text/event-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_prompts() {
        assert!(is_path("/hf-inference/models/openai-community/gpt2"));
        assert!(is_path("/generate_stream"));
        assert!(!is_path("/models/x/v1/chat/completions"));
        assert_eq!(
            model_from_path("/hf-inference/models/openai-community/gpt2").as_deref(),
            Some("openai-community/gpt2")
        );
        assert_eq!(model_from_path("/generate"), None);
        assert_eq!(
            last_user("System: s\n\nUser: one\n\nAssistant: a\n\nUser: two\n\nAssistant:"),
            "two"
        );
        assert_eq!(last_user("plain prompt"), "plain prompt");
    }
}
