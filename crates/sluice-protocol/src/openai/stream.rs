//! Inspecting OpenAI stream chunks that are passed through untouched.
//!
//! When the upstream speaks OpenAI wire and so does the client, each SSE
//! `data:` payload is forwarded as is. The gateway still needs three facts
//! from each: is it the `[DONE]` sentinel, is it an error object sent inside
//! the 200 stream, and does it carry usage (the final chunk when
//! `include_usage` is set, which has no choices). [`inspect`] answers those
//! with one borrowed parse that skips the content.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::chat::WireUsage;
use crate::{Error, ErrorKind};

/// What one `data:` payload of an OpenAI stream is.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkKind {
    /// `[DONE]`: the stream ended normally.
    Done,
    /// A chunk. `usage` is set on the usage-bearing chunk; `usage_only` when
    /// it has no choices (the extra chunk `include_usage` adds).
    Chunk {
        usage: Option<WireUsage>,
        usage_only: bool,
        finished: bool,
    },
    /// An error object inside the stream.
    Error(Error),
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default, borrow)]
    choices: Option<&'a RawValue>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

/// Classifies one SSE data payload from an OpenAI-wire stream.
pub fn inspect(data: &[u8]) -> Result<ChunkKind, Error> {
    let trimmed = data.trim_ascii();
    if trimmed == b"[DONE]" {
        return Ok(ChunkKind::Done);
    }
    let peek: Peek<'_> = serde_json::from_slice(trimmed).map_err(|e| {
        Error::new(
            ErrorKind::UpstreamProtocol,
            format!("upstream sent a stream event that is not valid JSON: {e}"),
        )
    })?;
    if let Some(err) = peek.error.filter(|v| !v.is_null()) {
        let parts = super::error::parts_from_value(&err);
        let status = err
            .get("status")
            .or_else(|| err.get("code"))
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(500);
        return Ok(ChunkKind::Error(super::error::from_parts(status, parts)));
    }
    let choices = peek.choices.map(RawValue::get).unwrap_or("[]");
    let usage_only = choices
        .trim_start_matches('[')
        .trim_start()
        .starts_with(']');
    // A finish_reason that is not null marks the end of a choice.
    let finished = memchr::memmem::find(choices.as_bytes(), b"\"finish_reason\"").is_some()
        && !choices.contains("\"finish_reason\":null")
        && !choices.contains("\"finish_reason\": null");
    Ok(ChunkKind::Chunk {
        usage: peek.usage,
        usage_only,
        finished,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_chunks() {
        assert_eq!(inspect(b"[DONE]").unwrap(), ChunkKind::Done);
        let c = inspect(br#"{"id":"x","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}"#).unwrap();
        assert_eq!(
            c,
            ChunkKind::Chunk {
                usage: None,
                usage_only: false,
                finished: false
            }
        );
        let c = inspect(br#"{"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#).unwrap();
        let ChunkKind::Chunk {
            usage, usage_only, ..
        } = c
        else {
            panic!("not a chunk")
        };
        assert!(usage_only);
        assert_eq!(usage.unwrap().completion_tokens, 5);
        let c = inspect(br#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#).unwrap();
        assert!(matches!(c, ChunkKind::Chunk { finished: true, .. }));
    }

    #[test]
    fn errors_inside_the_stream() {
        let c = inspect(br#"{"error":{"message":"overloaded","type":"server_error","code":503}}"#)
            .unwrap();
        let ChunkKind::Error(e) = c else {
            panic!("not an error")
        };
        assert_eq!(e.kind(), ErrorKind::UpstreamOverloaded);
        assert!(inspect(b"{not json").is_err());
    }
}
