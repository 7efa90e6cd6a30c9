//! Replicate errors: problem+json answers (`{"title", "detail", "status"}`),
//! failed or canceled predictions, and `error` events inside a stream.
//!
//! A failed prediction carries only a message. Messages about the prompt
//! being too long become [`ErrorKind::ContextLengthExceeded`], safety
//! refusals (Replicate's `E005` "flagged as sensitive") become
//! [`ErrorKind::ContentFiltered`]; any other failure is an upstream server
//! error.

use serde_json::Value;

use super::wire::Problem;
use crate::error::{classify_upstream, scrub_secrets};
use crate::{Error, ErrorKind};

/// The error for a non-2xx Replicate response.
pub fn from_response(status: u16, body: &[u8]) -> Error {
    let problem = serde_json::from_slice::<Problem>(body)
        .ok()
        .filter(|p| p.detail.is_some() || p.title.is_some());
    let Some(p) = problem else {
        return crate::openai::error::from_response(status, body);
    };
    let title = p.title.clone().unwrap_or_default();
    let detail = p.detail.clone().unwrap_or_else(|| title.clone());
    let message = scrub_secrets(&detail).into_owned();
    let kind = match status {
        // "Insufficient credit": the account, not the request, is at fault.
        402 => ErrorKind::UpstreamAuth,
        _ => classify_upstream(status, Some(&title), &message),
    };
    let message = if kind == ErrorKind::UpstreamAuth {
        format!("upstream rejected the gateway's credentials (HTTP {status}): {message}")
    } else if !title.is_empty() && !message.starts_with(title.trim_end_matches('.')) {
        format!("{title}: {message}")
    } else {
        message
    };
    Error::new(kind, message).with_upstream_status(status)
}

/// The error for a prediction whose status is `failed`.
pub fn from_failed(error: Option<&Value>) -> Error {
    let raw = match error {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "the prediction failed".to_owned(),
        Some(other) => other
            .get("detail")
            .or_else(|| other.get("message"))
            .and_then(Value::as_str)
            .map_or_else(|| other.to_string(), str::to_owned),
    };
    let message = scrub_secrets(&raw).into_owned();
    let lower = message.to_ascii_lowercase();
    let kind = if lower.contains("flagged as sensitive")
        || lower.contains("nsfw")
        || lower.contains("safety")
        || lower.contains("e005")
    {
        ErrorKind::ContentFiltered
    } else if classify_upstream(400, None, &message) == ErrorKind::ContextLengthExceeded {
        ErrorKind::ContextLengthExceeded
    } else {
        ErrorKind::UpstreamServer
    };
    Error::new(kind, format!("Replicate prediction failed: {message}"))
        .with_code("prediction_failed")
}

/// The error for a prediction that was canceled before it finished.
pub fn canceled(id: &str) -> Error {
    Error::new(
        ErrorKind::UpstreamServer,
        format!("Replicate prediction `{id}` was canceled before it finished"),
    )
    .with_code("prediction_canceled")
}

/// The error for an `error` event: JSON `{"detail": ...}`, or plain text.
pub fn from_stream_error(data: &[u8]) -> Error {
    let text = String::from_utf8_lossy(data);
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => from_failed(Some(&v)),
        Ok(Value::String(s)) => from_failed(Some(&Value::String(s))),
        _ => from_failed(Some(&Value::String(text.trim().to_owned()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_bodies() {
        let e = from_response(
            429,
            br#"{"title":"Request was throttled.","detail":"Request was throttled. Expected available in 1 second.","status":429}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamRateLimited);
        assert!(e.is_retryable());
        assert_eq!(
            e.message(),
            "Request was throttled. Expected available in 1 second."
        );
        let e = from_response(
            401,
            br#"{"title":"Unauthenticated","detail":"You did not pass a valid authentication token","status":401}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        assert!(!e.is_retryable());
        let e = from_response(
            422,
            br#"{"title":"Input validation failed","detail":"- input.temperature: Must be less than or equal to 5","status":422,"invalid_fields":[{"type":"less_than_equal","field":"input.temperature"}]}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamBadRequest);
        assert!(e.message().starts_with("Input validation failed: "));
        let e = from_response(
            404,
            br#"{"title":"Not found","detail":"The requested resource could not be found.","status":404}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamNotFound);
        let e = from_response(402, br#"{"title":"Insufficient credit","detail":"You have insufficient credit to run this model.","status":402}"#);
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        assert_eq!(
            from_response(500, b"<html>oops</html>").kind(),
            ErrorKind::UpstreamServer
        );
    }

    #[test]
    fn failed_predictions_and_stream_errors() {
        let e = from_failed(Some(&Value::String(
            "E005: The input or output was flagged as sensitive. Please try again with different inputs.".into(),
        )));
        assert_eq!(e.kind(), ErrorKind::ContentFiltered);
        let e = from_failed(Some(&Value::String(
            "Prompt is too long: 9000 tokens exceeds the maximum context length of 8192".into(),
        )));
        assert_eq!(e.kind(), ErrorKind::ContextLengthExceeded);
        let e = from_failed(Some(&Value::String("CUDA out of memory".into())));
        assert_eq!(e.kind(), ErrorKind::UpstreamServer);
        assert!(e.is_retryable());
        let e = from_stream_error(br#"{"detail": "The model crashed"}"#);
        assert!(e.message().contains("The model crashed"));
        assert_eq!(
            from_stream_error(b"plain failure").kind(),
            ErrorKind::UpstreamServer
        );
        assert_eq!(canceled("p1").kind(), ErrorKind::UpstreamServer);
    }
}
