//! Writing a chunk stream to a client of another API (Anthropic Messages,
//! the Responses API, legacy completions) as Server-Sent Events.
//!
//! The surface decides what each chunk becomes ([`Frames`]): a translator
//! for chat chunks from a provider of another API, or [`NativeFrames`] for
//! events passed through from a provider of the client's own API. This
//! writer does the rest, like the chat writer (`super::sse`): frames go out
//! as soon as they are produced; the stream always ends with the surface's
//! terminal events after a normal end, or with one error event in the
//! client's dialect when the upstream broke, never a silent close. It settles
//! the request record: time to first token, usage at the end (estimated when
//! the upstream reported none) and the outcome. If the client goes away, the
//! body is dropped, which drops (and cancels) the upstream stream; the usage
//! seen so far is recorded and the record ends as `client_cancelled`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use sluice_protocol::anthropic::ingress::events::error_event as anthropic_error;
use sluice_protocol::openai::responses::events::error_event as responses_error;
use sluice_protocol::{Error, Usage, sse};

use crate::provider::{ChatInput, Chunk, ChunkStream, NativeApi};
use crate::record::{RecordHandle, ms};
use crate::tokens;

/// What a surface writes for the chunks of a stream.
#[async_trait]
pub trait Frames: Send + 'static {
    /// The frames for one chunk; none to skip it. An error ends the stream.
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error>;

    /// The frames that end a stream that finished normally. Runs before the
    /// last frames are sent (the Responses API stores the conversation here,
    /// so a client that continues at once finds it).
    async fn end(&mut self) -> Vec<Bytes>;

    /// The one frame that ends a broken stream.
    fn error(&mut self, e: &Error) -> Bytes;
}

/// The SSE body for `stream`, written by `frames`.
pub fn body<F: Frames>(
    stream: ChunkStream,
    frames: F,
    record: RecordHandle,
    input: Arc<ChatInput>,
) -> Body {
    let st = Writer {
        inner: stream,
        frames,
        record,
        input,
        pending: VecDeque::new(),
        ended: false,
        sent: 0,
        usage: None,
    };
    Body::from_stream(futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(b) = st.pending.pop_front() {
                return Some((Ok::<Bytes, Infallible>(b), st));
            }
            if st.ended {
                return None;
            }
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    if chunk.usage.is_some() {
                        st.usage = chunk.usage;
                    }
                    match st.frames.chunk(&chunk) {
                        Ok(frames) if frames.is_empty() => {}
                        Ok(frames) => {
                            if st.sent == 0 {
                                let ttft = ms(st.record.elapsed());
                                st.record.update(|r| r.ttft_ms = Some(ttft));
                            }
                            st.sent += 1;
                            st.pending.extend(frames);
                        }
                        Err(e) => st.fail(&e),
                    }
                }
                Some(Err(e)) => st.fail(&e),
                None => {
                    st.ended = true;
                    st.settle_usage();
                    let end = st.frames.end().await;
                    st.pending.extend(end);
                    st.record.finish_ok();
                }
            }
        }
    }))
}

struct Writer<F> {
    inner: ChunkStream,
    frames: F,
    record: RecordHandle,
    input: Arc<ChatInput>,
    pending: VecDeque<Bytes>,
    ended: bool,
    /// Chunks that produced frames so far.
    sent: u64,
    usage: Option<Usage>,
}

impl<F: Frames> Writer<F> {
    fn fail(&mut self, e: &Error) {
        self.ended = true;
        self.settle_usage();
        self.record.finish_err(e, true);
        self.pending.push_back(self.frames.error(e));
    }
}

impl<F> Writer<F> {
    /// Records usage: the upstream's, else an estimate from what was sent.
    fn settle_usage(&mut self) {
        let usage = self.usage.take().unwrap_or_else(|| {
            tokens::estimated(tokens::prompt_of(&self.input), self.sent.saturating_sub(1))
        });
        self.record.set_usage(usage);
    }
}

impl<F> Drop for Writer<F> {
    fn drop(&mut self) {
        if !self.ended {
            // The client went away mid-stream; the record's own drop marks
            // it cancelled. Keep what we know about usage.
            self.settle_usage();
        }
    }
}

/// One `data:` frame, for the OpenAI-style surfaces without event names.
pub fn data_frame(data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(data.len() + 8);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(data);
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

/// One named event, for the surfaces whose events carry a `type`.
pub fn named_frame(name: &str, data: &[u8]) -> Bytes {
    sse::encode(Some(name), data)
}

/// A JSON value as a `data:` or named frame.
pub fn json_frame(name: Option<&str>, v: &impl serde::Serialize) -> Bytes {
    let data = serde_json::to_vec(v).unwrap_or_default();
    match name {
        Some(n) => named_frame(n, &data),
        None => data_frame(&data),
    }
}

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    sequence_number: Option<u64>,
}

/// Events passed through from a provider of the client's own API.
pub struct NativeFrames {
    api: NativeApi,
    /// Completions: the client asked for the usage-only chunk.
    client_usage: bool,
    /// Responses: the last `sequence_number` seen.
    last_seq: Option<u64>,
}

impl NativeFrames {
    /// Frames for a stream in `api`; `client_usage` as in the chat writer.
    pub fn new(api: NativeApi, client_usage: bool) -> Self {
        Self {
            api,
            client_usage,
            last_seq: None,
        }
    }
}

#[async_trait]
impl Frames for NativeFrames {
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error> {
        if self.api == NativeApi::OpenAiCompletions {
            if chunk.usage_only && !self.client_usage {
                return Ok(Vec::new());
            }
            return Ok(vec![data_frame(&chunk.data)]);
        }
        let head: EventHead<'_> = serde_json::from_slice(&chunk.data).unwrap_or(EventHead {
            kind: None,
            sequence_number: None,
        });
        if head.sequence_number.is_some() {
            self.last_seq = head.sequence_number;
        }
        Ok(vec![match head.kind {
            Some(name) => named_frame(&name, &chunk.data),
            None => data_frame(&chunk.data),
        }])
    }

    async fn end(&mut self) -> Vec<Bytes> {
        match self.api {
            NativeApi::OpenAiCompletions => vec![Bytes::from_static(sse::DONE)],
            _ => Vec::new(),
        }
    }

    fn error(&mut self, e: &Error) -> Bytes {
        match self.api {
            NativeApi::AnthropicMessages => json_frame(Some("error"), &anthropic_error(e)),
            NativeApi::OpenAiResponses => {
                let seq = self.last_seq.map_or(0, |s| s + 1);
                json_frame(Some("error"), &responses_error(e, seq))
            }
            NativeApi::OpenAiCompletions => json_frame(None, &e.to_openai_json()),
        }
    }
}
