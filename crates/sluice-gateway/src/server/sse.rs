//! Writing a chunk stream to an OpenAI client as Server-Sent Events.
//!
//! Each chunk goes out as soon as it arrives, as `data: {json}\n\n`. The
//! stream always ends with a correct terminal event: `data: [DONE]` after a
//! normal end, or one `data: {"error": {...}}` event when the upstream broke
//! (the OpenAI SDKs raise it as an `APIError`); never a silent close.
//!
//! The writer also settles the request record: time to first token on the
//! first chunk, usage at the end (estimated if the upstream reported none),
//! and the outcome. If the client goes away, the body is dropped, which
//! drops the upstream stream (cancelling the upstream request); usage seen
//! so far is recorded and the record ends as `client_cancelled`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use sluice_protocol::{Usage, sse};

use crate::provider::{ChatInput, ChunkStream};
use crate::record::{RecordHandle, ms};
use crate::tokens;

/// The SSE body for `stream`. `client_usage`: the client asked for
/// `stream_options.include_usage`, so the usage-only chunk is kept.
pub fn openai_body(
    stream: ChunkStream,
    client_usage: bool,
    record: RecordHandle,
    input: Arc<ChatInput>,
) -> Body {
    Body::from_stream(OpenAiSse {
        inner: stream,
        client_usage,
        record,
        input,
        ended: false,
        sent: 0,
        usage: None,
    })
}

struct OpenAiSse {
    inner: ChunkStream,
    client_usage: bool,
    record: RecordHandle,
    input: Arc<ChatInput>,
    ended: bool,
    /// Chunks sent to the client so far.
    sent: u64,
    usage: Option<Usage>,
}

impl OpenAiSse {
    /// Records usage: the upstream's, else an estimate from what was sent.
    fn settle_usage(&mut self) {
        let usage = self.usage.take().unwrap_or_else(|| {
            // OpenAI-style streams carry about one token per content chunk.
            tokens::estimated(tokens::prompt_of(&self.input), self.sent.saturating_sub(1))
        });
        self.record.set_usage(usage);
    }
}

/// The `model` a chunk names (the model that answered, for the record).
fn chunk_model(data: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        model: Option<String>,
    }
    serde_json::from_slice::<Head>(data)
        .ok()?
        .model
        .filter(|m| !m.is_empty())
}

fn frame(data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(data.len() + 8);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(data);
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

impl Stream for OpenAiSse {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            match std::task::ready!(self.inner.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => {
                    if chunk.usage.is_some() {
                        self.usage = chunk.usage;
                    }
                    if chunk.usage_only && !self.client_usage {
                        continue;
                    }
                    if self.sent == 0 {
                        let ttft = ms(self.record.elapsed());
                        let model = chunk_model(&chunk.data);
                        self.record.update(|r| {
                            r.ttft_ms = Some(ttft);
                            if model.is_some() {
                                r.meta.response_model = model;
                            }
                        });
                    }
                    self.sent += 1;
                    return Poll::Ready(Some(Ok(frame(&chunk.data))));
                }
                Some(Err(e)) => {
                    self.ended = true;
                    self.settle_usage();
                    self.record.finish_err(&e, true);
                    let body = serde_json::to_vec(&e.to_openai_json()).unwrap_or_default();
                    return Poll::Ready(Some(Ok(sse::encode(None, &body))));
                }
                None => {
                    self.ended = true;
                    self.settle_usage();
                    self.record.finish_ok();
                    return Poll::Ready(Some(Ok(Bytes::from_static(sse::DONE))));
                }
            }
        }
    }
}

impl Drop for OpenAiSse {
    fn drop(&mut self) {
        if !self.ended {
            // The client went away mid-stream; the record's own drop marks
            // it cancelled. Keep what we know about usage.
            self.settle_usage();
        }
    }
}
