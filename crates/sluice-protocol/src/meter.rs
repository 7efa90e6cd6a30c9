//! Reading the model and the token usage out of a provider's own response,
//! for traffic the gateway forwards without translating it (pass-through
//! endpoints and the universal endpoint).
//!
//! The response bytes go to the client untouched and as they arrive; a
//! [`BodyMeter`] sees a copy of each chunk on the way and keeps only what the
//! request record needs. It knows the framings providers answer with
//! ([`Framing`]: one JSON document, Server-Sent Events, the AWS event
//! stream) and the usage shapes of every supported provider ([`shapes`]):
//! OpenAI chat, embeddings and Responses, Anthropic Messages, Gemini,
//! Bedrock Converse and InvokeModel (Titan too), Cohere v1 and v2, Replicate
//! predictions. Nothing is buffered whole except a JSON document, and that
//! only up to [`MAX_JSON_BYTES`]. Pure: no I/O.

mod shapes;

use base64::Engine;
use bytes::{Bytes, BytesMut};

use crate::eventstream;
use crate::sse::SseDecoder;
use crate::{Usage, UsageSource};

pub use shapes::Meter;

/// Largest JSON document kept to read its usage. Larger ones are forwarded
/// all the same; their usage is then unknown.
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON document (an object, or Gemini's streamed array).
    Json,
    /// `text/event-stream`.
    Sse,
    /// `application/vnd.amazon.eventstream` (Bedrock streams).
    EventStream,
    /// Anything else (audio, files, text): forwarded, not read.
    Other,
}

impl Framing {
    /// The framing a `Content-Type` announces.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let Some(ct) = content_type else {
            return Self::Other;
        };
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if ct == "text/event-stream" {
            Self::Sse
        } else if ct == "application/vnd.amazon.eventstream" {
            Self::EventStream
        } else if ct == "application/json" || ct.ends_with("+json") {
            Self::Json
        } else {
            Self::Other
        }
    }

    /// Whether the body is a stream of events.
    pub fn is_stream(self) -> bool {
        matches!(self, Self::Sse | Self::EventStream)
    }
}

/// What a [`BodyMeter`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metered {
    /// The model the response names (`model`, `modelVersion`...).
    pub model: Option<String>,
    /// Usage as the provider reported it.
    pub usage: Option<Usage>,
    /// An error the provider reported inside a successful response (an
    /// error event in a stream, an event-stream exception).
    pub error: Option<String>,
    /// Events seen (SSE data events, event-stream messages), for estimates.
    pub events: u64,
}

/// Reads a response body chunk by chunk.
#[derive(Debug)]
pub struct BodyMeter {
    framing: Framing,
    meter: Meter,
    sse: Option<SseDecoder>,
    events: Option<eventstream::Decoder>,
    json: Option<BytesMut>,
    /// The body could not be decoded further; the rest is not read.
    gave_up: bool,
}

impl BodyMeter {
    /// A meter for a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            meter: Meter::default(),
            sse: (framing == Framing::Sse).then(SseDecoder::default),
            events: (framing == Framing::EventStream).then(eventstream::Decoder::default),
            json: (framing == Framing::Json).then(BytesMut::new),
            gave_up: false,
        }
    }

    /// The framing this meter reads.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Reads one chunk of the body.
    pub fn push(&mut self, chunk: &Bytes) {
        if self.gave_up {
            return;
        }
        match self.framing {
            Framing::Json => {
                if let Some(buf) = &mut self.json {
                    if buf.len() + chunk.len() > MAX_JSON_BYTES {
                        self.json = None;
                        self.gave_up = true;
                    } else {
                        buf.extend_from_slice(chunk);
                    }
                }
            }
            Framing::Sse => {
                if let Some(dec) = &mut self.sse {
                    dec.push_bytes(chunk.clone());
                }
                self.drain_sse();
            }
            Framing::EventStream => {
                if let Some(dec) = &mut self.events {
                    dec.push(chunk);
                }
                self.drain_events();
            }
            Framing::Other => {}
        }
    }

    /// Ends the body and returns what was found.
    pub fn finish(&mut self) -> Metered {
        if !self.gave_up {
            if let Some(buf) = self.json.take() {
                self.meter.observe_bytes(&buf);
            }
            if let Some(dec) = &mut self.sse
                && let Ok(Some(ev)) = dec.finish()
            {
                self.meter.observe_sse(&ev.data);
            }
        }
        self.current()
    }

    /// What was found so far (for a body that ended early).
    pub fn current(&self) -> Metered {
        Metered {
            model: self.meter.model().map(str::to_owned),
            usage: self.meter.usage(),
            error: self.meter.error().map(str::to_owned),
            events: self.meter.events(),
        }
    }

    fn drain_sse(&mut self) {
        let Some(dec) = &mut self.sse else { return };
        loop {
            match dec.next_event() {
                Ok(Some(ev)) => self.meter.observe_sse(&ev.data),
                Ok(None) => return,
                Err(_) => {
                    self.gave_up = true;
                    self.sse = None;
                    return;
                }
            }
        }
    }

    fn drain_events(&mut self) {
        let Some(dec) = &mut self.events else { return };
        loop {
            match dec.next_message() {
                Ok(Some(msg)) => observe_message(&mut self.meter, &msg),
                Ok(None) => return,
                Err(_) => {
                    self.gave_up = true;
                    self.events = None;
                    return;
                }
            }
        }
    }
}

/// One AWS event-stream message: Converse `metadata` events carry usage;
/// InvokeModelWithResponseStream `chunk` events carry the model's own JSON
/// in base64 (`{"bytes": "..."}`), whose last one has Bedrock's invocation
/// metrics; exceptions are errors.
fn observe_message(meter: &mut Meter, msg: &eventstream::Message) {
    meter.count_event();
    match msg.header_str(":message-type") {
        Some("exception") | Some("error") => {
            let kind = msg
                .header_str(":exception-type")
                .or_else(|| msg.header_str(":error-code"))
                .unwrap_or("exception");
            let detail = serde_json::from_slice::<serde_json::Value>(&msg.payload)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .or_else(|| v.get("Message"))
                        .and_then(|m| m.as_str().map(str::to_owned))
                })
                .unwrap_or_default();
            meter.set_error(format!("{kind}: {detail}"));
        }
        _ => match msg.header_str(":event-type") {
            Some("metadata") => meter.observe_bytes(&msg.payload),
            Some("chunk") => {
                #[derive(serde::Deserialize)]
                struct Chunk {
                    bytes: String,
                }
                if let Ok(c) = serde_json::from_slice::<Chunk>(&msg.payload)
                    && let Ok(inner) = base64::engine::general_purpose::STANDARD.decode(c.bytes)
                {
                    meter.observe_bytes(&inner);
                }
            }
            _ => {}
        },
    }
}

/// Usage from Bedrock's `x-amzn-bedrock-input-token-count` and
/// `-output-token-count` response headers (InvokeModel), given their values.
pub fn bedrock_header_usage(input: Option<&str>, output: Option<&str>) -> Option<Usage> {
    let parse = |v: Option<&str>| v.and_then(|s| s.trim().parse::<u64>().ok());
    let (i, o) = (parse(input), parse(output));
    (i.is_some() || o.is_some()).then(|| Usage {
        prompt_tokens: i.unwrap_or(0),
        completion_tokens: o.unwrap_or(0),
        source: UsageSource::Provider,
        ..Usage::default()
    })
}

#[cfg(test)]
mod tests;
