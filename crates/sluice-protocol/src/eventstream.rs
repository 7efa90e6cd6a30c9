//! The AWS event-stream binary framing (`application/vnd.amazon.eventstream`),
//! decoded incrementally and encoded.
//!
//! Bedrock's `ConverseStream` (and every other AWS streaming API) sends its
//! answer as a sequence of binary messages rather than SSE. Each message is:
//!
//! ```text
//! [total length: u32][headers length: u32][prelude CRC32: u32]
//! [headers: name-len u8, name, type u8, value ...]
//! [payload]
//! [message CRC32: u32]
//! ```
//!
//! all integers big-endian; the prelude CRC covers the first 8 bytes, the
//! message CRC everything before it. The [`Decoder`] runs on every chunk of
//! a streamed Bedrock response body before any translation: it is correct
//! for any chunk boundary, verifies both checksums, and refuses a message
//! larger than its limit as soon as the prelude announces it, so a broken
//! upstream cannot make the gateway buffer without bound. [`encode`] is the
//! inverse, used by the mock provider and by tests. Pure: no I/O.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes of the prelude (two lengths and their CRC).
const PRELUDE_LEN: usize = 12;
/// Bytes of framing around headers and payload (prelude and message CRC).
const OVERHEAD: usize = PRELUDE_LEN + 4;
/// Default largest message accepted: 16 MiB, the limit AWS documents.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Largest header section AWS allows (128 KiB).
const MAX_HEADERS_BYTES: usize = 128 * 1024;

/// A typed header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Bytes(Bytes),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl HeaderValue {
    fn type_byte(&self) -> u8 {
        match self {
            Self::Bool(true) => 0,
            Self::Bool(false) => 1,
            Self::Byte(_) => 2,
            Self::Int16(_) => 3,
            Self::Int32(_) => 4,
            Self::Int64(_) => 5,
            Self::Bytes(_) => 6,
            Self::String(_) => 7,
            Self::Timestamp(_) => 8,
            Self::Uuid(_) => 9,
        }
    }
}

/// One header: a name and a typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: HeaderValue,
}

impl Header {
    /// A string-valued header.
    pub fn string(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: HeaderValue::String(value.to_owned()),
        }
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub headers: Vec<Header>,
    pub payload: Bytes,
}

impl Message {
    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| &h.value)
    }

    /// The value of string header `name`, if it is a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        match self.header(name)? {
            HeaderValue::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Why decoding stopped. After an error the decoder returns it again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventStreamError {
    /// The prelude's checksum does not match its bytes.
    #[error("event-stream prelude checksum mismatch")]
    PreludeChecksum,
    /// The message's checksum does not match its bytes.
    #[error("event-stream message checksum mismatch")]
    MessageChecksum,
    /// A message announced more bytes than the limit.
    #[error("event-stream message of {len} bytes is larger than the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    /// The lengths in the prelude are inconsistent.
    #[error("event-stream prelude has inconsistent lengths (total {total}, headers {headers})")]
    BadLengths { total: usize, headers: usize },
    /// A header does not parse.
    #[error("event-stream header is malformed: {0}")]
    BadHeader(&'static str),
    /// The body ended inside a message.
    #[error("event-stream ended inside a message ({0} bytes left over)")]
    Truncated(usize),
}

impl EventStreamError {
    /// The gateway's error kind for this failure: a body that ended inside a
    /// message was cut short; anything else is a protocol violation.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            Self::Truncated(_) => crate::ErrorKind::StreamInterrupted,
            _ => crate::ErrorKind::UpstreamProtocol,
        }
    }
}

/// Incremental decoder: [`push`](Self::push) bytes as they arrive, then
/// drain [`next_message`](Self::next_message) until it returns `Ok(None)`;
/// call [`finish`](Self::finish) when the body ends.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_message_bytes: usize,
    failed: Option<EventStreamError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE_BYTES)
    }
}

impl Decoder {
    /// A decoder that refuses messages over `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_message_bytes: max_message_bytes.max(OVERHEAD),
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, EventStreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.decode_one() {
            Ok(m) => Ok(m),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Checks the body ended on a message boundary.
    pub fn finish(&self) -> Result<(), EventStreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(EventStreamError::Truncated(self.buf.len()))
        }
    }

    fn decode_one(&mut self) -> Result<Option<Message>, EventStreamError> {
        if self.buf.len() < PRELUDE_LEN {
            return Ok(None);
        }
        let total = be_u32(&self.buf[0..4]) as usize;
        let headers = be_u32(&self.buf[4..8]) as usize;
        if crc32fast::hash(&self.buf[0..8]) != be_u32(&self.buf[8..12]) {
            return Err(EventStreamError::PreludeChecksum);
        }
        if total > self.max_message_bytes {
            return Err(EventStreamError::TooLarge {
                len: total,
                limit: self.max_message_bytes,
            });
        }
        if total < OVERHEAD || headers > total - OVERHEAD || headers > MAX_HEADERS_BYTES {
            return Err(EventStreamError::BadLengths { total, headers });
        }
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        let frame = self.buf.split_to(total).freeze();
        let body_end = total - 4;
        if crc32fast::hash(&frame[..body_end]) != be_u32(&frame[body_end..]) {
            return Err(EventStreamError::MessageChecksum);
        }
        let headers_end = PRELUDE_LEN + headers;
        let headers = parse_headers(frame.slice(PRELUDE_LEN..headers_end))?;
        Ok(Some(Message {
            headers,
            payload: frame.slice(headers_end..body_end),
        }))
    }
}

fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

fn take(buf: &mut Bytes, n: usize) -> Result<Bytes, EventStreamError> {
    if buf.remaining() < n {
        return Err(EventStreamError::BadHeader("truncated header"));
    }
    Ok(buf.split_to(n))
}

fn parse_headers(mut buf: Bytes) -> Result<Vec<Header>, EventStreamError> {
    let mut out = Vec::new();
    while buf.has_remaining() {
        let name_len = take(&mut buf, 1)?[0] as usize;
        if name_len == 0 {
            return Err(EventStreamError::BadHeader("empty header name"));
        }
        let name = String::from_utf8(take(&mut buf, name_len)?.to_vec())
            .map_err(|_| EventStreamError::BadHeader("header name is not UTF-8"))?;
        let kind = take(&mut buf, 1)?[0];
        let value =
            match kind {
                0 => HeaderValue::Bool(true),
                1 => HeaderValue::Bool(false),
                2 => HeaderValue::Byte(take(&mut buf, 1)?.get_i8()),
                3 => HeaderValue::Int16(take(&mut buf, 2)?.get_i16()),
                4 => HeaderValue::Int32(take(&mut buf, 4)?.get_i32()),
                5 => HeaderValue::Int64(take(&mut buf, 8)?.get_i64()),
                6 | 7 => {
                    let len = take(&mut buf, 2)?.get_u16() as usize;
                    let bytes = take(&mut buf, len)?;
                    if kind == 6 {
                        HeaderValue::Bytes(bytes)
                    } else {
                        HeaderValue::String(String::from_utf8(bytes.to_vec()).map_err(|_| {
                            EventStreamError::BadHeader("string header is not UTF-8")
                        })?)
                    }
                }
                8 => HeaderValue::Timestamp(take(&mut buf, 8)?.get_i64()),
                9 => {
                    let mut id = [0u8; 16];
                    id.copy_from_slice(&take(&mut buf, 16)?);
                    HeaderValue::Uuid(id)
                }
                _ => return Err(EventStreamError::BadHeader("unknown header value type")),
            };
        out.push(Header { name, value });
    }
    Ok(out)
}

/// Encodes one message. Names longer than 255 bytes and string or byte
/// values longer than 65535 bytes are cut to fit, as the format requires.
pub fn encode(msg: &Message) -> Bytes {
    let mut headers = BytesMut::new();
    for h in &msg.headers {
        let name = &h.name.as_bytes()[..h.name.len().min(255)];
        headers.put_u8(name.len() as u8);
        headers.put_slice(name);
        headers.put_u8(h.value.type_byte());
        match &h.value {
            HeaderValue::Bool(_) => {}
            HeaderValue::Byte(v) => headers.put_i8(*v),
            HeaderValue::Int16(v) => headers.put_i16(*v),
            HeaderValue::Int32(v) => headers.put_i32(*v),
            HeaderValue::Int64(v) | HeaderValue::Timestamp(v) => headers.put_i64(*v),
            HeaderValue::Bytes(b) => put_short_bytes(&mut headers, b),
            HeaderValue::String(s) => put_short_bytes(&mut headers, s.as_bytes()),
            HeaderValue::Uuid(id) => headers.put_slice(id),
        }
    }
    let total = OVERHEAD + headers.len() + msg.payload.len();
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(u32::try_from(total).unwrap_or(u32::MAX));
    out.put_u32(u32::try_from(headers.len()).unwrap_or(u32::MAX));
    let prelude_crc = crc32fast::hash(&out[..8]);
    out.put_u32(prelude_crc);
    out.put_slice(&headers);
    out.put_slice(&msg.payload);
    let crc = crc32fast::hash(&out);
    out.put_u32(crc);
    out.freeze()
}

fn put_short_bytes(out: &mut BytesMut, b: &[u8]) {
    let b = &b[..b.len().min(usize::from(u16::MAX))];
    out.put_u16(b.len() as u16);
    out.put_slice(b);
}

/// An AWS event message: `:message-type: event`, `:event-type`, JSON payload.
pub fn event(event_type: &str, payload: &[u8]) -> Message {
    Message {
        headers: vec![
            Header::string(":event-type", event_type),
            Header::string(":content-type", "application/json"),
            Header::string(":message-type", "event"),
        ],
        payload: Bytes::copy_from_slice(payload),
    }
}

/// An AWS exception message: `:message-type: exception`, `:exception-type`.
pub fn exception(exception_type: &str, payload: &[u8]) -> Message {
    Message {
        headers: vec![
            Header::string(":exception-type", exception_type),
            Header::string(":content-type", "application/json"),
            Header::string(":message-type", "exception"),
        ],
        payload: Bytes::copy_from_slice(payload),
    }
}

#[cfg(test)]
mod tests;
