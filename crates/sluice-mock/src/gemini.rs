//! The Gemini format, on both hosts: AI Studio
//! (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:batchEmbedContents`, `:embedContent`; key in `x-goog-api-key` or
//! `?key=`) and Vertex AI (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:...`,
//! `:predict` for embeddings; a bearer token issued by [`token`]).
//!
//! Like the real API it refuses unknown request fields and the JSON-Schema
//! keywords Gemini does not accept, so translation mistakes show up as 400s.

mod reply;
pub mod token;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::Ctx;
use crate::behavior::Behavior;
use crate::state::MockState;
use crate::stream::Guard;
use crate::text;

/// Whether `path` is a Gemini API call.
pub fn is_gemini(path: &str) -> bool {
    [
        ":generateContent",
        ":streamGenerateContent",
        ":batchEmbedContents",
        ":embedContent",
        ":predict",
    ]
    .iter()
    .any(|m| path.ends_with(m))
}

/// Whether `path` is on the Vertex AI host.
fn is_vertex(path: &str) -> bool {
    path.starts_with("/v1/projects/")
}

/// Google's error body and status for an injected error.
pub fn error(b: &Behavior, status: u16) -> Response {
    let (canonical, default_msg) = match status {
        400 => (
            "INVALID_ARGUMENT",
            "Request contains an invalid argument. (mock)",
        ),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. (mock)",
        ),
        403 => (
            "PERMISSION_DENIED",
            "The caller does not have permission. (mock)",
        ),
        404 => ("NOT_FOUND", "models/unknown is not found. (mock)"),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota). (mock)",
        ),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later. (mock)",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete. (mock)",
        ),
        _ => ("INTERNAL", "An internal error has occurred. (mock)"),
    };
    let body = json!({"error": {
        "code": status,
        "message": b.message.as_deref().unwrap_or(default_msg),
        "status": b.code.as_deref().unwrap_or(canonical),
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

fn bad_request(msg: String) -> Response {
    error(
        &Behavior {
            message: Some(msg),
            ..Behavior::default()
        },
        400,
    )
}

/// The status to refuse a request with for its credentials, if any: Vertex
/// needs a bearer token this mock issued, AI Studio an API key.
pub fn auth_failure(
    state: &MockState,
    path: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<u16> {
    if is_vertex(path) {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        return (!token.is_some_and(|t| state.token_issued(t))).then_some(401);
    }
    let has_key = headers.contains_key("x-goog-api-key")
        || query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("key=")));
    (!has_key).then_some(403)
}

/// Routes a Gemini call by its method suffix.
pub fn handle(cx: Ctx, path: &str, query: Option<&str>, body: &Value, model: &str) -> Response {
    let method = path.rsplit(':').next().unwrap_or("");
    match method {
        "generateContent" => reply::generate(cx, body, model, false),
        "streamGenerateContent" => {
            if query.is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse")) {
                reply::generate(cx, body, model, true)
            } else {
                bad_request("mock: streamGenerateContent is only served with alt=sse".to_owned())
            }
        }
        "batchEmbedContents" if !is_vertex(path) => batch_embed(cx, body, model),
        "embedContent" if !is_vertex(path) => embed_one(cx, body),
        "predict" if is_vertex(path) => predict(cx, body),
        _ => error(
            &Behavior {
                message: Some(format!("mock: no Gemini method `{method}` at {path}")),
                ..Behavior::default()
            },
            404,
        ),
    }
}

fn dims(v: Option<&Value>) -> usize {
    v.and_then(Value::as_u64)
        .map_or(64, |d| usize::try_from(d).unwrap_or(64))
}

fn parts_text(content: Option<&Value>) -> String {
    content
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

fn done(cx: &Ctx) {
    let mut g = Guard::new(cx.state.clone(), cx.seq);
    g.complete();
}

/// AI Studio `:batchEmbedContents`. Every request must name the model of the
/// URL, as the real API demands. No token counts are reported.
fn batch_embed(cx: Ctx, body: &Value, model: &str) -> Response {
    done(&cx);
    let Some(reqs) = body.get("requests").and_then(Value::as_array) else {
        return bad_request("* BatchEmbedContentsRequest.requests: is required".to_owned());
    };
    let mut out = Vec::with_capacity(reqs.len());
    for r in reqs {
        if r.get("model").and_then(Value::as_str) != Some(&format!("models/{model}")) {
            return bad_request(format!(
                "* BatchEmbedContentsRequest.requests: the model of every request must be models/{model}"
            ));
        }
        let t = parts_text(r.get("content"));
        out.push(json!({"values": text::embedding(&t, dims(r.get("outputDimensionality")))}));
    }
    Json(json!({"embeddings": out})).into_response()
}

/// AI Studio `:embedContent`.
fn embed_one(cx: Ctx, body: &Value) -> Response {
    done(&cx);
    let t = parts_text(body.get("content"));
    let values = text::embedding(&t, dims(body.get("outputDimensionality")));
    Json(json!({"embedding": {"values": values}})).into_response()
}

/// Vertex AI `:predict` for text embeddings, with `statistics.token_count`.
fn predict(cx: Ctx, body: &Value) -> Response {
    let Some(instances) = body.get("instances").and_then(Value::as_array) else {
        done(&cx);
        return bad_request("instances: is required".to_owned());
    };
    let d = dims(body.pointer("/parameters/outputDimensionality"));
    let mut total = 0;
    let predictions: Vec<Value> = instances
        .iter()
        .map(|i| {
            let t = i.get("content").and_then(Value::as_str).unwrap_or("");
            let n = text::tokens(t);
            total += n;
            json!({"embeddings": {"statistics": {"truncated": false, "token_count": n},
                "values": text::embedding(t, d)}})
        })
        .collect();
    cx.state.set_usage(cx.seq, json!({"token_count": total}));
    done(&cx);
    Json(json!({"predictions": predictions, "metadata": {"billableCharacterCount": total * 5}}))
        .into_response()
}
