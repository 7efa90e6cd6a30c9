//! The request record: what the ledger keeps about one request.
//!
//! Built up while the request runs (see the gateway's `record` module) and
//! emitted exactly once when the response has been fully sent, failed, or the
//! client went away. Its JSON form follows the shape Kong documents for AI
//! analytics: `meta` (models, provider, route), `usage`, latencies, status.

use serde::{Deserialize, Serialize};
use sluice_protocol::{ErrorKind, Usage};

/// How a request ended. A closed set: dashboards and alerts key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    UpstreamError,
    StreamError,
    ClientCancelled,
    Timeout,
    RateLimited,
    BudgetExceeded,
    BlockedByGuardrail,
    BadRequest,
    Shed,
}

impl Outcome {
    /// The outcome a request ending with an error of `kind` has.
    pub fn from_error(kind: ErrorKind, after_first_byte: bool) -> Self {
        match kind {
            ErrorKind::RateLimited => Self::RateLimited,
            ErrorKind::BudgetExceeded => Self::BudgetExceeded,
            ErrorKind::BlockedByGuardrail => Self::BlockedByGuardrail,
            ErrorKind::Overloaded if !after_first_byte => Self::Shed,
            ErrorKind::UpstreamTimeout => Self::Timeout,
            _ if after_first_byte => Self::StreamError,
            k if k.is_upstream() => Self::UpstreamError,
            ErrorKind::Internal => Self::UpstreamError,
            _ => Self::BadRequest,
        }
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::UpstreamError => "upstream_error",
            Self::StreamError => "stream_error",
            Self::ClientCancelled => "client_cancelled",
            Self::Timeout => "timeout",
            Self::RateLimited => "rate_limited",
            Self::BudgetExceeded => "budget_exceeded",
            Self::BlockedByGuardrail => "blocked_by_guardrail",
            Self::BadRequest => "bad_request",
            Self::Shed => "shed",
        }
    }
}

/// The models, provider and route of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The public model the client asked for.
    pub request_model: Option<String>,
    /// The model the upstream says answered.
    pub response_model: Option<String>,
    /// The configured provider that answered (or was last tried).
    pub provider_name: Option<String>,
    /// The upstream model name sent to the provider.
    pub upstream_model: Option<String>,
    /// The route the request came in on.
    pub route: String,
    /// The API surface: `chat`, `embeddings`, ...
    pub endpoint: String,
}

/// Who sent a request (never the key itself).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The virtual key's id.
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    /// The consumer's id.
    pub consumer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_name: Option<String>,
    /// The team's id.
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_name: Option<String>,
}

/// One try against one upstream target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub provider: String,
    pub upstream_model: String,
    /// The upstream's HTTP status, if it answered.
    pub status: Option<u16>,
    /// `ok`, `hedge_lost`, or the error kind.
    pub outcome: String,
    pub latency_ms: f64,
    /// Why this target was tried: the strategy, `fallback_after_<kind>`,
    /// `retry_after_<kind>`, `hedge`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Tokens this attempt is believed to have cost when it did not
    /// answer (a cancelled hedge loser): its prompt, estimated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// When the attempt started, in milliseconds after the request arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<f64>,
}

/// One request, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// UUIDv7, also returned to the client as `x-sluice-request-id`.
    pub request_id: String,
    /// Start time, milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    pub method: String,
    pub path: String,
    /// Who sent it.
    #[serde(default)]
    pub identity: Identity,
    pub meta: Meta,
    pub stream: bool,
    /// HTTP status sent to the client (200 for a stream that later failed).
    pub status: u16,
    pub outcome: Outcome,
    /// The error kind, when the request failed.
    pub error: Option<String>,
    pub error_message: Option<String>,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    /// Time until the response ended, in milliseconds.
    pub latency_ms: f64,
    /// Time until the first streamed chunk was sent, in milliseconds.
    pub ttft_ms: Option<f64>,
    /// Time the gateway itself added before the response started.
    pub gateway_ms: Option<f64>,
    /// W3C trace context: the trace this request belongs to (32 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// This request's span (16 hex digits); `traceparent` sent upstream
    /// and back to the client names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// The client's span, from its `traceparent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    pub attempts: Vec<Attempt>,
    /// Why the answering target was chosen (see `Attempt::reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_reason: Option<String>,
    /// `hit`, `miss`, `bypass` or `refresh` when a cache was consulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// The similarity score of a semantic cache hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_similarity: Option<f64>,
    /// Client metadata sent in the `x-sluice-metadata` header.
    pub metadata: Option<serde_json::Value>,
    /// Parameters dropped in translation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped_params: Vec<String>,
    /// Request and response bodies, when payload logging applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// What each guardrail policy did, in the order they ran. Holds
    /// detector names and counts, never the matched values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<GuardrailEvent>,
}

