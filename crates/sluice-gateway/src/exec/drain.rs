//! The shutdown cut-off for streams.
//!
//! Every chat stream the executor hands to a response writer is wrapped
//! here. When the listener's drain deadline passes (see
//! [`crate::server::serve`]) the gateway's drain token is cancelled and each
//! stream still open yields one [`ErrorKind::Overloaded`] error and ends, so
//! the writer sends its dialect's terminal error event (a client retries
//! elsewhere) and the record closes as a stream error. Dropping the inner
//! stream cancels the upstream request.

use futures_util::{StreamExt, stream};
use sluice_protocol::{Error, ErrorKind};
use tokio_util::sync::CancellationToken;

use crate::provider::ChunkStream;

/// `inner`, ended with an error as soon as `drain` is cancelled.
pub fn cut_off(inner: ChunkStream, drain: CancellationToken) -> ChunkStream {
    let stop = Box::pin(drain.cancelled_owned());
    stream::unfold(Some((inner, stop)), |state| async move {
        let (mut inner, mut stop) = state?;
        tokio::select! {
            biased;
            item = inner.next() => {
                let item = item?;
                let more = item.is_ok().then_some((inner, stop));
                Some((item, more))
            }
            () = &mut stop => Some((Err(shutting_down()), None)),
        }
    })
    .boxed()
}

fn shutting_down() -> Error {
    Error::new(
        ErrorKind::Overloaded,
        "The gateway is shutting down and its drain deadline passed; retry the request.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Chunk;
    use bytes::Bytes;

    fn chunk() -> Result<Chunk, Error> {
        Ok(Chunk {
            data: Bytes::from_static(b"{}"),
            usage: None,
            usage_only: false,
        })
    }

    #[tokio::test]
    async fn a_cancelled_drain_ends_an_open_stream_with_one_error() {
        let token = CancellationToken::new();
        let inner = stream::iter([chunk()]).chain(stream::pending()).boxed();
        let mut s = cut_off(inner, token.clone());
        assert!(s.next().await.is_some_and(|c| c.is_ok()));
        token.cancel();
        let err = s.next().await.and_then(Result::err);
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Overloaded));
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_that_ends_first_is_untouched() {
        let token = CancellationToken::new();
        let mut s = cut_off(stream::iter([chunk(), chunk()]).boxed(), token);
        assert_eq!(s.by_ref().count().await, 2);
    }
}
