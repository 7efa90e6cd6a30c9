//! Storing a streamed answer: the chunks pass through to the client
//! unchanged while a copy is kept; when the upstream ends normally the copy
//! is handed to `on_complete` (which stores it). A stream that breaks, is
//! cut by the client, or outgrows the size bound is never stored.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use sluice_protocol::Error;

use super::entry::StoredChunk;
use crate::provider::{Chunk, ChunkStream};

/// Called once with every chunk of a stream that ended normally.
pub type OnComplete = Box<dyn FnOnce(Vec<StoredChunk>) + Send>;

/// The stream, copied as it passes.
pub fn tee(inner: ChunkStream, max_bytes: usize, on_complete: OnComplete) -> ChunkStream {
    Tee {
        inner,
        kept: Some(Vec::new()),
        bytes: 0,
        max_bytes,
        on_complete: Some(on_complete),
    }
    .boxed()
}

struct Tee {
    inner: ChunkStream,
    /// `None` once the copy was abandoned.
    kept: Option<Vec<StoredChunk>>,
    bytes: usize,
    max_bytes: usize,
    on_complete: Option<OnComplete>,
}

impl Stream for Tee {
    type Item = Result<Chunk, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = std::task::ready!(self.inner.as_mut().poll_next(cx));
        match &next {
            Some(Ok(chunk)) => {
                self.bytes += chunk.data.len();
                let over = self.bytes > self.max_bytes;
                let stored = StoredChunk::of(chunk);
                match (stored, over) {
                    (Some(c), false) => {
                        if let Some(k) = self.kept.as_mut() {
                            k.push(c);
                        }
                    }
                    _ => self.kept = None,
                }
            }
            Some(Err(_)) => {
                self.kept = None;
                self.on_complete = None;
            }
            None => {
                if let (Some(kept), Some(f)) = (self.kept.take(), self.on_complete.take()) {
                    f(kept);
                }
            }
        }
        Poll::Ready(next)
    }
}
