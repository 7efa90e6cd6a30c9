//! Inspecting the events of a native stream that is forwarded untouched.
//!
//! When a client's API and the upstream's are the same (an Anthropic
//! Messages client on an Anthropic upstream, a Responses client on OpenAI),
//! each SSE event is passed through as it came. The gateway still needs a few
//! facts from each: its name (the `type` field, which is also its SSE event
//! name), whether it ends the stream, whether it is an error, and the usage
//! it carries. [`MessagesTracker`] and [`responses_event`] answer those, one
//! event at a time, without touching the bytes.

use serde::Deserialize;
use serde_json::Value;

use crate::anthropic::error::from_error_body;
use crate::anthropic::wire::{ErrorBody, Usage as AnthropicUsage};
use crate::openai::error::{from_parts, parts_from_value};
use crate::{Error, ErrorKind, Usage, UsageSource};

/// What one passed-through event is.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    /// The event's `type`, its SSE event name.
    pub name: String,
    /// Usage known after this event (cumulative), if it carries any.
    pub usage: Option<Usage>,
    /// The stream's terminal event.
    pub end: bool,
    /// The event's `sequence_number` (Responses API).
    pub sequence: Option<u64>,
}

fn bad(format: &str, e: &serde_json::Error) -> Error {
    Error::new(
        ErrorKind::UpstreamProtocol,
        format!("the {format} stream sent an event that does not parse: {e}"),
    )
}

#[derive(Deserialize)]
struct AnthropicEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<AnthropicMessage>,
    #[serde(default)]
    usage: Option<AnthropicDeltaUsage>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct AnthropicMessage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicDeltaUsage {
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// Follows a passed-through Anthropic Messages stream: usage from
/// `message_start` (input and cache counts) and `message_delta` (cumulative
/// output, and input when given), end at `message_stop`, `error` events as
/// errors.
#[derive(Debug, Default)]
pub struct MessagesTracker {
    usage: AnthropicUsage,
}

impl MessagesTracker {
    /// Inspects one event's `data`.
    pub fn on_event(&mut self, data: &[u8]) -> Result<Inspected, Error> {
        let ev: AnthropicEvent = serde_json::from_slice(data).map_err(|e| bad("Anthropic", &e))?;
        let mut usage = None;
        match ev.kind.as_str() {
            "message_start" => {
                if let Some(u) = ev.message.and_then(|m| m.usage) {
                    self.usage = u;
                }
            }
            "message_delta" => {
                if let Some(u) = ev.usage {
                    if let Some(n) = u.output_tokens {
                        self.usage.output_tokens = n;
                    }
                    if let Some(n) = u.input_tokens {
                        self.usage.input_tokens = n;
                    }
                    if u.cache_creation_input_tokens.is_some() {
                        self.usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
                    }
                    if u.cache_read_input_tokens.is_some() {
                        self.usage.cache_read_input_tokens = u.cache_read_input_tokens;
                    }
                }
                usage = Some(Usage::from(self.usage));
            }
            "error" => {
                let body = ev.error.unwrap_or(ErrorBody {
                    kind: "api_error".to_owned(),
                    message: "the upstream stream reported an error".to_owned(),
                });
                return Err(from_error_body(None, &body));
            }
            _ => {}
        }
        Ok(Inspected {
            end: ev.kind == "message_stop",
            name: ev.kind,
            usage,
            sequence: None,
        })
    }
}

/// The `usage` of a Response object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct ResponsesUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
    #[serde(default)]
    pub output_tokens_details: Option<OutputDetails>,
}

/// `usage.input_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct InputDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct OutputDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

impl From<ResponsesUsage> for Usage {
    fn from(u: ResponsesUsage) -> Self {
        Usage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            cached_read_tokens: u
                .input_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cached_write_tokens: 0,
            reasoning_tokens: u
                .output_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            source: UsageSource::Provider,
        }
    }
}

#[derive(Deserialize)]
struct ResponsesEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    sequence_number: Option<u64>,
    #[serde(default)]
    response: Option<ResponseHead>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<Value>,
}

