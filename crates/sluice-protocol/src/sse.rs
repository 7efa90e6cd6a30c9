//! A byte-level Server-Sent Events decoder and encoder.
//!
//! Every streaming upstream that speaks SSE (OpenAI, Anthropic, Gemini with
//! `alt=sse`, Cohere) is parsed here, once, before any dialect translation.
//! The decoder follows the WHATWG event-stream rules: lines end in `\n`,
//! `\r\n` or `\r`; `data` lines accumulate; an empty line dispatches. It is
//! correct for any chunk boundary, including a `\r\n` split across two reads,
//! and it refuses events larger than a configured limit so that a broken or
//! hostile upstream cannot make the gateway buffer without bound.
//!
//! Single-line `data` payloads are returned as zero-copy slices of the input.

use bytes::{Buf, Bytes, BytesMut};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: Bytes,
    /// The `id:` field, if any.
    pub id: Option<String>,
}

impl SseEvent {
    /// The data as UTF-8, if it is.
    pub fn data_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// Why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A single event (or a line not yet terminated) grew past the limit.
    #[error("server-sent event larger than {limit} bytes")]
    EventTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
}

/// Default largest event accepted: 16 MiB, enough for a large tool-call
/// argument or a base64 image chunk, small enough to bound memory.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
enum Data {
    #[default]
    None,
    One(Bytes),
    Many(BytesMut),
}

/// Incremental decoder: [`push`](Self::push) bytes as they arrive, then drain
/// [`next_event`](Self::next_event) until it returns `Ok(None)`.
#[derive(Debug)]
pub struct SseDecoder {
    buf: BytesMut,
    event: Option<String>,
    id: Option<String>,
    data: Data,
    event_bytes: usize,
    max_event_bytes: usize,
    skip_lf: bool,
    started: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    /// A decoder that refuses events over `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            event: None,
            id: None,
            data: Data::None,
            event_bytes: 0,
            max_event_bytes,
            skip_lf: false,
            started: false,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Appends received bytes without copying when the buffer is empty.
    pub fn push_bytes(&mut self, chunk: Bytes) {
        if self.buf.is_empty() {
            self.buf = BytesMut::from(chunk);
        } else {
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Whether bytes of an unfinished event are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || !matches!(self.data, Data::None) || self.event.is_some()
    }

    /// The next complete event, if the buffered bytes hold one.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        loop {
            if self.skip_lf && !self.buf.is_empty() {
                if self.buf[0] == b'\n' {
                    self.buf.advance(1);
                }
                self.skip_lf = false;
            }
            if !self.started && !self.buf.is_empty() {
                if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf[..]) {
                    return Ok(None);
                }
                if self.buf.starts_with(b"\xEF\xBB\xBF") {
                    self.buf.advance(3);
                }
                self.started = true;
            }
            let Some(pos) = memchr::memchr2(b'\n', b'\r', &self.buf) else {
                if self.event_bytes + self.buf.len() > self.max_event_bytes {
                    return Err(self.too_large());
                }
                return Ok(None);
            };
            let line = self.buf.split_to(pos).freeze();
            if self.buf[0] == b'\r' {
                self.skip_lf = true;
            }
            self.buf.advance(1);
            if line.is_empty() {
                if let Some(ev) = self.dispatch() {
                    return Ok(Some(ev));
                }
                continue;
            }
            self.event_bytes += line.len() + 1;
            if self.event_bytes > self.max_event_bytes {
                return Err(self.too_large());
            }
            self.field(line);
        }
    }

    /// Ends the input. An event whose blank line never came is still
    /// returned if it carries data, so the caller can decide whether a
    /// missing terminator means the stream was cut.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseError> {
        if !self.buf.is_empty() {
            self.buf.extend_from_slice(b"\n");
        }
        if let Some(ev) = self.next_event()? {
            return Ok(Some(ev));
        }
        Ok(self.dispatch())
    }

    fn too_large(&mut self) -> SseError {
        self.buf.clear();
        self.data = Data::None;
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }

    fn field(&mut self, line: Bytes) {
        if line[0] == b':' {
            return;
        }
        let (name, value) = match memchr::memchr(b':', &line) {
            Some(colon) => {
                let start = if line.get(colon + 1) == Some(&b' ') {
                    colon + 2
                } else {
                    colon + 1
                };
                (line.slice(..colon), line.slice(start..))
            }
            None => (line.clone(), Bytes::new()),
        };
        match &name[..] {
            b"data" => {
                self.data = match std::mem::take(&mut self.data) {
                    Data::None => Data::One(value),
                    Data::One(first) => {
                        let mut m = BytesMut::with_capacity(first.len() + value.len() + 1);
                        m.extend_from_slice(&first);
                        m.extend_from_slice(b"\n");
                        m.extend_from_slice(&value);
                        Data::Many(m)
                    }
                    Data::Many(mut m) => {
                        m.extend_from_slice(b"\n");
                        m.extend_from_slice(&value);
                        Data::Many(m)
                    }
                }
            }
            b"event" => self.event = Some(String::from_utf8_lossy(&value).into_owned()),
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(&value).into_owned());
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        self.event_bytes = 0;
        let event = self.event.take();
        let data = match std::mem::take(&mut self.data) {
            Data::None => return None,
            Data::One(b) => b,
            Data::Many(m) => m.freeze(),
        };
        Some(SseEvent {
            event,
            data,
            id: self.id.clone(),
        })
    }
}

/// Encodes one event. `data` may contain newlines; each line becomes its own
/// `data:` field, as the format requires.
pub fn encode(event: Option<&str>, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 16 + event.map_or(0, |e| e.len() + 8));
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e.as_bytes());
        out.extend_from_slice(b"\n");
    }
    for line in data.split(|b| *b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"\n");
    out.freeze()
}

/// The OpenAI end-of-stream sentinel, `data: [DONE]`.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[cfg(test)]
mod tests;
