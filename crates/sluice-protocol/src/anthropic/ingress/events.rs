//! Canonical chat chunks → Messages stream events, for a Messages client
//! streaming from a non-Anthropic provider.
//!
//! A pure state machine, fed one chunk at a time by the gateway's stream
//! writer. It opens one content block at a time: `thinking` for reasoning
//! deltas, `text` for content, `tool_use` per tool call (arguments streamed
//! as `input_json_delta`); switching kind closes the open block. The first
//! chunk produces `message_start`; the end of the upstream stream produces
//! the last `content_block_stop`, `message_delta` (stop reason and the
//! cumulative usage the upstream reported) and `message_stop`. A stream that
//! breaks ends with one `error` event ([`error_event`]).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::reply::{delta_usage, message_id, stop_reason, usage};
use crate::Error;
use crate::anthropic::wire::{
    Block, BlockDelta, ErrorBody, MessageDelta, MessagesResponse, StreamEvent,
};
use crate::openai::chat::{ChatChunk, ToolCallDelta, WireUsage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its OpenAI `tool_calls[].index`.
    Tool(u32),
}

/// The translator for one stream.
#[derive(Debug, Default)]
pub struct MessagesEvents {
    started: bool,
    ended: bool,
    /// The open block and its index.
    open: Option<(Open, u32)>,
    next_block: u32,
    /// Block index of each tool call seen, by OpenAI index.
    tools: HashMap<u32, u32>,
    finish: Option<String>,
    usage: Option<WireUsage>,
}

impl MessagesEvents {
    /// A translator for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any tool call was streamed.
    pub fn has_tool_calls(&self) -> bool {
        !self.tools.is_empty()
    }

    /// The events for one chunk.
    pub fn on_chunk(&mut self, c: &ChatChunk) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        if !self.started {
            self.started = true;
            out.push(message_start(&c.id, &c.model));
        }
        if c.usage.is_some() {
            self.usage = c.usage;
        }
        let Some(choice) = c.choices.iter().find(|ch| ch.index == 0) else {
            return out;
        };
        let d = &choice.delta;
        if let Some(r) = d.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
            let index = self.ensure(Open::Thinking, &mut out);
            out.push(delta(
                index,
                BlockDelta::ThinkingDelta {
                    thinking: r.to_owned(),
                },
            ));
        }
        if let Some(sig) = signature(&d.extra)
            && let Some((Open::Thinking, index)) = self.open
        {
            out.push(delta(index, BlockDelta::SignatureDelta { signature: sig }));
        }
        for text in [d.content.as_deref(), d.refusal.as_deref()]
            .into_iter()
            .flatten()
        {
            if !text.is_empty() {
                let index = self.ensure(Open::Text, &mut out);
                out.push(delta(
                    index,
                    BlockDelta::TextDelta {
                        text: text.to_owned(),
                    },
                ));
            }
        }
        for call in d.tool_calls.iter().flatten() {
            self.tool_delta(call, &mut out);
        }
        if let Some(f) = &choice.finish_reason {
            self.finish = Some(f.clone());
        }
        out
    }

    /// The closing events, after the upstream stream ended normally.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        if !self.started {
            self.started = true;
            out.push(message_start("", ""));
        }
        self.ended = true;
        self.close(&mut out);
        out.push(StreamEvent::MessageDelta {
            delta: MessageDelta {
                stop_reason: Some(
                    stop_reason(self.finish.as_deref(), self.has_tool_calls()).to_owned(),
                ),
                stop_sequence: None,
            },
            usage: Some(delta_usage(self.usage)),
        });
        out.push(StreamEvent::MessageStop);
        out
    }

    /// Opens a block of `kind` unless it is the open one; returns its index.
    fn ensure(&mut self, kind: Open, out: &mut Vec<StreamEvent>) -> u32 {
        if let Some((open, index)) = self.open
            && open == kind
        {
            return index;
        }
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        let block = match kind {
            Open::Text => Block::text(""),
            Open::Thinking => Block::Thinking {
                thinking: String::new(),
                signature: String::new(),
            },
            Open::Tool(_) => return index,
        };
        out.push(StreamEvent::ContentBlockStart {
            index,
            content_block: block,
        });
        self.open = Some((kind, index));
        index
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((_, index)) = self.open.take() {
            out.push(StreamEvent::ContentBlockStop { index });
        }
    }

    fn tool_delta(&mut self, call: &ToolCallDelta, out: &mut Vec<StreamEvent>) {
        let args = call
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .unwrap_or("");
        let index = match self.tools.get(&call.index) {
            Some(&index) => {
                if self.open != Some((Open::Tool(call.index), index)) {
                    // A late fragment of an earlier call: keep it on its block.
                    if !args.is_empty() {
                        out.push(delta(index, json_delta(args)));
                    }
                    return;
                }
                index
            }
            None => {
                self.close(out);
                let index = self.next_block;
                self.next_block += 1;
                self.tools.insert(call.index, index);
                let name = call
                    .function
                    .as_ref()
                    .and_then(|f| f.name.clone())
                    .unwrap_or_default();
                let id = call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("toolu_sluice_{index}"));
                out.push(StreamEvent::ContentBlockStart {
                    index,
                    content_block: Block::ToolUse {
                        id,
                        name,
                        input: Value::Object(Map::new()),
                        extra: Map::new(),
                    },
                });
                self.open = Some((Open::Tool(call.index), index));
                index
            }
        };
        if !args.is_empty() {
            out.push(delta(index, json_delta(args)));
        }
    }
}

fn delta(index: u32, delta: BlockDelta) -> StreamEvent {
    StreamEvent::ContentBlockDelta { index, delta }
}

fn json_delta(args: &str) -> BlockDelta {
    BlockDelta::InputJsonDelta {
        partial_json: args.to_owned(),
    }
}

/// The signature of a `thinking_blocks` entry, as Bedrock's Claude sends it
/// when a reasoning block ends.
fn signature(extra: &Map<String, Value>) -> Option<String> {
    let blocks = extra.get("thinking_blocks")?.as_array()?;
    blocks
        .iter()
        .filter_map(|b| b.get("signature").and_then(Value::as_str))
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

fn message_start(id: &str, model: &str) -> StreamEvent {
    let mut start_usage = usage(None);
    start_usage.cache_creation_input_tokens = None;
    start_usage.cache_read_input_tokens = None;
    StreamEvent::MessageStart {
        message: MessagesResponse {
            id: message_id(id),
            kind: "message".to_owned(),
            role: "assistant".to_owned(),
            model: model.to_owned(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: start_usage,
            extra: Map::new(),
        },
    }
}

/// The `error` event that ends a broken stream, in Anthropic's shape.
pub fn error_event(e: &Error) -> StreamEvent {
    let v = e.to_anthropic_json();
    let kind = v
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("api_error")
        .to_owned();
    StreamEvent::Error {
        error: ErrorBody {
            kind,
            message: e.message().to_owned(),
        },
    }
}

/// The SSE event name of an event: its `type`.
pub fn event_name(ev: &StreamEvent) -> &'static str {
    match ev {
        StreamEvent::MessageStart { .. } => "message_start",
        StreamEvent::ContentBlockStart { .. } => "content_block_start",
        StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
        StreamEvent::ContentBlockStop { .. } => "content_block_stop",
        StreamEvent::MessageDelta { .. } => "message_delta",
        StreamEvent::MessageStop => "message_stop",
        StreamEvent::Ping => "ping",
        StreamEvent::Error { .. } => "error",
    }
}
