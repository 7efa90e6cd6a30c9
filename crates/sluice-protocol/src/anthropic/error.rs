//! Anthropic error bodies: `{"type": "error", "error": {"type", "message"}}`.
//!
//! Anthropic's error types map onto Sluice's kinds directly; `overloaded_error`
//! (HTTP 529) is an overload, retryable elsewhere.

use super::wire::{ErrorBody, ErrorResponse};
use crate::error::{classify_upstream, scrub_secrets};
use crate::{Error, ErrorKind};

/// The error for an Anthropic error object; `status` when it came with one.
pub fn from_error_body(status: Option<u16>, body: &ErrorBody) -> Error {
    let status = status.unwrap_or(match body.kind.as_str() {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        "timeout_error" => 504,
        _ => 500,
    });
    let kind = match body.kind.as_str() {
        "overloaded_error" => ErrorKind::UpstreamOverloaded,
        "rate_limit_error" => ErrorKind::UpstreamRateLimited,
        "timeout_error" => ErrorKind::UpstreamTimeout,
        _ => classify_upstream(status, Some(&body.kind), &body.message),
    };
    let message = scrub_secrets(&body.message).into_owned();
    let message = if kind == ErrorKind::UpstreamAuth {
        format!("upstream rejected the gateway's credentials (HTTP {status}): {message}")
    } else {
        message
    };
    let mut err = Error::new(kind, message).with_upstream_status(status);
    if kind != ErrorKind::UpstreamAuth {
        err = err.with_code(body.kind.clone());
    }
    err
}

/// The error for a non-2xx Anthropic response.
pub fn from_response(status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(r) => from_error_body(Some(status), &r.error),
        Err(_) => crate::openai::error::from_response(status, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_anthropic_errors() {
        let e = from_response(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamOverloaded);
        assert!(e.is_retryable());
        let e = from_response(400, br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#);
        assert_eq!(e.kind(), ErrorKind::ContextLengthExceeded);
        let e = from_response(
            429,
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamRateLimited);
        let e = from_response(401, br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#);
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        assert_eq!(
            from_response(502, b"bad gateway").kind(),
            ErrorKind::UpstreamServer
        );
    }
}
