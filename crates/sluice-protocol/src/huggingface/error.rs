//! Hugging Face error bodies: TGI's `{"error": "...", "error_type": "..."}`
//! (`validation` 422, `generation` 424, `overloaded` 429, `incomplete_generation`
//! 500) and the serverless API's `{"error": ...}` (503 with `estimated_time`
//! while a model loads), on error answers and inside streams.
//!
//! TGI reports prompts over the model's limit as validation errors such as
//! "`inputs` tokens + `max_new_tokens` must be <= 4096"; those become
//! [`ErrorKind::ContextLengthExceeded`].

use std::time::Duration;

use super::wire::ErrorResponse;
use crate::error::{classify_upstream, scrub_secrets};
use crate::{Error, ErrorKind};

/// The error for an error body; `status` when it came with one.
pub fn from_error_body(status: Option<u16>, body: &ErrorResponse) -> Error {
    let kind_name = body.error_type.as_deref().unwrap_or("");
    let status = status.unwrap_or(match kind_name {
        "validation" => 422,
        "generation" => 424,
        "overloaded" => 429,
        _ => 500,
    });
    let message = scrub_secrets(&body.error.joined()).into_owned();
    let lower = message.to_ascii_lowercase();
    let too_long = lower.contains("tokens")
        && (lower.contains("must be <=")
            || lower.contains("must have less than")
            || lower.contains("max_input")
            || lower.contains("max_total_tokens"));
    let kind = match (status, kind_name) {
        (400 | 413 | 422, _) if too_long => ErrorKind::ContextLengthExceeded,
        (429, _) => ErrorKind::UpstreamRateLimited,
        (_, "overloaded") => ErrorKind::UpstreamOverloaded,
        // TGI's "Request failed during generation" (424) is a server fault.
        (424, _) => ErrorKind::UpstreamServer,
        _ => classify_upstream(status, body.error_type.as_deref(), &message),
    };
    let message = if kind == ErrorKind::UpstreamAuth {
        format!("upstream rejected the gateway's credentials (HTTP {status}): {message}")
    } else {
        message
    };
    let mut err = Error::new(kind, message).with_upstream_status(status);
    // TGI's `error_type` is the code unless the kind has a well-known one
    // (`context_length_exceeded`, `rate_limit_exceeded`...).
    if let Some(t) = body
        .error_type
        .as_ref()
        .filter(|_| kind != ErrorKind::UpstreamAuth && err.code().is_none())
    {
        err = err.with_code(t.clone());
    }
    if let Some(secs) = body.estimated_time.filter(|s| s.is_finite() && *s > 0.0) {
        err = err.with_retry_after(Duration::from_secs_f64(secs.min(3600.0)));
    }
    err
}

/// The error for a non-2xx Hugging Face response.
pub fn from_response(status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(r) => from_error_body(Some(status), &r),
        Err(_) => crate::openai::error::from_response(status, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_tgi_and_serverless_errors() {
        let e = from_response(
            422,
            br#"{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`","error_type":"validation"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::ContextLengthExceeded);
        assert!(!e.is_retryable());
        let e = from_response(
            422,
            br#"{"error":"Input validation error: `temperature` must be strictly positive","error_type":"validation"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamBadRequest);
        assert_eq!(e.code(), Some("validation"));
        let e = from_response(
            429,
            br#"{"error":"Model is overloaded","error_type":"overloaded"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamRateLimited);
        assert!(e.is_retryable());
        let e = from_response(
            503,
            br#"{"error":"Model gpt2 is currently loading","estimated_time":20.5}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamOverloaded);
        assert_eq!(e.retry_after(), Some(Duration::from_secs_f64(20.5)));
        let e = from_response(
            401,
            br#"{"error":"Invalid credentials in Authorization header"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        let e = from_response(
            400,
            br#"{"error":["Error in `parameters.top_p`: ensure this value is less than 1"]}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamBadRequest);
        assert!(e.message().contains("top_p"));
        let e = from_response(
            424,
            br#"{"error":"Request failed during generation: CUDA OOM","error_type":"generation"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamServer);
        assert_eq!(
            from_response(502, b"bad gateway").kind(),
            ErrorKind::UpstreamServer
        );
    }
}
