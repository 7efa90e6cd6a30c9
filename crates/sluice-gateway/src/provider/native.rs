//! Native pass-through streams: an upstream speaking the client's own API
//! (Anthropic Messages, the Responses API) is streamed back untouched.
//!
//! Each SSE event becomes one [`Chunk`] whose `data` is the event's payload
//! exactly as received (the response writer names each event after its
//! `type`, as both APIs do). The events are inspected on the way
//! (`sluice_protocol::passthrough`) for usage, the terminal event and errors:
//! an error event becomes the stream's one `Err`, so before the first chunk it
//! can still be retried on another target, and after it the client gets an
//! error event in its dialect. A stream that closes before its terminal event
//! ends with [`ErrorKind::StreamInterrupted`], never as a clean end.

use futures_util::{Stream, StreamExt};
use sluice_protocol::passthrough::{Inspected, MessagesTracker, responses_event};
use sluice_protocol::sse::SseEvent;
use sluice_protocol::{Error, ErrorKind};

use super::{Chunk, ChunkStream};

/// An Anthropic Messages stream, passed through.
pub fn messages_stream<S>(events: S, provider: String) -> ChunkStream
where
    S: Stream<Item = Result<SseEvent, Error>> + Send + 'static,
{
    let mut tracker = MessagesTracker::default();
    drive(events, provider, "Anthropic", move |data| {
        tracker.on_event(data)
    })
}

/// A Responses API stream, passed through.
pub fn responses_stream<S>(events: S, provider: String) -> ChunkStream
where
    S: Stream<Item = Result<SseEvent, Error>> + Send + 'static,
{
    drive(events, provider, "Responses", responses_event)
}

fn drive<S, F>(events: S, provider: String, format: &'static str, inspect: F) -> ChunkStream
where
    S: Stream<Item = Result<SseEvent, Error>> + Send + 'static,
    F: FnMut(&[u8]) -> Result<Inspected, Error> + Send + 'static,
{
    struct St<S, F> {
        events: std::pin::Pin<Box<S>>,
        inspect: F,
        provider: String,
        format: &'static str,
        over: bool,
    }
    let st = St {
        events: Box::pin(events),
        inspect,
        provider,
        format,
        over: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.over {
            return None;
        }
        let fail = |st: &mut St<_, _>, e: Error| {
            st.over = true;
            Err(e.with_provider(&st.provider))
        };
        loop {
            let ev = match st.events.next().await {
                Some(Ok(ev)) => ev,
                Some(Err(e)) => return Some((fail(&mut st, e), st)),
                None => {
                    let e = Error::new(
                        ErrorKind::StreamInterrupted,
                        format!(
                            "upstream `{}` closed the {} stream before it finished",
                            st.provider, st.format
                        ),
                    );
                    return Some((fail(&mut st, e), st));
                }
            };
            if ev.data.trim_ascii() == b"[DONE]" {
                continue;
            }
            return match (st.inspect)(&ev.data) {
                Ok(i) => {
                    st.over = i.end;
                    let chunk = Chunk {
                        data: ev.data,
                        usage: i.usage,
                        usage_only: false,
                    };
                    Some((Ok(chunk), st))
                }
                Err(e) => Some((fail(&mut st, e), st)),
            };
        }
    })
    .boxed()
}
