//! Idle and total deadlines on a chunk stream.
//!
//! Wraps the stream handed to the response writer. If no chunk arrives for
//! `idle`, or the whole stream outlives its total deadline, the stream yields
//! one [`ErrorKind::UpstreamTimeout`] error and ends; dropping it cancels the
//! upstream request.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use pin_project_lite::pin_project;
use sluice_protocol::{Error, ErrorKind};
use tokio::time::{Instant, Sleep, sleep, sleep_until};

use crate::provider::{Chunk, ChunkStream};

pin_project! {
    /// A [`ChunkStream`] with deadlines.
    pub struct Deadlines {
        inner: ChunkStream,
        #[pin]
        idle_timer: Sleep,
        #[pin]
        total_timer: Sleep,
        idle: Duration,
        provider: String,
        done: bool,
    }
}

impl Deadlines {
    /// Wraps `inner`.
    pub fn new(inner: ChunkStream, idle: Duration, total: Instant, provider: String) -> Self {
        Self {
            inner,
            idle_timer: sleep(idle),
            total_timer: sleep_until(total),
            idle,
            provider,
            done: false,
        }
    }
}

impl Stream for Deadlines {
    type Item = Result<Chunk, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                if item.is_err() {
                    *this.done = true;
                }
                this.idle_timer.as_mut().reset(Instant::now() + *this.idle);
                return Poll::Ready(Some(item));
            }
            Poll::Ready(None) => {
                *this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        let which = if this.total_timer.as_mut().poll(cx).is_ready() {
            "its total deadline passed"
        } else if this.idle_timer.as_mut().poll(cx).is_ready() {
            "it sent nothing for longer than the idle timeout"
        } else {
            return Poll::Pending;
        };
        *this.done = true;
        let err = Error::new(
            ErrorKind::UpstreamTimeout,
            format!("upstream `{}` stream stopped: {which}", this.provider),
        )
        .with_provider(this.provider.as_str());
        Poll::Ready(Some(Err(err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::StreamExt;

    fn chunk() -> Result<Chunk, Error> {
        Ok(Chunk {
            data: Bytes::from_static(b"{}"),
            usage: None,
            usage_only: false,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn idle_gap_ends_the_stream_with_a_timeout() {
        let inner = futures_util::stream::iter([chunk()])
            .chain(futures_util::stream::pending())
            .boxed();
        let mut s = Box::pin(Deadlines::new(
            inner,
            Duration::from_secs(5),
            Instant::now() + Duration::from_secs(60),
            "p".into(),
        ));
        assert!(s.next().await.unwrap().is_ok());
        let started = Instant::now();
        let err = s.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UpstreamTimeout);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert!(s.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn total_deadline_applies_even_when_chunks_flow() {
        let inner = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((chunk(), ()))
        })
        .boxed();
        let start = Instant::now();
        let mut s = Box::pin(Deadlines::new(
            inner,
            Duration::from_secs(5),
            start + Duration::from_millis(3500),
            "p".into(),
        ));
        let mut oks = 0;
        while let Some(item) = s.next().await {
            match item {
                Ok(_) => oks += 1,
                Err(e) => {
                    assert!(e.message().contains("total"));
                    break;
                }
            }
        }
        assert_eq!(oks, 3);
        assert_eq!(start.elapsed(), Duration::from_millis(3500));
    }
}
