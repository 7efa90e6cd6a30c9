//! The gateway's one error type.
//!
//! Every failure, whether the client sent something wrong, a policy refused
//! the request, or an upstream misbehaved, becomes an [`Error`] with an
//! [`ErrorKind`]. The kind decides the HTTP status, whether another attempt
//! may help ([`Error::is_retryable`]) and the short label used in metrics and
//! the request record. Errors are rendered exactly once, at the edge, in the
//! client's dialect ([`Error::to_openai_json`], [`Error::to_anthropic_json`]).
//!
//! Constructors never log. Messages must never contain credentials: upstream
//! error bodies are passed through [`crate::error::scrub_secrets`] before they
//! become part of a message.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde_json::json;

/// What went wrong, at the granularity that changes how the gateway reacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client's request is malformed or invalid (bad JSON, wrong types).
    InvalidRequest,
    /// A parameter cannot be translated for the chosen provider without
    /// changing the meaning of the request.
    UnsupportedParam,
    /// The request body exceeds the configured limit.
    PayloadTooLarge,
    /// The client did not send its request body within the read timeout.
    RequestTimeout,
    /// No or an invalid gateway key was presented.
    Unauthorized,
    /// The key is valid but not allowed to do this (model, route).
    Forbidden,
    /// No configured route serves the requested model.
    ModelNotFound,
    /// The path does not exist.
    NotFound,
    /// The path exists but not for this HTTP method.
    MethodNotAllowed,
    /// A gateway rate limit refused the request.
    RateLimited,
    /// A gateway budget refused the request.
    BudgetExceeded,
    /// A guardrail blocked the request or the response.
    BlockedByGuardrail,
    /// The gateway is over capacity and shed the request.
    Overloaded,
    /// The upstream rejected the gateway's credentials.
    UpstreamAuth,
    /// The upstream rejected the request as invalid.
    UpstreamBadRequest,
    /// The upstream says the prompt does not fit the model's context window.
    ContextLengthExceeded,
    /// The upstream refused the content (content filter, safety block).
    ContentFiltered,
    /// The upstream answered 404 for the model or path.
    UpstreamNotFound,
    /// The upstream rate-limited the gateway (429).
    UpstreamRateLimited,
    /// The upstream reports overload (503, 529, "overloaded").
    UpstreamOverloaded,
    /// The upstream failed with a 5xx.
    UpstreamServer,
    /// The upstream could not be reached (DNS, refused, TLS).
    UpstreamConnect,
    /// The upstream did not answer within a deadline.
    UpstreamTimeout,
    /// The upstream answered with something that does not parse.
    UpstreamProtocol,
    /// The upstream stream broke after it had started.
    StreamInterrupted,
    /// A bug or an unexpected state inside the gateway.
    Internal,
}