/// The bodies of one request, redacted and truncated before storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub request: String,
    /// The JSON answer, or the streamed events as sent.
    pub response: String,
    /// A body was cut at the configured size.
    pub truncated: bool,
    /// Values replaced before storage, per detector (`openai_key`, `email`...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub redacted: std::collections::BTreeMap<String, u64>,
}

/// One guardrail policy's check of one request or response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuardrailEvent {
    /// The policy's configured name.
    pub policy: String,
    /// `input` (the prompt) or `output` (the answer).
    pub stage: String,
    /// Whether the check actually ran to a verdict. `false` when a remote
    /// service failed or timed out: the outcome then says which way the
    /// failure mode went, never `passed`.
    pub ran: bool,
    /// `passed`, `flagged` (logged only), `redacted`, `blocked`, `refused`,
    /// `transformed`, `error_fail_open` or `error_fail_closed`.
    pub outcome: String,
    /// Detectors or categories that fired, with how many times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<Detection>,
    /// A short note: the failure of a remote check, or the rule that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A detector (or content category) and how many times it fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// The detector name (`openai_key`, `email`, a custom name...) or a
    /// remote service's category (`Hate`, `Violence`...).
    pub detector: String,
    /// Matches found (for remote categories: 1).
    pub count: u32,
}

impl RequestRecord {
    /// An empty record for a request that has just arrived.
    pub fn new(request_id: String, started_at_ms: u64, method: &str, path: &str) -> Self {
        Self {
            request_id,
            started_at_ms,
            method: method.to_owned(),
            path: path.to_owned(),
            identity: Identity::default(),
            meta: Meta::default(),
            stream: false,
            status: 0,
            outcome: Outcome::Ok,
            error: None,
            error_message: None,
            usage: None,
            cost_usd: None,
            latency_ms: 0.0,
            ttft_ms: None,
            gateway_ms: None,
            trace_id: None,
            span_id: None,
            parent_span_id: None,
            attempts: Vec::new(),
            route_reason: None,
            cache: None,
            cache_similarity: None,
            metadata: None,
            dropped_params: Vec::new(),
            payload: None,
            guardrails: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_mapping() {
        assert_eq!(
            Outcome::from_error(ErrorKind::InvalidRequest, false),
            Outcome::BadRequest
        );
        assert_eq!(
            Outcome::from_error(ErrorKind::ModelNotFound, false),
            Outcome::BadRequest
        );
        assert_eq!(
            Outcome::from_error(ErrorKind::UpstreamServer, false),
            Outcome::UpstreamError
        );
        assert_eq!(
            Outcome::from_error(ErrorKind::StreamInterrupted, true),
            Outcome::StreamError
        );
        assert_eq!(
            Outcome::from_error(ErrorKind::UpstreamTimeout, true),
            Outcome::Timeout
        );
        assert_eq!(
            Outcome::from_error(ErrorKind::Overloaded, false),
            Outcome::Shed
        );
    }

    #[test]
    fn json_shape_is_kong_like() {
        let mut r = RequestRecord::new("id".into(), 1, "POST", "/v1/chat/completions");
        r.meta.request_model = Some("gpt-4o".into());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["meta"]["request_model"], "gpt-4o");
        assert_eq!(v["outcome"], "ok");
    }
}
