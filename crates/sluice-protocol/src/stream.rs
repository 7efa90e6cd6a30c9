//! The shape every provider's stream translator takes.
//!
//! A translator is a pure state machine: it receives the upstream's decoded
//! events one at a time (SSE events, or AWS event-stream messages) and
//! returns the OpenAI chunks they produce. It does no I/O and keeps whatever
//! state the format needs (tool-call indices per content block, usage seen
//! so far). The gateway drives it; fuzz tests feed it arbitrary input.
//!
//! Contract:
//! - `on_event` returns zero or more chunks, or an error (an error event
//!   inside a 200 stream, or an event that does not parse);
//! - `on_end` is called when the upstream closes. If the format's terminal
//!   event was seen it returns the last chunks (the final usage chunk);
//!   otherwise it returns [`ErrorKind::StreamInterrupted`]: a stream that
//!   stops early must never look finished.

use crate::openai::chat::ChatChunk;
use crate::{Error, ErrorKind};

/// A provider stream translated to OpenAI chunks.
pub trait StreamMachine: Send + 'static {
    /// The upstream's decoded event type.
    type Event;

    /// Handles one event.
    fn on_event(&mut self, event: Self::Event) -> Result<Vec<ChatChunk>, Error>;

    /// Handles the end of the upstream body.
    fn on_end(&mut self) -> Result<Vec<ChatChunk>, Error>;
}

/// The error for a stream that ended before its terminal event.
pub fn interrupted(provider_format: &str) -> Error {
    Error::new(
        ErrorKind::StreamInterrupted,
        format!("the {provider_format} stream ended before it finished"),
    )
}

/// The error for an event that does not parse.
pub fn bad_event(provider_format: &str, e: &serde_json::Error) -> Error {
    Error::new(
        ErrorKind::UpstreamProtocol,
        format!("the {provider_format} stream sent an event that does not parse: {e}"),
    )
}
