//! Replicate predictions: create (`POST .../models/{owner}/{name}/predictions`,
//! `POST .../deployments/{owner}/{name}/predictions`, `POST .../predictions`
//! with `version`), get (`GET .../predictions/{id}`), stream
//! (`GET .../predictions/{id}/stream`, `output`/`error`/`done` events) and
//! cancel (`POST .../predictions/{id}/cancel`). Errors are problem+json.
//!
//! A prediction lives in the mock's state between calls. Creating one
//! returns it `starting` (or, with `Prefer: wait`, `processing`: the wait
//! "expired"); the first `polls` gets (default 1) report `processing`, the
//! next one the finished prediction with `metrics.input_token_count` /
//! `output_token_count`. With `polls=0` and `Prefer: wait`, create answers
//! with the finished prediction. Faults come from the create request:
//! status faults answer it; `error_after` fails the prediction (in the
//! stream: an `error` event, then `done` with `reason: error`); `cut_after`
//! drops the stream's connection. Follow-up calls consume no scripted step.

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::behavior::Behavior;
use crate::state::MockState;
use crate::stream::{self, Guard, Script};
use crate::{Ctx, huggingface, text};

/// Whether `path` belongs to the predictions API.
pub fn is_path(path: &str) -> bool {
    path.ends_with("/predictions") || path.contains("/predictions/")
}

/// `owner/name` of an official-model or deployment create path.
pub fn model_from_path(path: &str) -> Option<String> {
    let rest = path.strip_suffix("/predictions")?;
    let (_, m) = rest
        .rsplit_once("/models/")
        .or_else(|| rest.rsplit_once("/deployments/"))?;
    Some(m.to_owned())
}

/// The problem+json body and status for an injected error.
pub fn error(b: &Behavior, status: u16) -> Response {
    let (title, detail) = match status {
        400 | 422 => (
            "Input validation failed",
            "- input: invalid (mock)".to_owned(),
        ),
        401 => (
            "Unauthenticated",
            "You did not pass a valid authentication token (mock)".to_owned(),
        ),
        402 => (
            "Insufficient credit",
            "You have insufficient credit to run this model (mock)".to_owned(),
        ),
        404 => (
            "Not found",
            "The requested resource could not be found (mock).".to_owned(),
        ),
        429 => (
            "Request was throttled.",
            format!(
                "Request was throttled. Expected available in {} second.",
                b.retry_after.unwrap_or(1)
            ),
        ),
        _ => (
            "Internal server error",
            "Internal server error (mock)".to_owned(),
        ),
    };
    let body = json!({"title": b.code.as_deref().unwrap_or(title),
        "detail": b.message.clone().unwrap_or(detail), "status": status});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(s) = b.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn problem(status: u16, detail: &str) -> Response {
    let b = Behavior {
        message: Some(detail.to_owned()),
        ..Behavior::default()
    };
    error(&b, status)
}

/// `POST .../predictions` (any create form).
pub fn create(cx: Ctx, path: &str, headers: &HeaderMap, body: &Value) -> Response {
    let Some(input) = body.get("input").and_then(Value::as_object) else {
        return problem(422, "- input: Input is required");
    };
    let (model, version) = match model_from_path(path) {
        Some(m) => (Some(m), None),
        None => match body.get("version").and_then(Value::as_str) {
            Some(v) => (None, Some(v.to_owned())),
            None => return problem(422, "- version: Version is required"),
        },
    };
    let b = cx.behavior.clone();
    let prompt = input.get("prompt").and_then(Value::as_str).unwrap_or("");
    let system = input
        .get("system_prompt")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = model
        .clone()
        .or_else(|| version.clone())
        .unwrap_or_default();
    let mut reply = text::reply(&huggingface::last_user(prompt), &name, &b);
    let max = input
        .get("max_tokens")
        .or_else(|| input.get("max_new_tokens"))
        .and_then(Value::as_u64);
    if let Some(max) = max {
        let words: Vec<&str> = reply.split(' ').collect();
        if words.len() as u64 > max {
            reply = words[..usize::try_from(max).unwrap_or(0)].join(" ");
        }
    }
    let metrics = if b.no_usage {
        json!({"predict_time": 0.01})
    } else {
        let m = json!({"input_token_count": text::tokens(prompt) + text::tokens(system),
            "output_token_count": text::tokens(&reply)});
        cx.state.set_usage(cx.seq, m.clone());
        let mut full = m;
        full["predict_time"] = json!(0.01);
        full
    };
    let id = format!("mockpred{}", cx.seq);
    let origin = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| "http://127.0.0.1".to_owned(), |h| format!("http://{h}"));
    let prefix = path
        .rsplit_once("/models/")
        .or_else(|| path.rsplit_once("/deployments/"))
        .map_or_else(
            || path.trim_end_matches("/predictions"),
            |(before, _)| before,
        );
    let get = format!("{origin}{prefix}/predictions/{id}");
    let wait = headers.contains_key("prefer");
    let mut p = json!({
        "id": id, "model": model, "version": version.unwrap_or_else(|| "mockversion".to_owned()),
        "input": input, "logs": "", "output": null, "error": null, "data_removed": false,
        "status": if wait { "processing" } else { "starting" },
        "created_at": "2026-01-01T00:00:00.000Z", "metrics": {},
        "urls": {"get": get, "cancel": format!("{get}/cancel"), "stream": format!("{get}/stream"),
            "web": format!("https://replicate.com/p/{id}")},
        "_mock": {"behavior": b, "reply": reply, "metrics": metrics,
            "polls_left": b.polls.unwrap_or(1)},
    });
    if wait && b.polls == Some(0) {
        finish(&mut p);
    }
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    guard.complete();
    cx.state.put_object(&id, p.clone());
    if b.invalid_json {
        return (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"id\": \"mockpr",
        )
            .into_response();
    }
    (StatusCode::CREATED, Json(public(&p))).into_response()
}

