//! TGI token stream → OpenAI chunks.
//!
//! Each `data:` event carries one generated token; its text becomes a
//! content delta unless the token is special (`</s>`, `<|eot_id|>`). The last
//! event also carries `generated_text` and `details` (finish reason, counts):
//! it ends the stream with the finish chunk and, when `details` has both
//! `input_length` and `generated_tokens`, the usage chunk. An event with
//! `error` is an error inside the 200 stream. A stream that closes before
//! the last event is interrupted.

use super::convert::{finish_reason, usage};
use super::error::from_error_body;
use super::wire::{ErrorResponse, StreamResponse};
use crate::Error;
use crate::openai::chat::{ChatChunk, Delta, WireUsage};
use crate::sse::SseEvent;
use crate::stream::{StreamMachine, bad_event, interrupted};

const FORMAT: &str = "Hugging Face";

/// The translator for one TGI stream.
pub struct TgiStream {
    id: String,
    model: String,
    created: u64,
    started: bool,
    done: bool,
}

impl TgiStream {
    /// A translator; `id`, `created` and `model` stamp the chunks (the
    /// stream reports none of them).
    pub fn new(id: &str, created: u64, model: &str) -> Self {
        Self {
            id: id.to_owned(),
            model: model.to_owned(),
            created,
            started: false,
            done: false,
        }
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

    fn handle(&mut self, ev: StreamResponse) -> Result<Vec<ChatChunk>, Error> {
        if let Some(error) = ev.error {
            return Err(from_error_body(
                None,
                &ErrorResponse {
                    error,
                    error_type: ev.error_type,
                    estimated_time: None,
                },
            ));
        }
        let mut out = Vec::new();
        if let Some(tok) = ev.token.filter(|t| !t.special && !t.text.is_empty()) {
            out.push(self.chunk(Some(tok.text), None));
        }
        if ev.generated_text.is_some() || ev.details.is_some() {
            self.done = true;
            let details = ev.details.unwrap_or_default();
            let finish = finish_reason(details.finish_reason.as_deref());
            let content = (!self.started).then(String::new);
            out.push(self.chunk(content, Some(finish)));
            if let Some(u) = usage(details.input_length, details.generated_tokens) {
                out.push(ChatChunk::usage(
                    &self.id,
                    self.created,
                    &self.model,
                    WireUsage::from(u),
                ));
            }
        }
        Ok(out)
    }
}

impl StreamMachine for TgiStream {
    type Event = SseEvent;

    fn on_event(&mut self, event: SseEvent) -> Result<Vec<ChatChunk>, Error> {
        if self.done || event.data.trim_ascii() == b"[DONE]" {
            return Ok(Vec::new());
        }
        let ev: StreamResponse =
            serde_json::from_slice(&event.data).map_err(|e| bad_event(FORMAT, &e))?;
        self.handle(ev)
    }

    fn on_end(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(interrupted(FORMAT))
        }
    }
}