#[derive(Deserialize)]
struct ResponseHead {
    #[serde(default)]
    usage: Option<ResponsesUsage>,
    #[serde(default)]
    error: Option<Value>,
}

/// Inspects one event of a passed-through Responses stream: it ends at
/// `response.completed` or `response.incomplete` (with the usage), and
/// `response.failed` and `error` events are errors.
pub fn responses_event(data: &[u8]) -> Result<Inspected, Error> {
    let ev: ResponsesEvent = serde_json::from_slice(data).map_err(|e| bad("Responses", &e))?;
    match ev.kind.as_str() {
        "error" => {
            let code = ev.code.as_ref().and_then(Value::as_str).unwrap_or("");
            let err = serde_json::json!({"message": ev.message, "code": code});
            return Err(from_parts(status_for(code), parts_from_value(&err)));
        }
        "response.failed" => {
            let err = ev
                .response
                .and_then(|r| r.error)
                .unwrap_or_else(|| serde_json::json!({"message": "the response failed"}));
            let code = err.get("code").and_then(Value::as_str).unwrap_or("");
            return Err(from_parts(status_for(code), parts_from_value(&err)));
        }
        _ => {}
    }
    let end = matches!(
        ev.kind.as_str(),
        "response.completed" | "response.incomplete"
    );
    Ok(Inspected {
        usage: if end {
            ev.response.and_then(|r| r.usage).map(Usage::from)
        } else {
            None
        },
        end,
        name: ev.kind,
        sequence: ev.sequence_number,
    })
}

/// The HTTP status an in-stream error code stands for.
fn status_for(code: &str) -> u16 {
    if code.contains("rate_limit") {
        429
    } else if code.contains("overloaded") || code == "server_is_overloaded" {
        503
    } else if code.starts_with("invalid") || code.contains("context_length") {
        400
    } else {
        500
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANTHROPIC: &str = include_str!("../tests/fixtures/anthropic/stream_tools.sse");

    #[test]
    fn anthropic_stream_usage_and_end() {
        let mut dec = crate::sse::SseDecoder::default();
        dec.push(ANTHROPIC.as_bytes());
        let mut t = MessagesTracker::default();
        let mut last = None;
        while let Some(ev) = dec.next_event().unwrap() {
            let i = t.on_event(&ev.data).unwrap();
            assert_eq!(Some(i.name.as_str()), ev.event.as_deref());
            if i.usage.is_some() {
                last = i.usage;
            }
            if i.end {
                break;
            }
        }
        let u = last.unwrap();
        assert!(u.prompt_tokens > 0 && u.completion_tokens > 0);
        let e = t
            .on_event(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UpstreamOverloaded);
        assert!(t.on_event(b"{not json").is_err());
        let unknown = t.on_event(br#"{"type":"future_event","x":1}"#).unwrap();
        assert!(!unknown.end && unknown.usage.is_none());
    }

    #[test]
    fn responses_events() {
        let i = responses_event(
            br#"{"type":"response.output_text.delta","sequence_number":4,"delta":"x"}"#,
        )
        .unwrap();
        assert_eq!(i.sequence, Some(4));
        assert!(!i.end);
        let i = responses_event(br#"{"type":"response.completed","sequence_number":9,"response":{"id":"r","usage":{"input_tokens":5,"output_tokens":7,"input_tokens_details":{"cached_tokens":2},"output_tokens_details":{"reasoning_tokens":3},"total_tokens":12}}}"#).unwrap();
        assert!(i.end);
        let u = i.usage.unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_read_tokens,
                u.reasoning_tokens
            ),
            (5, 7, 2, 3)
        );
        let e = responses_event(
            br#"{"type":"error","code":"server_error","message":"boom","sequence_number":3}"#,
        )
        .unwrap_err();
        assert_eq!(e.message(), "boom");
        assert!(e.is_retryable());
        let e = responses_event(br#"{"type":"response.failed","response":{"error":{"code":"rate_limit_exceeded","message":"slow"}}}"#).unwrap_err();
        assert_eq!(e.message(), "slow");
        assert_eq!(e.kind(), ErrorKind::UpstreamRateLimited);
    }
}
