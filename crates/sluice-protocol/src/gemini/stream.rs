//! Gemini `streamGenerateContent?alt=sse` events → OpenAI chunks.
//!
//! Each SSE event is a whole `GenerateContentResponse` holding the next
//! piece of every candidate. Text parts become content deltas, thought parts
//! `reasoning_content` deltas, and function calls (which Gemini streams
//! whole) a tool-call delta each, numbered per candidate. A candidate is
//! finished when a chunk carries its `finishReason`; the stream is finished
//! when all `n` candidates are. `usageMetadata` is cumulative and the last
//! one seen becomes the usage chunk at the end. An `{"error": ...}` event
//! is a typed error; a blocked prompt a content-filter error.

use std::collections::HashMap;

use super::convert::{arguments_text, blocked, call_id, chat_id, finish_reason, wire_usage};
use super::error::from_error_body;
use super::wire::{GenerateContentResponse, UsageMetadata};
use crate::Error;
use crate::openai::chat::{ChatChunk, Delta, FunctionCallDelta, ToolCallDelta};
use crate::sse::SseEvent;
use crate::stream::{StreamMachine, bad_event, interrupted};

#[derive(Default)]
struct Cand {
    started: bool,
    tools: usize,
    finished: bool,
}

/// The translator for one Gemini stream.
pub struct GeminiStream {
    id: Option<String>,
    model: String,
    created: u64,
    n: u32,
    candidates: HashMap<u32, Cand>,
    finished: u32,
    usage: Option<UsageMetadata>,
    done: bool,
}

impl GeminiStream {
    /// A translator for a request of `n` candidates; `model` names the
    /// chunks until Gemini reports its `modelVersion`.
    pub fn new(created: u64, model: &str, n: u32) -> Self {
        Self {
            id: None,
            model: model.to_owned(),
            created,
            n: n.max(1),
            candidates: HashMap::new(),
            finished: 0,
            usage: None,
            done: false,
        }
    }

    fn id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| chat_id(None, self.created))
    }

    fn chunk(&self, index: u32, delta: Delta, finish: Option<&str>) -> ChatChunk {
        let mut c = ChatChunk::delta(&self.id(), self.created, &self.model, delta, finish);
        if let Some(choice) = c.choices.first_mut() {
            choice.index = index;
        }
        c
    }

    fn handle(&mut self, ev: GenerateContentResponse) -> Result<Vec<ChatChunk>, Error> {
        if let Some(e) = &ev.error {
            return Err(from_error_body(None, e));
        }
        if self.id.is_none() && ev.response_id.is_some() {
            self.id = Some(chat_id(ev.response_id.as_deref(), self.created));
        }
        if let Some(m) = &ev.model_version {
            self.model.clone_from(m);
        }
        if ev.usage_metadata.is_some() {
            self.usage = ev.usage_metadata;
        }
        if ev.candidates.is_empty()
            && let Some(e) = blocked(&ev)
        {
            return Err(e);
        }
        let rid = ev.response_id.as_deref();
        let mut out = Vec::new();
        for c in &ev.candidates {
            let mut state = self.candidates.remove(&c.index).unwrap_or_default();
            if state.finished {
                self.candidates.insert(c.index, state);
                continue;
            }
            if !state.started {
                state.started = true;
                out.push(self.chunk(
                    c.index,
                    Delta {
                        role: Some("assistant".to_owned()),
                        content: Some(String::new()),
                        ..Delta::default()
                    },
                    None,
                ));
            }
            for p in c.content.iter().flat_map(|c| &c.parts) {
                let delta = if let Some(call) = &p.function_call {
                    let i = state.tools;
                    state.tools += 1;
                    Delta {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: u32::try_from(i).unwrap_or(u32::MAX),
                            id: Some(call_id(
                                call,
                                rid,
                                c.index,
                                i,
                                p.thought_signature.as_deref(),
                            )),
                            kind: Some("function".to_owned()),
                            function: Some(FunctionCallDelta {
                                name: Some(call.name.clone()),
                                arguments: Some(arguments_text(call)),
                            }),
                        }]),
                        ..Delta::default()
                    }
                } else if let Some(t) = p.text.as_ref().filter(|t| !t.is_empty()) {
                    if p.thought == Some(true) {
                        Delta {
                            reasoning_content: Some(t.clone()),
                            ..Delta::default()
                        }
                    } else {
                        Delta {
                            content: Some(t.clone()),
                            ..Delta::default()
                        }
                    }
                } else {
                    continue;
                };
                out.push(self.chunk(c.index, delta, None));
            }
            if let Some(reason) = &c.finish_reason {
                state.finished = true;
                self.finished += 1;
                let finish = finish_reason(reason, state.tools > 0);
                out.push(self.chunk(c.index, Delta::default(), Some(finish)));
            }
            self.candidates.insert(c.index, state);
        }
        if self.finished >= self.n {
            self.done = true;
        }
        Ok(out)
    }
}

impl StreamMachine for GeminiStream {
    type Event = SseEvent;

    fn on_event(&mut self, event: SseEvent) -> Result<Vec<ChatChunk>, Error> {
        let ev: GenerateContentResponse = match serde_json::from_slice(&event.data) {
            Ok(ev) => ev,
            Err(e) => return Err(bad_event("Gemini", &e)),
        };
        if self.done && ev.error.is_none() {
            // Only a late usage update may still matter.
            if ev.usage_metadata.is_some() {
                self.usage = ev.usage_metadata;
            }
            return Ok(Vec::new());
        }
        self.handle(ev)
    }

    fn on_end(&mut self) -> Result<Vec<ChatChunk>, Error> {
        // Gemini may return fewer candidates than asked for: every candidate
        // that appeared must have finished.
        let complete =
            self.done || (self.finished > 0 && self.candidates.values().all(|c| c.finished));
        if !complete {
            return Err(interrupted("Gemini"));
        }
        Ok(self
            .usage
            .take()
            .map(|u| ChatChunk::usage(&self.id(), self.created, &self.model, wire_usage(u)))
            .into_iter()
            .collect())
    }
}
