//! Reading error bodies from OpenAI-wire upstreams.
//!
//! OpenAI answers `{"error": {"message", "type", "param", "code"}}`. The
//! OpenAI-compatible family is looser: some send `{"error": "text"}`,
//! `{"message": ...}` or FastAPI's `{"detail": ...}`. All of them end up as an
//! [`Error`] classified by [`classify_upstream`], with credentials scrubbed.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{classify_upstream, scrub_secrets};
use crate::{Error, ErrorKind};

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    detail: Option<Value>,
}

/// The message, code and param found in an error body.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ErrorParts {
    pub message: String,
    pub code: Option<String>,
    pub param: Option<String>,
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Extracts what can be found in an OpenAI-style error value.
pub fn parts_from_value(v: &Value) -> ErrorParts {
    match v {
        Value::Object(o) => ErrorParts {
            message: o
                .get("message")
                .and_then(as_text)
                .unwrap_or_else(|| v.to_string()),
            code: o
                .get("code")
                .and_then(as_text)
                .or_else(|| o.get("type").and_then(as_text)),
            param: o.get("param").and_then(as_text),
        },
        other => ErrorParts {
            message: as_text(other).unwrap_or_default(),
            ..ErrorParts::default()
        },
    }
}

/// Extracts what can be found in an error body of any OpenAI-like shape.
pub fn parts_from_body(body: &[u8]) -> ErrorParts {
    let parsed: Option<Envelope> = serde_json::from_slice(body).ok();
    let found = parsed.and_then(|e| {
        e.error
            .or(e.detail)
            .or(e.message)
            .map(|v| parts_from_value(&v))
    });
    found.unwrap_or_else(|| ErrorParts {
        message: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        ..ErrorParts::default()
    })
}

/// Builds the gateway error for a non-2xx answer from an OpenAI-wire upstream.
pub fn from_response(status: u16, body: &[u8]) -> Error {
    from_parts(status, parts_from_body(body))
}

/// Builds the gateway error from already-extracted parts.
pub fn from_parts(status: u16, parts: ErrorParts) -> Error {
    let kind = classify_upstream(status, parts.code.as_deref(), &parts.message);
    let message = if parts.message.trim().is_empty() {
        format!("upstream answered HTTP {status}")
    } else {
        scrub_secrets(&parts.message).into_owned()
    };
    let message = match kind {
        ErrorKind::UpstreamAuth => {
            format!("upstream rejected the gateway's credentials (HTTP {status}): {message}")
        }
        _ => message,
    };
    let mut err = Error::new(kind, message).with_upstream_status(status);
    if let Some(code) = parts.code
        && !matches!(kind, ErrorKind::UpstreamAuth)
    {
        err = err.with_code(code);
    }
    if let Some(param) = parts.param {
        err = err.with_param(param);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shapes() {
        let e = from_response(
            400,
            br#"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::ContextLengthExceeded);
        assert_eq!(e.param(), Some("messages"));
        assert_eq!(e.code(), Some("context_length_exceeded"));

        let e = from_response(429, br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#);
        assert_eq!(e.kind(), ErrorKind::UpstreamRateLimited);
        assert!(e.is_retryable());

        let e = from_response(401, br#"{"error":{"message":"Incorrect API key provided: sk-abcdefghijklmnop1234.","code":"invalid_api_key"}}"#);
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        assert!(!e.message().contains("abcdefghijklmnop"), "{}", e.message());
    }

    #[test]
    fn loose_shapes() {
        assert_eq!(from_response(500, br#"{"error":"boom"}"#).message(), "boom");
        assert_eq!(
            from_response(422, br#"{"detail":"bad field"}"#).kind(),
            ErrorKind::UpstreamBadRequest
        );
        assert_eq!(
            from_response(503, b"<html>down</html>").kind(),
            ErrorKind::UpstreamOverloaded
        );
        assert_eq!(
            from_response(502, b"").message(),
            "upstream answered HTTP 502"
        );
    }
}
