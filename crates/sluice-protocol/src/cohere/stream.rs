//! Cohere v2 stream events → OpenAI chunks.
//!
//! `message-start` opens the answer (role chunk); `content-delta` carries
//! text or thinking (→ `content` / `reasoning_content`); `tool-plan-delta`
//! is streamed as `content`, as the non-streamed mapping does for a turn
//! that only calls tools; `tool-call-start`/`-delta` become `tool_calls`
//! deltas, with Cohere's tool-call index mapped to OpenAI's; each
//! `citation-start` becomes a chunk with a non-standard `citations` array.
//! `message-end` is the terminal event: it carries the finish reason and
//! usage, or (`ERROR`, `TIMEOUT`) a failure that becomes an error. Without
//! it, the stream did not finish.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::convert::{billed_units, finish_reason, is_failure};
use super::error::{from_message, in_stream};
use super::wire::{MessageEndDelta, StreamEvent};
use crate::Error;
use crate::openai::chat::{ChatChunk, Delta, FunctionCallDelta, ToolCallDelta, WireUsage};
use crate::sse::SseEvent;
use crate::stream::{StreamMachine, bad_event, interrupted};

/// The translator for one Cohere stream.
pub struct CohereStream {
    id: String,
    model: String,
    created: u64,
    /// Cohere tool-call index → OpenAI `tool_calls[].index`.
    tools: HashMap<u32, u32>,
    done: bool,
}

impl CohereStream {
    /// A translator. `model` is the upstream model the request named (Cohere
    /// does not repeat it); `created` stamps the chunks.
    pub fn new(model: &str, created: u64) -> Self {
        Self {
            id: String::new(),
            model: model.to_owned(),
            created,
            tools: HashMap::new(),
            done: false,
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<&str>) -> ChatChunk {
        ChatChunk::delta(&self.id, self.created, &self.model, delta, finish)
    }

    fn tool_index(&mut self, cohere: u32) -> u32 {
        let next = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
        *self.tools.entry(cohere).or_insert(next)
    }

    fn handle(&mut self, ev: StreamEvent) -> Result<Vec<ChatChunk>, Error> {
        let delta = match ev {
            StreamEvent::MessageStart { id } => {
                if let Some(id) = id {
                    self.id = id;
                }
                Delta {
                    role: Some("assistant".to_owned()),
                    content: Some(String::new()),
                    ..Delta::default()
                }
            }
            StreamEvent::ContentStart { delta, .. } | StreamEvent::ContentDelta { delta, .. } => {
                let piece = delta.unwrap_or_default().message.content;
                let text = piece.text.filter(|t| !t.is_empty());
                let thinking = piece.thinking.filter(|t| !t.is_empty());
                if text.is_none() && thinking.is_none() {
                    return Ok(Vec::new());
                }
                Delta {
                    content: text,
                    reasoning_content: thinking,
                    ..Delta::default()
                }
            }
            StreamEvent::ToolPlanDelta { delta } => {
                let plan = delta.unwrap_or_default().message.tool_plan;
                if plan.is_empty() {
                    return Ok(Vec::new());
                }
                text_delta(plan)
            }
            StreamEvent::ToolCallStart { index, delta } => {
                let call = delta.unwrap_or_default().message.tool_calls;
                tool_delta(ToolCallDelta {
                    index: self.tool_index(index),
                    id: call.id,
                    kind: Some("function".to_owned()),
                    function: Some(FunctionCallDelta {
                        name: call.function.name,
                        arguments: Some(call.function.arguments.unwrap_or_default()),
                    }),
                })
            }
            StreamEvent::ToolCallDelta { index, delta } => {
                let call = delta.unwrap_or_default().message.tool_calls;
                let Some(args) = call.function.arguments.filter(|a| !a.is_empty()) else {
                    return Ok(Vec::new());
                };
                tool_delta(ToolCallDelta {
                    index: self.tool_index(index),
                    function: Some(FunctionCallDelta {
                        name: None,
                        arguments: Some(args),
                    }),
                    ..ToolCallDelta::default()
                })
            }
            StreamEvent::CitationStart { delta, .. } => {
                let citation = delta.unwrap_or_default().message.citations;
                if citation.is_null() {
                    return Ok(Vec::new());
                }
                let mut extra = Map::new();
                extra.insert("citations".to_owned(), Value::Array(vec![citation]));
                Delta {
                    extra,
                    ..Delta::default()
                }
            }
            StreamEvent::MessageEnd { delta, .. } => return self.end(delta.unwrap_or_default()),
            StreamEvent::ContentEnd { .. }
            | StreamEvent::ToolCallEnd { .. }
            | StreamEvent::CitationEnd { .. }
            | StreamEvent::Debug {} => return Ok(Vec::new()),
        };
        Ok(vec![self.chunk(delta, None)])
    }

    fn end(&mut self, end: MessageEndDelta) -> Result<Vec<ChatChunk>, Error> {
        let reason = end.finish_reason.as_deref();
        if is_failure(reason) || (reason.is_none() && end.error.is_some()) {
            return Err(in_stream(reason.unwrap_or("ERROR"), end.error.as_deref()));
        }
        self.done = true;
        let mut out = vec![self.chunk(Delta::default(), Some(finish_reason(reason)))];
        if let Some(u) = end.usage.as_ref().and_then(super::wire::Usage::to_usage) {
            let mut c = ChatChunk::usage(&self.id, self.created, &self.model, WireUsage::from(u));
            if let Some(b) = billed_units(end.usage.as_ref()) {
                c.extra.insert("billed_units".to_owned(), b);
            }
            out.push(c);
        }
        Ok(out)
    }
}

fn text_delta(text: String) -> Delta {
    Delta {
        content: Some(text),
        ..Delta::default()
    }
}

fn tool_delta(call: ToolCallDelta) -> Delta {
    Delta {
        tool_calls: Some(vec![call]),
        ..Delta::default()
    }
}

const KNOWN: &[&str] = &[
    "message-start",
    "content-start",
    "content-delta",
    "content-end",
    "tool-plan-delta",
    "tool-call-start",
    "tool-call-delta",
    "tool-call-end",
    "citation-start",
    "citation-end",
    "message-end",
    "debug",
];

impl StreamMachine for CohereStream {
    type Event = SseEvent;

    fn on_event(&mut self, event: SseEvent) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let value: Value = match serde_json::from_slice(&event.data) {
            Ok(v) => v,
            Err(e) => return Err(bad_event("Cohere", &e)),
        };
        let Value::Object(mut obj) = value else {
            return Ok(Vec::new());
        };
        let kind = match obj.get("type").and_then(Value::as_str) {
            Some(t) => t.to_owned(),
            None => match &event.event {
                // The `event:` name carries the type when `data` does not.
                Some(name) if KNOWN.contains(&name.as_str()) => {
                    obj.insert("type".to_owned(), Value::String(name.clone()));
                    name.clone()
                }
                // An untyped object with a message is an error report.
                _ => {
                    let msg = obj.get("message").and_then(Value::as_str);
                    return match msg {
                        Some(m) => Err(from_message(500, m)),
                        None => Ok(Vec::new()),
                    };
                }
            },
        };
        if !KNOWN.contains(&kind.as_str()) {
            // Event types added to the API after this was written are ignored.
            return Ok(Vec::new());
        }
        match serde_json::from_value::<StreamEvent>(Value::Object(obj)) {
            Ok(ev) => self.handle(ev),
            Err(e) => Err(bad_event("Cohere", &e)),
        }
    }

    fn on_end(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(interrupted("Cohere"))
        }
    }
}