impl ErrorKind {
    /// Short, stable, low-cardinality label for metrics and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnsupportedParam => "unsupported_param",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::ModelNotFound => "model_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited => "rate_limited",
            Self::BudgetExceeded => "budget_exceeded",
            Self::BlockedByGuardrail => "blocked_by_guardrail",
            Self::Overloaded => "overloaded",
            Self::UpstreamAuth => "upstream_auth",
            Self::UpstreamBadRequest => "upstream_bad_request",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::ContentFiltered => "content_filtered",
            Self::UpstreamNotFound => "upstream_not_found",
            Self::UpstreamRateLimited => "upstream_rate_limited",
            Self::UpstreamOverloaded => "upstream_overloaded",
            Self::UpstreamServer => "upstream_server_error",
            Self::UpstreamConnect => "upstream_connect",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UpstreamProtocol => "upstream_protocol",
            Self::StreamInterrupted => "stream_interrupted",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status the client receives.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest
            | Self::UnsupportedParam
            | Self::BlockedByGuardrail
            | Self::UpstreamBadRequest
            | Self::ContextLengthExceeded
            | Self::ContentFiltered => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::ModelNotFound | Self::NotFound | Self::UpstreamNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::PayloadTooLarge => 413,
            Self::RateLimited | Self::BudgetExceeded | Self::UpstreamRateLimited => 429,
            Self::Internal => 500,
            Self::UpstreamAuth
            | Self::UpstreamServer
            | Self::UpstreamConnect
            | Self::UpstreamProtocol
            | Self::StreamInterrupted => 502,
            Self::Overloaded | Self::UpstreamOverloaded => 503,
            Self::UpstreamTimeout => 504,
        }
    }

    /// Whether another attempt (same or another target) may succeed.
    ///
    /// Only upstream conditions are retryable: connect errors, timeouts, 429,
    /// 5xx and overload. A stream that broke after bytes reached the client is
    /// never retried; the executor enforces that separately.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::UpstreamRateLimited
                | Self::UpstreamOverloaded
                | Self::UpstreamServer
                | Self::UpstreamConnect
                | Self::UpstreamTimeout
                | Self::UpstreamProtocol
                | Self::StreamInterrupted
        )
    }

    /// Whether the fault lies with the upstream provider.
    pub fn is_upstream(self) -> bool {
        matches!(
            self,
            Self::UpstreamAuth
                | Self::UpstreamBadRequest
                | Self::ContextLengthExceeded
                | Self::ContentFiltered
                | Self::UpstreamNotFound
                | Self::UpstreamRateLimited
                | Self::UpstreamOverloaded
                | Self::UpstreamServer
                | Self::UpstreamConnect
                | Self::UpstreamTimeout
                | Self::UpstreamProtocol
                | Self::StreamInterrupted
        )
    }

    /// The OpenAI `error.type` field.
    fn openai_type(self) -> &'static str {
        match self {
            Self::Unauthorized => "authentication_error",
            Self::Forbidden => "permission_error",
            Self::RateLimited | Self::UpstreamRateLimited => "rate_limit_error",
            Self::BudgetExceeded => "insufficient_quota",
            Self::Internal
            | Self::Overloaded
            | Self::UpstreamAuth
            | Self::UpstreamOverloaded
            | Self::UpstreamServer
            | Self::UpstreamConnect
            | Self::UpstreamTimeout
            | Self::UpstreamProtocol
            | Self::StreamInterrupted => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The OpenAI `error.code` field when none is set explicitly.
    fn openai_code(self) -> Option<&'static str> {
        Some(match self {
            Self::ModelNotFound => "model_not_found",
            Self::Unauthorized => "invalid_api_key",
            Self::RateLimited | Self::UpstreamRateLimited => "rate_limit_exceeded",
            Self::BudgetExceeded => "insufficient_quota",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::ContentFiltered => "content_filter",
            Self::BlockedByGuardrail => "content_blocked",
            Self::PayloadTooLarge => "request_too_large",
            Self::UnsupportedParam => "unsupported_parameter",
            Self::UpstreamTimeout => "timeout",
            Self::Overloaded | Self::UpstreamOverloaded => "overloaded",
            _ => return None,
        })
    }

    /// The Anthropic `error.type` field.
    fn anthropic_type(self) -> &'static str {
        match self {
            Self::Unauthorized => "authentication_error",
            Self::Forbidden => "permission_error",
            Self::ModelNotFound | Self::NotFound | Self::UpstreamNotFound => "not_found_error",
            Self::PayloadTooLarge => "request_too_large",
            Self::RateLimited | Self::BudgetExceeded | Self::UpstreamRateLimited => {
                "rate_limit_error"
            }
            Self::Overloaded | Self::UpstreamOverloaded => "overloaded_error",
            Self::UpstreamTimeout => "timeout_error",
            Self::InvalidRequest
            | Self::UnsupportedParam
            | Self::BlockedByGuardrail
            | Self::UpstreamBadRequest
            | Self::ContextLengthExceeded
            | Self::ContentFiltered => "invalid_request_error",
            _ => "api_error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gateway's error: a kind, a human message and optional details.
///
/// Boxed so that `Result<T, Error>` stays one pointer wide on the hot path.
#[derive(Clone, PartialEq)]
pub struct Error(Box<Inner>);

#[derive(Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    param: Option<String>,
    code: Option<Cow<'static, str>>,
    retry_after: Option<Duration>,
    upstream_status: Option<u16>,
    provider: Option<String>,
}

impl Error {
    /// A new error of `kind` with a message for the client.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
            upstream_status: None,
            provider: None,
        }))
    }

    /// Shorthand for [`ErrorKind::InvalidRequest`].
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Names the request parameter at fault (OpenAI's `error.param`).
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.0.param = Some(param.into());
        self
    }

    /// Overrides the machine-readable code (OpenAI's `error.code`).
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.0.code = Some(code.into());
        self
    }

    /// How long the client should wait before retrying.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// The HTTP status the upstream answered with, if any.
    pub fn with_upstream_status(mut self, status: u16) -> Self {
        self.0.upstream_status = Some(status);
        self
    }

    /// The configured provider name the error came from.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.0.provider = Some(provider.into());
        self
    }

    /// Changes the kind, keeping every other detail.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The client-facing message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The parameter at fault, if known.
    pub fn param(&self) -> Option<&str> {
        self.0.param.as_deref()
    }

    /// Suggested wait before retrying, if the upstream or a limit gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The upstream's HTTP status, if the error came from an upstream answer.
    pub fn upstream_status(&self) -> Option<u16> {
        self.0.upstream_status
    }

    /// The provider the error came from, if any.
    pub fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }

    /// The HTTP status for the client.
    pub fn status(&self) -> u16 {
        self.0.kind.status()
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.0.kind.is_retryable()
    }

    /// The machine-readable code.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref().or_else(|| self.0.kind.openai_code())
    }

    /// The OpenAI error envelope: `{"error": {message, type, param, code}}`.
    pub fn to_openai_json(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message(),
                "type": self.0.kind.openai_type(),
                "param": self.param(),
                "code": self.code(),
            }
        })
    }

    /// The Anthropic error envelope: `{"type": "error", "error": {type, message}}`.
    pub fn to_anthropic_json(&self) -> serde_json::Value {
        json!({
            "type": "error",
            "error": {
                "type": self.0.kind.anthropic_type(),
                "message": self.message(),
            }
        })
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(p) = &self.0.provider {
            d.field("provider", p);
        }
        if let Some(s) = self.0.upstream_status {
            d.field("upstream_status", &s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind, self.0.message)
    }
}

