//! Bedrock errors → [`crate::Error`].
//!
//! An HTTP error answer carries its type in the `x-amzn-ErrorType` header
//! (`ThrottlingException:http://internal.amazon.com/...`) and a JSON body
//! `{"message": ...}`. A stream carries the same conditions as exception
//! frames inside the HTTP 200 (`:exception-type: throttlingException`),
//! whose payload is the same body. Both map through [`from_type`], which
//! knows each documented exception's status and kind, so a condition gets
//! the same kind whichever way it arrived.

use super::wire::ErrorBody;
use crate::error::{classify_upstream, scrub_secrets};
use crate::{Error, ErrorKind};

/// The status Bedrock documents for an exception type (case-insensitive,
/// with or without the `Exception` suffix's namespace).
fn status_of(kind: &str) -> Option<u16> {
    Some(match kind.to_ascii_lowercase().as_str() {
        "validationexception" | "serializationexception" => 400,
        "accessdeniedexception"
        | "unrecognizedclientexception"
        | "invalidsignatureexception"
        | "expiredtokenexception"
        | "missingauthenticationtokenexception" => 403,
        "resourcenotfoundexception" => 404,
        "modeltimeoutexception" => 408,
        "modelerrorexception" | "modelstreamerrorexception" => 424,
        "throttlingexception" | "modelnotreadyexception" | "toomanyrequestsexception" => 429,
        "servicequotaexceededexception" => 400,
        "internalserverexception" => 500,
        "serviceunavailableexception" => 503,
        _ => return None,
    })
}

/// The error for Bedrock exception `kind` (from a header or a frame) with
/// `body`; `status` when it came with an HTTP answer.
pub fn from_type(status: Option<u16>, kind: &str, body: &[u8]) -> Error {
    let kind = kind.split(':').next().unwrap_or(kind).trim();
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed.message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
        if text.trim().is_empty() {
            format!("Bedrock answered {kind}")
        } else {
            text
        }
    });
    let status = status
        .filter(|s| *s >= 400)
        .or_else(|| status_of(kind))
        .unwrap_or(500);
    let lower = kind.to_ascii_lowercase();
    let error_kind = match lower.as_str() {
        "throttlingexception" | "toomanyrequestsexception" | "modelnotreadyexception" => {
            ErrorKind::UpstreamRateLimited
        }
        "serviceunavailableexception" => ErrorKind::UpstreamOverloaded,
        "modeltimeoutexception" => ErrorKind::UpstreamTimeout,
        "modelerrorexception" | "modelstreamerrorexception" | "internalserverexception" => {
            ErrorKind::UpstreamServer
        }
        "servicequotaexceededexception" => ErrorKind::UpstreamBadRequest,
        _ => classify_upstream(status, Some(kind), &message),
    };
    let message = scrub_secrets(&message).into_owned();
    let message = if error_kind == ErrorKind::UpstreamAuth {
        format!("upstream rejected the gateway's credentials (HTTP {status}, {kind}): {message}")
    } else {
        message
    };
    let mut err = Error::new(error_kind, message).with_upstream_status(status);
    if error_kind != ErrorKind::UpstreamAuth && !kind.is_empty() {
        err = err.with_code(kind.to_owned());
    }
    err
}

/// The error for a non-2xx Bedrock answer; `error_type` is the
/// `x-amzn-ErrorType` header, if present.
pub fn from_response(status: u16, error_type: Option<&str>, body: &[u8]) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    match error_type.or(parsed.kind.as_deref()) {
        Some(kind) => {
            // `__type` may be namespaced: `com.amazon.coral...#ThrottlingException`.
            let kind = kind.rsplit('#').next().unwrap_or(kind);
            from_type(Some(status), kind, body)
        }
        None => crate::openai::error::from_response(status, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_map_by_type_and_message() {
        let cases = [
            (
                429,
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                "Too many requests, please wait before trying again.",
                ErrorKind::UpstreamRateLimited,
            ),
            (
                400,
                "ValidationException",
                "Input is too long for requested model.",
                ErrorKind::ContextLengthExceeded,
            ),
            (
                400,
                "ValidationException",
                "The model returned the following errors: prompt is too long: too many tokens",
                ErrorKind::ContextLengthExceeded,
            ),
            (
                400,
                "ValidationException",
                "A conversation must alternate between user and assistant roles.",
                ErrorKind::UpstreamBadRequest,
            ),
            (
                403,
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID.",
                ErrorKind::UpstreamAuth,
            ),
            (
                404,
                "ResourceNotFoundException",
                "Could not resolve the foundation model.",
                ErrorKind::UpstreamNotFound,
            ),
            (
                408,
                "ModelTimeoutException",
                "Model has timed out in processing the request.",
                ErrorKind::UpstreamTimeout,
            ),
            (
                503,
                "ServiceUnavailableException",
                "Bedrock is unable to process your request.",
                ErrorKind::UpstreamOverloaded,
            ),
            (
                500,
                "InternalServerException",
                "Internal failure.",
                ErrorKind::UpstreamServer,
            ),
            (
                429,
                "ModelNotReadyException",
                "Model is not ready.",
                ErrorKind::UpstreamRateLimited,
            ),
            (
                424,
                "ModelErrorException",
                "The model failed.",
                ErrorKind::UpstreamServer,
            ),
        ];
        for (status, kind, message, want) in cases {
            let body = format!(r#"{{"message":"{message}"}}"#);
            let e = from_response(status, Some(kind), body.as_bytes());
            assert_eq!(e.kind(), want, "{kind}: {message}");
            assert!(e.message().contains(message), "{}", e.message());
            assert_eq!(e.upstream_status(), Some(status));
        }
        assert!(from_response(429, Some("ThrottlingException"), b"{}").is_retryable());
        assert!(!from_response(400, Some("ValidationException"), b"{}").is_retryable());
        assert_eq!(
            from_response(429, Some("ThrottlingException"), b"{}").code(),
            Some("ThrottlingException")
        );
    }

    #[test]
    fn exception_frames_map_like_http_errors() {
        let e = from_type(None, "throttlingException", br#"{"message":"slow down"}"#);
        assert_eq!(
            (e.kind(), e.upstream_status()),
            (ErrorKind::UpstreamRateLimited, Some(429))
        );
        let e = from_type(
            None,
            "modelStreamErrorException",
            br#"{"message":"boom","originalStatusCode":500}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamServer);
        assert!(e.is_retryable());
        let e = from_type(
            None,
            "validationException",
            br#"{"message":"Input is too long for requested model."}"#,
        );
        assert_eq!(e.kind(), ErrorKind::ContextLengthExceeded);
        let e = from_type(None, "serviceUnavailableException", b"");
        assert_eq!(e.kind(), ErrorKind::UpstreamOverloaded);
        let e = from_type(None, "internalServerException", br#"{"message":"x"}"#);
        assert_eq!(e.kind(), ErrorKind::UpstreamServer);
    }

    #[test]
    fn bodies_without_a_type_and_secrets() {
        let e = from_response(
            403,
            None,
            br#"{"message":"The security token included in the request is invalid. AKIAABCDEFGHIJKLMNOP"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UpstreamAuth);
        assert!(
            !e.message().contains("AKIAABCDEFGHIJKLMNOP"),
            "{}",
            e.message()
        );
        let e = from_response(
            400,
            None,
            br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}"#,
        );
        assert_eq!(e.code(), Some("ValidationException"));
        assert_eq!(
            from_response(502, None, b"<html/>").kind(),
            ErrorKind::UpstreamServer
        );
    }
}