/// The prediction without the mock's private fields.
fn public(p: &Value) -> Value {
    let mut out = p.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("_mock");
    }
    out
}

fn behavior(p: &Value) -> Behavior {
    serde_json::from_value(p["_mock"]["behavior"].clone()).unwrap_or_default()
}

/// Ends a prediction the way its behaviour says: failed with `error_after`,
/// else succeeded with the output pieces and metrics.
fn finish(p: &mut Value) {
    if matches!(
        p["status"].as_str(),
        Some("succeeded" | "failed" | "canceled")
    ) {
        return;
    }
    let b = behavior(p);
    if b.error_after.is_some() {
        p["status"] = json!("failed");
        p["error"] = json!(b.message.as_deref().unwrap_or("CUDA out of memory (mock)"));
    } else {
        let reply = p["_mock"]["reply"].as_str().unwrap_or("").to_owned();
        p["status"] = json!("succeeded");
        p["output"] = json!(text::pieces(&reply));
    }
    p["metrics"] = p["_mock"]["metrics"].clone();
}

/// Get, stream and cancel calls on an existing prediction. `None` for any
/// other request. They take no scripted step and no directive.
pub fn follow_up(
    state: &MockState,
    seq: u64,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    let (_, rest) = path.rsplit_once("/predictions/")?;
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let op = match (method, action) {
        (&Method::GET, "") => "get",
        (&Method::GET, "stream") => "stream",
        (&Method::POST, "cancel") => "cancel",
        _ => return None,
    };
    let mut guard = Guard::new(state.clone(), seq);
    if let Some(key) = state.required_key()
        && !crate::presents_key(headers, None, &key)
    {
        guard.complete();
        return Some(error(&Behavior::default(), 401));
    }
    let found = state.with_object(id, |p| {
        match op {
            "get" => {
                let left = p["_mock"]["polls_left"].as_u64().unwrap_or(0);
                let running = matches!(p["status"].as_str(), Some("starting" | "processing"));
                if running && left > 0 {
                    p["_mock"]["polls_left"] = json!(left - 1);
                    p["status"] = json!("processing");
                } else {
                    finish(p);
                }
            }
            "cancel" => {
                if matches!(p["status"].as_str(), Some("starting" | "processing")) {
                    p["status"] = json!("canceled");
                }
            }
            _ => {
                let b = behavior(p);
                if b.cut_after.is_none() && b.stall_after.is_none() {
                    finish(p);
                }
            }
        }
        p.clone()
    });
    let Some(p) = found else {
        guard.complete();
        return Some(problem(404, "The requested resource could not be found."));
    };
    if op != "stream" {
        guard.complete();
        return Some(Json(public(&p)).into_response());
    }
    let b = behavior(&p);
    let reply = p["_mock"]["reply"].as_str().unwrap_or("");
    Some(stream::respond(stream_script(id, reply, &b), &b, guard))
}

fn event(name: &str, id: &str, data: &str) -> Bytes {
    let mut out = format!("event: {name}\nid: {id}\n");
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

fn stream_script(id: &str, reply: &str, b: &Behavior) -> Script {
    let chunks = text::pieces(reply)
        .iter()
        .enumerate()
        .map(|(i, piece)| event("output", &format!("{id}:{i}"), piece))
        .collect();
    let detail = b.message.as_deref().unwrap_or("CUDA out of memory (mock)");
    let mut error_frame = event("error", id, &json!({"detail": detail}).to_string()).to_vec();
    error_frame.extend_from_slice(&event("done", id, r#"{"reason": "error"}"#));
    Script {
        chunks,
        tail: vec![event("done", id, "{}")],
        error_frame: Bytes::from(error_frame),
        malformed_frame: Bytes::from_static(b"event: done\ndata: {\"reas\n\n"),
        content_type: "text/event-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_paths() {
        assert_eq!(
            model_from_path("/v1/models/meta/llama/predictions").as_deref(),
            Some("meta/llama")
        );
        assert_eq!(
            model_from_path("/v1/deployments/acme/llm/predictions").as_deref(),
            Some("acme/llm")
        );
        assert_eq!(model_from_path("/v1/predictions"), None);
        assert!(is_path("/v1/predictions/abc/cancel"));
        assert!(!is_path("/v1/chat/completions"));
    }
}
