//! What the mock does for one request: timing, size and injected faults.
//!
//! A behaviour is written as space- or `&`-separated `key=value` pairs, e.g.
//! `status=429 retry_after=2` or `words=64 itl_ms=20`. It can be chosen:
//! - by a directive in the last user message: `<<mock status=500>>`, which
//!   survives any gateway translation because it travels in the prompt;
//! - by the `x-mock` request header, for direct use;
//! - by a scripted queue (`POST /__mock/script`), consumed one step per
//!   request, for sequences such as "429, then success".
//!
//! Precedence: script step, then header, then directive.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything a request can ask of the mock. Defaults produce a prompt,
/// well-formed answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behavior {
    /// Answer with this HTTP status and the format's error body.
    pub status: Option<u16>,
    /// `Retry-After` seconds on an error answer.
    pub retry_after: Option<u64>,
    /// Error message for an error answer (default: a generic one per status).
    pub message: Option<String>,
    /// Provider error code/type to put in the error body.
    pub code: Option<String>,
    /// Never send response headers.
    pub hang: bool,
    /// Delay before the response headers, in milliseconds.
    pub header_delay_ms: u64,
    /// Delay before the first chunk (or the whole answer), in milliseconds.
    pub ttft_ms: u64,
    /// Delay between chunks, in milliseconds.
    pub itl_ms: u64,
    /// Number of words in the answer (one streamed chunk per word).
    pub words: Option<usize>,
    /// Stream this many chunks, then drop the connection.
    pub cut_after: Option<usize>,
    /// Stream this many chunks, then send an error event inside the 200.
    pub error_after: Option<usize>,
    /// Stream this many chunks, then send a malformed event.
    pub malformed_after: Option<usize>,
    /// Stream this many chunks, then stop sending without closing.
    pub stall_after: Option<usize>,
    /// Non-streamed: answer 200 with a body that is not JSON.
    pub invalid_json: bool,
    /// Pad the answer with this many extra bytes of text.
    pub huge_bytes: Option<usize>,
    /// Leave usage out of the answer.
    pub no_usage: bool,
    /// Report this many prompt tokens as read from the provider's cache.
    pub cached_tokens: Option<u64>,
    /// Answer with text even when tools are offered.
    pub no_tools: bool,
    /// Reply with exactly this text.
    pub reply: Option<String>,
    /// Replicate: polls of `urls.get` that still report `processing`
    /// (default 1). With 0, a create call with `Prefer: wait` answers with
    /// the finished prediction.
    pub polls: Option<u32>,
}

impl Behavior {
    /// Parses `key=value` pairs separated by spaces, commas or `&`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut map = serde_json::Map::new();
        for pair in spec
            .split(|c: char| c.is_whitespace() || c == '&' || c == ',')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
            let value = match v {
                "true" => serde_json::Value::Bool(true),
                "false" => serde_json::Value::Bool(false),
                _ => match v.parse::<u64>() {
                    Ok(n) => serde_json::Value::from(n),
                    Err(_) => serde_json::Value::from(v.replace('+', " ")),
                },
            };
            map.insert(k.to_owned(), value);
        }
        serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| format!("bad mock behaviour `{spec}`: {e}"))
    }

    /// Finds a `<<mock ...>>` directive in `text`.
    pub fn from_text(text: &str) -> Option<Result<Self, String>> {
        let start = text.find("<<mock")?;
        let rest = &text[start + 6..];
        let end = rest.find(">>")?;
        Some(Self::parse(&rest[..end]))
    }

    /// Delay between chunks.
    pub fn itl(&self) -> Duration {
        Duration::from_millis(self.itl_ms)
    }

    /// Delay before the first chunk.
    pub fn ttft(&self) -> Duration {
        Duration::from_millis(self.ttft_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let b = Behavior::parse("status=429 retry_after=2").unwrap();
        assert_eq!(b.status, Some(429));
        assert_eq!(b.retry_after, Some(2));
        let b = Behavior::parse("words=64&itl_ms=20,hang").unwrap();
        assert_eq!(b.words, Some(64));
        assert!(b.hang);
        assert!(Behavior::parse("nonsense=1").is_err());
        let b = Behavior::from_text("hello <<mock cut_after=3>> there")
            .unwrap()
            .unwrap();
        assert_eq!(b.cut_after, Some(3));
        assert!(Behavior::from_text("no directive").is_none());
    }
}
