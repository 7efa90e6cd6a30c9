//! Anthropic stream events → OpenAI chunks.
//!
//! Tracks, per content block index, what the block is: text, a tool call
//! (with its OpenAI `tool_calls[].index`, counted separately from block
//! indices), thinking (whose text and signature are gathered and emitted as a
//! `thinking_blocks` entry when the block stops), or the JSON-mode tool
//! (whose input is emitted as content). Usage comes from `message_start`
//! (input and cache counts) and `message_delta` (output count, cumulative).
//! `message_stop` ends the stream with the final chunk and the usage chunk.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::convert::{JSON_TOOL, finish_reason, wire_usage};
use super::error::from_error_body;
use super::wire::{Block, BlockDelta, StreamEvent, Usage};
use crate::Error;
use crate::openai::chat::{ChatChunk, Delta, FunctionCallDelta, ToolCallDelta};
use crate::sse::SseEvent;
use crate::stream::{StreamMachine, bad_event, interrupted};

enum Kind {
    Text,
    Tool(u32),
    JsonTool,
    Thinking { text: String, signature: String },
    Other,
}

/// The translator for one Anthropic stream.
pub struct AnthropicStream {
    id: String,
    model: String,
    created: u64,
    json_mode: bool,
    blocks: HashMap<u32, Kind>,
    next_tool: u32,
    usage: Usage,
    stop_reason: Option<String>,
    done: bool,
}

impl AnthropicStream {
    /// A translator; `created` stamps the chunks, `json_mode` as in
    /// [`super::convert::from_anthropic`].
    pub fn new(created: u64, json_mode: bool) -> Self {
        Self {
            id: String::new(),
            model: String::new(),
            created,
            json_mode,
            blocks: HashMap::new(),
            next_tool: 0,
            usage: Usage::default(),
            stop_reason: None,
            done: false,
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<&str>) -> ChatChunk {
        ChatChunk::delta(&self.id, self.created, &self.model, delta, finish)
    }

    fn handle(&mut self, ev: StreamEvent) -> Result<Vec<ChatChunk>, Error> {
        let mut out = Vec::new();
        match ev {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                self.usage = message.usage;
                out.push(self.chunk(
                    Delta {
                        role: Some("assistant".to_owned()),
                        content: Some(String::new()),
                        ..Delta::default()
                    },
                    None,
                ));
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let kind = match content_block {
                    Block::Text { text, .. } => {
                        if !text.is_empty() {
                            out.push(self.chunk(text_delta(text), None));
                        }
                        Kind::Text
                    }
                    Block::ToolUse { name, .. } if self.json_mode && name == JSON_TOOL => {
                        Kind::JsonTool
                    }
                    Block::ToolUse { id, name, .. } => {
                        let i = self.next_tool;
                        self.next_tool += 1;
                        out.push(self.chunk(
                            tool_delta(ToolCallDelta {
                                index: i,
                                id: Some(id),
                                kind: Some("function".to_owned()),
                                function: Some(FunctionCallDelta {
                                    name: Some(name),
                                    arguments: Some(String::new()),
                                }),
                            }),
                            None,
                        ));
                        Kind::Tool(i)
                    }
                    Block::Thinking {
                        thinking,
                        signature,
                    } => Kind::Thinking {
                        text: thinking,
                        signature,
                    },
                    Block::RedactedThinking { data } => {
                        out.push(self.chunk(
                            thinking_blocks(json!({"type": "redacted_thinking", "data": data})),
                            None,
                        ));
                        Kind::Other
                    }
                    _ => Kind::Other,
                };
                self.blocks.insert(index, kind);
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                let kind = self.blocks.get_mut(&index);
                let d = match (kind, delta) {
                    (Some(Kind::Text) | None, BlockDelta::TextDelta { text }) => text_delta(text),
                    (Some(Kind::JsonTool), BlockDelta::InputJsonDelta { partial_json }) => {
                        text_delta(partial_json)
                    }
                    (Some(Kind::Tool(i)), BlockDelta::InputJsonDelta { partial_json }) => {
                        tool_delta(ToolCallDelta {
                            index: *i,
                            function: Some(FunctionCallDelta {
                                name: None,
                                arguments: Some(partial_json),
                            }),
                            ..ToolCallDelta::default()
                        })
                    }
                    (Some(Kind::Thinking { text, .. }), BlockDelta::ThinkingDelta { thinking }) => {
                        text.push_str(&thinking);
                        Delta {
                            reasoning_content: Some(thinking),
                            ..Delta::default()
                        }
                    }
                    (
                        Some(Kind::Thinking { signature, .. }),
                        BlockDelta::SignatureDelta { signature: s },
                    ) => {
                        signature.push_str(&s);
                        return Ok(out);
                    }
                    _ => return Ok(out),
                };
                out.push(self.chunk(d, None));
            }
            StreamEvent::ContentBlockStop { index } => {
                if let Some(Kind::Thinking { text, signature }) = self.blocks.remove(&index) {
                    out.push(self.chunk(
                        thinking_blocks(
                            json!({"type": "thinking", "thinking": text, "signature": signature}),
                        ),
                        None,
                    ));
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                if let Some(u) = usage {
                    self.usage.output_tokens = u.output_tokens;
                    if let Some(n) = u.input_tokens {
                        self.usage.input_tokens = n;
                    }
                    if u.cache_creation_input_tokens.is_some() {
                        self.usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
                    }
                    if u.cache_read_input_tokens.is_some() {
                        self.usage.cache_read_input_tokens = u.cache_read_input_tokens;
                    }
                }
            }
            StreamEvent::MessageStop => {
                self.done = true;
                let finish = if self.json_mode && self.stop_reason.as_deref() == Some("tool_use") {
                    Some("stop")
                } else {
                    finish_reason(self.stop_reason.as_deref()).or(Some("stop"))
                };
                out.push(self.chunk(Delta::default(), finish));
                out.push(ChatChunk::usage(
                    &self.id,
                    self.created,
                    &self.model,
                    wire_usage(self.usage),
                ));
            }
            StreamEvent::Ping => {}
            StreamEvent::Error { error } => return Err(from_error_body(None, &error)),
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

fn thinking_blocks(block: Value) -> Delta {
    let mut extra = Map::new();
    extra.insert("thinking_blocks".to_owned(), Value::Array(vec![block]));
    Delta {
        extra,
        ..Delta::default()
    }
}

impl StreamMachine for AnthropicStream {
    type Event = SseEvent;

    fn on_event(&mut self, event: SseEvent) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let ev: StreamEvent = match serde_json::from_slice(&event.data) {
            Ok(ev) => ev,
            // Event types added to the API after this was written are ignored,
            // as Anthropic's versioning policy asks of clients.
            Err(_) if is_unknown_type(&event.data) => return Ok(Vec::new()),
            Err(e) => return Err(bad_event("Anthropic", &e)),
        };
        self.handle(ev)
    }

    fn on_end(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(interrupted("Anthropic"))
        }
    }
}

fn is_unknown_type(data: &[u8]) -> bool {
    const KNOWN: &[&str] = &[
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    ];
    serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
        .is_some_and(|t| !KNOWN.contains(&t.as_str()))
}