impl std::error::Error for Error {}

/// Replaces anything that looks like a credential in `text` with `[redacted]`.
///
/// Upstream error bodies sometimes echo part of the key they were given
/// ("Incorrect API key provided: sk-abc***xyz"). This runs over every upstream
/// message before it reaches the client or a log. It is deliberately broad: a
/// token-like word of 20 or more characters with a known key prefix, or any
/// word following "key" / "token" / "bearer" that looks like a secret.
pub fn scrub_secrets(text: &str) -> Cow<'_, str> {
    const PREFIXES: &[&str] = &[
        "sk-", "sk_", "pk-", "rk-", "key-", "AKIA", "ASIA", "AIza", "ghp_", "gho_", "xox", "hf_",
        "r8_", "gsk_", "xai-", "fw_", "Bearer ",
    ];
    let looks_secret = |word: &str| {
        let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let secretish = w.len() >= 12
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.'));
        secretish && (PREFIXES.iter().any(|p| w.starts_with(p)) || w.contains("***"))
    };
    if !text.split_whitespace().any(looks_secret) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if looks_secret(word) {
            out.push_str("[redacted]");
        } else {
            out.push_str(word);
        }
    }
    Cow::Owned(out)
}

/// Classifies an upstream failure from its HTTP status, the provider's
/// error code or type (if any) and its message.
///
/// Shared by every adapter so that the same condition (say, a context window
/// overflow) gets the same kind whatever the provider calls it.
pub fn classify_upstream(status: u16, code: Option<&str>, message: &str) -> ErrorKind {
    let code = code.unwrap_or("").to_ascii_lowercase();
    let msg = message.to_ascii_lowercase();
    let context = code.contains("context_length")
        || code.contains("context_window")
        || msg.contains("context length")
        || msg.contains("context window")
        || msg.contains("maximum context")
        || msg.contains("too many tokens")
        || msg.contains("prompt is too long")
        || msg.contains("input is too long");
    let filtered = code.contains("content_filter")
        || code.contains("content_policy")
        || code.contains("safety")
        || msg.contains("content management policy")
        || msg.contains("content filter");
    match status {
        400 | 413 | 422 if context => ErrorKind::ContextLengthExceeded,
        400 | 422 if filtered => ErrorKind::ContentFiltered,
        400 | 409 | 413 | 422 => ErrorKind::UpstreamBadRequest,
        401 | 403 => ErrorKind::UpstreamAuth,
        404 => ErrorKind::UpstreamNotFound,
        408 => ErrorKind::UpstreamTimeout,
        429 => ErrorKind::UpstreamRateLimited,
        503 | 529 => ErrorKind::UpstreamOverloaded,
        500..=599 if code.contains("overloaded") || msg.contains("overloaded") => {
            ErrorKind::UpstreamOverloaded
        }
        500..=599 => ErrorKind::UpstreamServer,
        _ if context => ErrorKind::ContextLengthExceeded,
        _ => ErrorKind::UpstreamProtocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retryability() {
        assert_eq!(ErrorKind::ModelNotFound.status(), 404);
        assert_eq!(ErrorKind::PayloadTooLarge.status(), 413);
        assert!(ErrorKind::UpstreamRateLimited.is_retryable());
        assert!(!ErrorKind::InvalidRequest.is_retryable());
        assert!(!ErrorKind::ContextLengthExceeded.is_retryable());
    }

    #[test]
    fn openai_shape() {
        let e = Error::new(ErrorKind::ModelNotFound, "nope").with_param("model");
        let v = e.to_openai_json();
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["message"], "nope");
    }

    #[test]
    fn anthropic_shape() {
        let v = Error::new(ErrorKind::UpstreamOverloaded, "busy").to_anthropic_json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "overloaded_error");
    }

    #[test]
    fn scrubs_keys() {
        let s = scrub_secrets("Incorrect API key provided: sk-proj-abcdefghijkl***wxyz. See docs");
        assert!(!s.contains("abcdefghijkl"), "{s}");
        assert!(s.contains("[redacted]"));
        assert_eq!(scrub_secrets("plain message"), "plain message");
    }
}
