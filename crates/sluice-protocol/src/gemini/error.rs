//! Google API error bodies: `{"error": {"code", "message", "status"}}`,
//! the same on AI Studio and Vertex AI, as a whole error response or as an
//! event inside a 200 stream.
//!
//! The canonical `status` decides the kind: `RESOURCE_EXHAUSTED` is a rate
//! limit, `UNAVAILABLE` an overload, `DEADLINE_EXCEEDED` a timeout,
//! `UNAUTHENTICATED`/`PERMISSION_DENIED` (and AI Studio's `API_KEY_INVALID`
//! 400) an auth failure; `INVALID_ARGUMENT` is a bad request, or a context
//! overflow when the message says the input has too many tokens.

use super::wire::{ErrorBody, ErrorResponse};
use crate::error::{classify_upstream, scrub_secrets};
use crate::{Error, ErrorKind};

fn status_code(status: &str) -> Option<u16> {
    Some(match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" | "ALREADY_EXISTS" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => 500,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => return None,
    })
}

/// The error for a Google error object; `status` is the HTTP status when
/// the error came as a response rather than as a stream event.
pub fn from_error_body(status: Option<u16>, body: &ErrorBody) -> Error {
    let canonical = body.status.as_deref().unwrap_or("");
    let status = status
        .or((body.code != 0).then_some(body.code))
        .or_else(|| status_code(canonical))
        .unwrap_or(500);
    let msg = &body.message;
    let lower = msg.to_ascii_lowercase();
    let key_invalid = body
        .details
        .as_ref()
        .is_some_and(|d| d.to_string().contains("API_KEY_INVALID"));
    let kind = match canonical {
        _ if key_invalid => ErrorKind::UpstreamAuth,
        "RESOURCE_EXHAUSTED" => ErrorKind::UpstreamRateLimited,
        "UNAVAILABLE" => ErrorKind::UpstreamOverloaded,
        "DEADLINE_EXCEEDED" => ErrorKind::UpstreamTimeout,
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => ErrorKind::UpstreamAuth,
        "NOT_FOUND" => ErrorKind::UpstreamNotFound,
        "INTERNAL" | "UNKNOWN" => ErrorKind::UpstreamServer,
        _ if lower.contains("input token count") && lower.contains("exceeds") => {
            ErrorKind::ContextLengthExceeded
        }
        _ => classify_upstream(status, Some(canonical), msg),
    };
    let text = if msg.trim().is_empty() {
        format!("upstream answered HTTP {status}")
    } else {
        scrub_secrets(msg).into_owned()
    };
    let text = if kind == ErrorKind::UpstreamAuth {
        format!("upstream rejected the gateway's credentials (HTTP {status}): {text}")
    } else {
        text
    };
    let mut err = Error::new(kind, text).with_upstream_status(status);
    if matches!(
        kind,
        ErrorKind::UpstreamBadRequest | ErrorKind::UpstreamNotFound | ErrorKind::UpstreamServer
    ) && !canonical.is_empty()
    {
        err = err.with_code(canonical.to_ascii_lowercase());
    }
    err
}

/// The error for a non-2xx Google response. Streaming calls without
/// `alt=sse` wrap it in an array; both shapes are read.
pub fn from_response(status: u16, body: &[u8]) -> Error {
    if let Ok(r) = serde_json::from_slice::<ErrorResponse>(body) {
        return from_error_body(Some(status), &r.error);
    }
    if let Ok(mut list) = serde_json::from_slice::<Vec<ErrorResponse>>(body)
        && let Some(r) = list.pop()
    {
        return from_error_body(Some(status), &r.error);
    }
    crate::openai::error::from_response(status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, code: &str, msg: &str) -> Error {
        let body =
            format!(r#"{{"error": {{"code": {status}, "message": "{msg}", "status": "{code}"}}}}"#);
        from_response(status, body.as_bytes())
    }

    #[test]
    fn maps_google_statuses() {
        let e = err(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamRateLimited);
        assert!(e.is_retryable());
        assert_eq!(
            err(503, "UNAVAILABLE", "The model is overloaded.").kind(),
            ErrorKind::UpstreamOverloaded
        );
        assert_eq!(
            err(500, "INTERNAL", "An internal error has occurred.").kind(),
            ErrorKind::UpstreamServer
        );
        assert_eq!(
            err(504, "DEADLINE_EXCEEDED", "Deadline expired.").kind(),
            ErrorKind::UpstreamTimeout
        );
        assert_eq!(
            err(404, "NOT_FOUND", "models/x is not found").kind(),
            ErrorKind::UpstreamNotFound
        );
        let e = err(
            403,
            "PERMISSION_DENIED",
            "Permission denied on resource project.",
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        assert!(!e.is_retryable());
        assert_eq!(
            err(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials."
            )
            .kind(),
            ErrorKind::UpstreamAuth
        );
        let e = err(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        );
        assert_eq!(e.kind(), ErrorKind::ContextLengthExceeded);
        let e = err(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        assert_eq!(e.kind(), ErrorKind::UpstreamBadRequest);
        assert_eq!(e.code(), Some("invalid_argument"));
    }

    #[test]
    fn api_key_invalid_is_auth_and_scrubbed() {
        let body = br#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key. AIzaSyA1234567890abcdefghij", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}"#;
        let e = from_response(400, body);
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        assert!(!e.message().contains("AIzaSyA123"), "{}", e.message());
    }

    #[test]
    fn array_wrapped_and_stream_errors() {
        let e = from_response(
            429,
            br#"[{"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}}]"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamRateLimited);
        let body = ErrorBody {
            code: 503,
            message: "overloaded".into(),
            status: Some("UNAVAILABLE".into()),
            details: None,
        };
        assert_eq!(
            from_error_body(None, &body).kind(),
            ErrorKind::UpstreamOverloaded
        );
        assert_eq!(
            from_response(502, b"<html>").kind(),
            ErrorKind::UpstreamServer
        );
    }
}
