//! A prediction's event stream (`GET urls.stream`) → OpenAI chunks.
//!
//! Events: `output` (plain text, one piece of the answer), `error` (JSON
//! `{"detail": ...}`), `done` (JSON: `{}` on success, or with a `reason`
//! such as `canceled` or `error`). Each `output` becomes a content delta.
//! `done` without a reason is the terminal event; the stream carries no
//! token counts, so the caller fetches the finished prediction and calls
//! [`ReplicateStream::finish`] with its `metrics` to emit the finish chunk
//! and the usage chunk. A stream that closes before `done` is interrupted.

use super::convert::{finish_reason, usage};
use super::error::{canceled, from_failed, from_stream_error};
use super::wire::{Done, Metrics};
use crate::Error;
use crate::openai::chat::{ChatChunk, Delta, WireUsage};
use crate::sse::SseEvent;
use crate::stream::{StreamMachine, bad_event, interrupted};

const FORMAT: &str = "Replicate";

/// The translator for one prediction stream.
pub struct ReplicateStream {
    id: String,
    model: String,
    created: u64,
    max_tokens: Option<u64>,
    started: bool,
    done: bool,
    finished: bool,
}

impl ReplicateStream {
    /// A translator for prediction `id` of `model`; `max_tokens` is the cap
    /// the request asked for (to tell `length` from `stop`).
    pub fn new(id: &str, created: u64, model: &str, max_tokens: Option<u64>) -> Self {
        Self {
            id: id.to_owned(),
            model: model.to_owned(),
            created,
            max_tokens,
            started: false,
            done: false,
            finished: false,
        }
    }

    /// Whether `done` was seen (the prediction succeeded).
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn chunk(&mut self, content: Option<String>, finish: Option<&str>) -> ChatChunk {
        let role = (!self.started).then(|| "assistant".to_owned());
        self.started = true;
        let delta = Delta {
            role,
            content,
            ..Delta::default()
        };
        ChatChunk::delta(&self.id, self.created, &self.model, delta, finish)
    }

    /// The finish chunk and, when `metrics` has token counts, the usage
    /// chunk. Call once, after `done`; later calls return nothing.
    pub fn finish(&mut self, metrics: Option<&Metrics>) -> Vec<ChatChunk> {
        if !self.done || self.finished {
            return Vec::new();
        }
        self.finished = true;
        let content = (!self.started).then(String::new);
        let mut out = vec![self.chunk(content, Some(finish_reason(metrics, self.max_tokens)))];
        if let Some(u) = usage(metrics) {
            out.push(ChatChunk::usage(
                &self.id,
                self.created,
                &self.model,
                WireUsage::from(u),
            ));
        }
        out
    }
}

impl StreamMachine for ReplicateStream {
    type Event = SseEvent;

    fn on_event(&mut self, event: SseEvent) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        match event.event.as_deref() {
            Some("output") => {
                let text = String::from_utf8_lossy(&event.data).into_owned();
                if text.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![self.chunk(Some(text), None)])
            }
            Some("error") => Err(from_stream_error(&event.data)),
            Some("done") => {
                let done: Done = if event.data.trim_ascii().is_empty() {
                    Done::default()
                } else {
                    serde_json::from_slice(&event.data).map_err(|e| bad_event(FORMAT, &e))?
                };
                match done.reason.as_deref() {
                    None | Some("") => {
                        self.done = true;
                        Ok(Vec::new())
                    }
                    Some("canceled") => Err(canceled(&self.id)),
                    Some(other) => Err(from_failed(Some(&serde_json::Value::String(format!(
                        "the stream ended with reason `{other}`"
                    ))))),
                }
            }
            // Events added to the API later (and comments) are ignored.
            _ => Ok(Vec::new()),
        }
    }

    fn on_end(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(interrupted(FORMAT))
        }
    }
}
