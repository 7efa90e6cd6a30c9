//! Rendering errors for the client, once, in its dialect.
//!
//! Every handler ends in one of these functions when it fails. They finish
//! the request record with the error, set `Retry-After` when the error
//! carries one, and write the error body in OpenAI's (or, on Anthropic
//! routes, Anthropic's) shape.

use std::any::Any;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use sluice_protocol::{Error, ErrorKind};

use crate::record::RecordHandle;

/// The client dialect an error is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": {message, type, param, code}}`: the OpenAI surfaces
    /// (chat, embeddings, completions, the Responses API).
    OpenAi,
    /// `{"type": "error", "error": {type, message}}`: `/v1/messages`.
    Anthropic,
}

/// The dialect errors on `path` are written in, before a handler knows better.
pub fn dialect_for(path: &str) -> Dialect {
    // Anthropic Messages, on any route prefix or through pass-through.
    if path.ends_with("/v1/messages") || path.ends_with("/v1/messages/count_tokens") {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    }
}

/// Finishes `record` with `err` and renders it.
pub fn respond(err: &Error, dialect: Dialect, record: &RecordHandle) -> Response {
    record.finish_err(err, false);
    render(err, dialect)
}

/// Renders `err` without touching any record.
pub fn render(err: &Error, dialect: Dialect) -> Response {
    let body = match dialect {
        Dialect::OpenAi => err.to_openai_json(),
        Dialect::Anthropic => err.to_anthropic_json(),
    };
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(after) = err.retry_after() {
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        // The OpenAI SDKs prefer this one: it keeps sub-second precision.
        if let Ok(v) = HeaderValue::from_str(&after.as_millis().max(1).to_string()) {
            resp.headers_mut().insert("retry-after-ms", v);
        }
    }
    resp
}

/// 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> Response {
    render(
        &Error::new(
            ErrorKind::MethodNotAllowed,
            "Method not allowed for this path.",
        ),
        Dialect::OpenAi,
    )
}

/// 405 for a known Anthropic path with the wrong method.
pub async fn anthropic_method_not_allowed() -> Response {
    render(
        &Error::new(
            ErrorKind::MethodNotAllowed,
            "Method not allowed for this path.",
        ),
        Dialect::Anthropic,
    )
}

/// The 500 a handler panic turns into. The panic message is not echoed.
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request handler panicked");
    render(
        &Error::internal("The gateway hit an internal error while handling this request."),
        Dialect::OpenAi,
    )
}
