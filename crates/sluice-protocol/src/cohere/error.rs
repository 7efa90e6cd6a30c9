//! Cohere error bodies: `{"id"?, "message": "..."}` with the HTTP status
//! carrying the class (400, 401, 402, 404, 422, 429, 499, 500, 503, 504).
//!
//! Cohere has no error codes, so the status decides the kind, refined by the
//! message through [`classify_upstream`] (Cohere's context overflow reads
//! "too many tokens: ..."). A failure reported inside a 200 stream
//! (`message-end` with `finish_reason: ERROR`) goes through [`in_stream`].

use super::wire::ErrorBody;
use crate::error::{classify_upstream, scrub_secrets};
use crate::{Error, ErrorKind};

/// The error for a non-2xx Cohere response.
pub fn from_response(status: u16, body: &[u8]) -> Error {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let text = parsed
        .and_then(|b| b.message.or(b.data))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    from_message(status, &text)
}

/// The error for a Cohere error message that came with `status`.
pub fn from_message(status: u16, text: &str) -> Error {
    let message = if text.trim().is_empty() {
        format!("upstream answered HTTP {status}")
    } else {
        scrub_secrets(text).into_owned()
    };
    let (kind, code, message) = match status {
        401 | 403 => (
            ErrorKind::UpstreamAuth,
            None,
            format!("upstream rejected the gateway's credentials (HTTP {status}): {message}"),
        ),
        // Billing limit reached: an account problem, like a rejected key.
        402 => (
            ErrorKind::UpstreamAuth,
            Some("payment_required"),
            format!("upstream account cannot be billed (HTTP 402): {message}"),
        ),
        // Cohere cancelled the request on its side; its advice is to retry.
        499 => (
            ErrorKind::UpstreamServer,
            Some("request_cancelled"),
            message,
        ),
        504 => (ErrorKind::UpstreamTimeout, None, message),
        _ => (classify_upstream(status, None, &message), None, message),
    };
    let mut err = Error::new(kind, message).with_upstream_status(status);
    if let Some(code) = code {
        err = err.with_code(code);
    }
    err
}

/// The error for a stream that ended with `finish_reason` `ERROR` or
/// `TIMEOUT`, carrying `message` (the `delta.error` text, if any).
pub fn in_stream(finish_reason: &str, message: Option<&str>) -> Error {
    let detail = message
        .filter(|m| !m.trim().is_empty())
        .map_or_else(String::new, |m| format!(": {}", scrub_secrets(m)));
    let kind = if finish_reason == "TIMEOUT" {
        ErrorKind::UpstreamTimeout
    } else {
        match message.map(|m| classify_upstream(400, None, m)) {
            Some(k @ (ErrorKind::ContextLengthExceeded | ErrorKind::ContentFiltered)) => k,
            _ => ErrorKind::UpstreamServer,
        }
    };
    Error::new(
        kind,
        format!("Cohere ended the generation with {finish_reason}{detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_documented_statuses() {
        let cases: &[(u16, &str, ErrorKind, bool)] = &[
            (
                400,
                "invalid request: temperature must be between 0 and 1.0 inclusive.",
                ErrorKind::UpstreamBadRequest,
                false,
            ),
            (
                400,
                "too many tokens: size limit exceeded by 11326 tokens. Try using shorter or fewer inputs, or setting prompt_truncation='AUTO'.",
                ErrorKind::ContextLengthExceeded,
                false,
            ),
            (401, "invalid api token", ErrorKind::UpstreamAuth, false),
            (
                402,
                "Please add or update your payment method",
                ErrorKind::UpstreamAuth,
                false,
            ),
            (
                404,
                "model 'xyz' not found, make sure the correct model ID was used",
                ErrorKind::UpstreamNotFound,
                false,
            ),
            (422, "invalid request", ErrorKind::UpstreamBadRequest, false),
            (
                429,
                "You are past the per minute request limit, please wait and try again later.",
                ErrorKind::UpstreamRateLimited,
                true,
            ),
            (499, "request cancelled", ErrorKind::UpstreamServer, true),
            (500, "internal error", ErrorKind::UpstreamServer, true),
            (
                503,
                "service unavailable",
                ErrorKind::UpstreamOverloaded,
                true,
            ),
            (504, "gateway timeout", ErrorKind::UpstreamTimeout, true),
        ];
        for (status, msg, kind, retryable) in cases {
            let body = serde_json::json!({"id": "abc", "message": msg}).to_string();
            let e = from_response(*status, body.as_bytes());
            assert_eq!(e.kind(), *kind, "{status} {msg}");
            assert_eq!(e.is_retryable(), *retryable, "{status}");
            assert_eq!(e.upstream_status(), Some(*status));
            assert!(e.message().contains(msg), "{}", e.message());
        }
    }

    #[test]
    fn odd_bodies_and_secrets() {
        assert_eq!(
            from_response(502, b"<html>bad gateway</html>").message(),
            "<html>bad gateway</html>"
        );
        assert_eq!(
            from_response(500, b"").message(),
            "upstream answered HTTP 500"
        );
        let e = from_response(
            401,
            br#"{"message":"invalid api token: Bearer sk-abcdefghijklmnop***wxyz"}"#,
        );
        assert!(!e.message().contains("abcdefghijklmnop"), "{}", e.message());
        assert_eq!(
            from_response(402, br#"{"message":"x"}"#).code(),
            Some("payment_required")
        );
    }

    #[test]
    fn stream_errors() {
        let e = in_stream("ERROR", Some("internal failure"));
        assert_eq!(e.kind(), ErrorKind::UpstreamServer);
        assert!(e.message().contains("internal failure"));
        assert_eq!(
            in_stream("TIMEOUT", None).kind(),
            ErrorKind::UpstreamTimeout
        );
        assert_eq!(
            in_stream("ERROR", Some("too many tokens: prompt too long")).kind(),
            ErrorKind::ContextLengthExceeded
        );
    }
}
