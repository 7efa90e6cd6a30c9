//! Timed streaming with injected faults, shared by every wire format.
//!
//! A format builds its SSE frames (the counted chunks, then the closing
//! frames such as usage and `[DONE]`) plus what it would send as an in-band
//! error; [`respond`] plays them out with the request's timing and faults
//! and records how the response ended.

use std::io;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, header};

use crate::behavior::Behavior;
use crate::state::MockState;

/// Marks the request `disconnected` unless the response completed.
pub struct Guard {
    state: MockState,
    seq: u64,
    completed: bool,
}

impl Guard {
    /// A guard for request `seq`.
    pub fn new(state: MockState, seq: u64) -> Self {
        Self {
            state,
            seq,
            completed: false,
        }
    }

    /// The response ended as intended.
    pub fn complete(&mut self) {
        self.completed = true;
        self.state.set_outcome(self.seq, "completed");
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.completed {
            self.state.set_outcome(self.seq, "disconnected");
        }
    }
}

/// What to stream.
pub struct Script {
    /// Counted chunks (faults refer to their positions).
    pub chunks: Vec<Bytes>,
    /// Frames after the chunks: usage, terminators.
    pub tail: Vec<Bytes>,
    /// The in-band error event this format uses.
    pub error_frame: Bytes,
    /// A malformed frame for this format.
    pub malformed_frame: Bytes,
    /// Response content type.
    pub content_type: &'static str,
}

enum Step {
    Send(Bytes),
    Abort,
    Stall,
    Done,
}

/// Streams `script` with `b`'s timing and faults.
pub fn respond(script: Script, b: &Behavior, guard: Guard) -> Response {
    let mut plan: Vec<Step> = Vec::with_capacity(script.chunks.len() + script.tail.len() + 1);
    let mut ended_early = false;
    for (i, chunk) in script.chunks.into_iter().enumerate() {
        if b.cut_after == Some(i) {
            plan.push(Step::Abort);
            ended_early = true;
            break;
        }
        if b.error_after == Some(i) {
            plan.push(Step::Send(script.error_frame.clone()));
            plan.push(Step::Done);
            ended_early = true;
            break;
        }
        if b.malformed_after == Some(i) {
            plan.push(Step::Send(script.malformed_frame.clone()));
            plan.push(Step::Done);
            ended_early = true;
            break;
        }
        if b.stall_after == Some(i) {
            plan.push(Step::Stall);
            ended_early = true;
            break;
        }
        plan.push(Step::Send(chunk));
    }
    if !ended_early {
        plan.extend(script.tail.into_iter().map(Step::Send));
        plan.push(Step::Done);
    }
    let ttft = b.ttft();
    let itl = b.itl();
    let st = (plan.into_iter(), guard, 0usize);
    let stream = futures_util::stream::unfold(st, move |(mut plan, mut guard, n)| async move {
        let step = plan.next()?;
        if let Step::Send(_) = step {
            let delay = if n == 0 { ttft } else { itl };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
        match step {
            Step::Send(b) => Some((Ok(b), (plan, guard, n + 1))),
            Step::Abort => {
                // Let the chunks already queued reach the wire before the cut.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let cut = io::Error::new(io::ErrorKind::ConnectionAborted, "mock cut the stream");
                Some((Err(cut), (plan, guard, n)))
            }
            Step::Stall => {
                futures_util::future::pending::<()>().await;
                None
            }
            Step::Done => {
                guard.complete();
                None
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(stream.boxed()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(script.content_type),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Frames one SSE `data:` event.
pub fn data(payload: &str) -> Bytes {
    Bytes::from(format!("data: {payload}\n\n"))
}
