//! ConverseStream event-stream messages → OpenAI chunks.
//!
//! Runs on every decoded [`Message`] of a streamed Bedrock answer. The
//! message's `:message-type` header says what it is: an `event` (its
//! `:event-type` names the payload), an `exception` (`:exception-type`, a
//! typed error inside the HTTP 200) or an `error` (`:error-code`). Tracks,
//! per content block index, whether the block is a tool call (with its
//! OpenAI `tool_calls[].index`), the JSON-mode tool (whose input becomes
//! content) or reasoning (gathered, then emitted as a `thinking_blocks`
//! entry with its signature when the block stops). `messageStop` gives the
//! one finish chunk; `metadata`, which arrives last, gives the usage chunk
//! and is the terminal event: a stream without it ended early. The role
//! chunk is sent with the first content, not at `messageStart`, so an
//! exception frame before any content fails the attempt before anything
//! reached the client (and a fallback target can still be tried).

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::convert::{JSON_TOOL, finish_reason, wire_usage};
use super::error::from_type;
use super::wire::{
    BlockDelta, BlockStart, ContentBlockDelta, ContentBlockStart, ContentBlockStop, MessageStop,
    Metadata,
};
use crate::eventstream::Message;
use crate::openai::chat::{ChatChunk, Delta, FunctionCallDelta, ToolCallDelta};
use crate::stream::{StreamMachine, bad_event, interrupted};
use crate::{Error, ErrorKind};

enum Kind {
    Tool(u32),
    JsonTool,
    Reasoning { text: String, signature: String },
}

/// The translator for one ConverseStream answer.
pub struct BedrockStream {
    id: String,
    model: String,
    created: u64,
    json_mode: bool,
    blocks: HashMap<u32, Kind>,
    next_tool: u32,
    started: bool,
    stopped: bool,
    done: bool,
}

impl BedrockStream {
    /// A translator. Converse names neither the answer nor the model, so the
    /// caller gives `id` and `model`; `json_mode` as in
    /// [`super::convert::from_bedrock`].
    pub fn new(id: &str, model: &str, created: u64, json_mode: bool) -> Self {
        Self {
            id: id.to_owned(),
            model: model.to_owned(),
            created,
            json_mode,
            blocks: HashMap::new(),
            next_tool: 0,
            started: false,
            stopped: false,
            done: false,
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<&str>) -> ChatChunk {
        ChatChunk::delta(&self.id, self.created, &self.model, delta, finish)
    }

    /// The role chunk, once, before any content.
    fn start(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(
                Delta {
                    role: Some("assistant".to_owned()),
                    content: Some(String::new()),
                    ..Delta::default()
                },
                None,
            ));
        }
    }

    fn event(&mut self, kind: &str, payload: &[u8]) -> Result<Vec<ChatChunk>, Error> {
        let mut out = Vec::new();
        match kind {
            // The role chunk waits for the first content, so that an exception
            // right after `messageStart` still fails before the first byte.
            "messageStart" => {}
            "contentBlockStart" => {
                self.start(&mut out);
                let ev: ContentBlockStart = parse(payload)?;
                if let BlockStart::ToolUse(t) = ev.start {
                    let kind = if self.json_mode && t.name == JSON_TOOL {
                        Kind::JsonTool
                    } else {
                        let i = self.next_tool;
                        self.next_tool += 1;
                        out.push(self.chunk(
                            tool_delta(ToolCallDelta {
                                index: i,
                                id: Some(t.tool_use_id),
                                kind: Some("function".to_owned()),
                                function: Some(FunctionCallDelta {
                                    name: Some(t.name),
                                    arguments: Some(String::new()),
                                }),
                            }),
                            None,
                        ));
                        Kind::Tool(i)
                    };
                    self.blocks.insert(ev.content_block_index, kind);
                }
            }
            "contentBlockDelta" => {
                self.start(&mut out);
                let ev: ContentBlockDelta = parse(payload)?;
                let block = self.blocks.get_mut(&ev.content_block_index);
                let delta = match (block, ev.delta) {
                    (None, BlockDelta::Text(t)) => text_delta(t),
                    (Some(Kind::JsonTool), BlockDelta::ToolUse(u)) => text_delta(u.input),
                    (Some(Kind::Tool(i)), BlockDelta::ToolUse(u)) => tool_delta(ToolCallDelta {
                        index: *i,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some(u.input),
                        }),
                        ..ToolCallDelta::default()
                    }),
                    (block, BlockDelta::ReasoningContent(r)) => {
                        if block.is_none() {
                            self.blocks.insert(
                                ev.content_block_index,
                                Kind::Reasoning {
                                    text: String::new(),
                                    signature: String::new(),
                                },
                            );
                        }
                        let Some(Kind::Reasoning { text, signature }) =
                            self.blocks.get_mut(&ev.content_block_index)
                        else {
                            return Ok(out);
                        };
                        if let Some(s) = r.signature {
                            signature.push_str(&s);
                        }
                        if let Some(data) = r.redacted_content {
                            out.push(self.chunk(
                                thinking_blocks(json!({"type": "redacted_thinking", "data": data})),
                                None,
                            ));
                            return Ok(out);
                        }
                        match r.text {
                            Some(t) if !t.is_empty() => {
                                text.push_str(&t);
                                Delta {
                                    reasoning_content: Some(t),
                                    ..Delta::default()
                                }
                            }
                            _ => return Ok(out),
                        }
                    }
                    _ => return Ok(out),
                };
                out.push(self.chunk(delta, None));
            }
            "contentBlockStop" => {
                let ev: ContentBlockStop = parse(payload)?;
                if let Some(Kind::Reasoning { text, signature }) =
                    self.blocks.remove(&ev.content_block_index)
                {
                    out.push(self.chunk(
                        thinking_blocks(
                            json!({"type": "thinking", "thinking": text, "signature": signature}),
                        ),
                        None,
                    ));
                }
            }
            "messageStop" => {
                self.start(&mut out);
                let ev: MessageStop = parse(payload)?;
                self.stopped = true;
                let finish = finish_reason(&ev.stop_reason, self.json_mode);
                out.push(self.chunk(Delta::default(), Some(finish)));
            }
            "metadata" => {
                let ev: Metadata = parse(payload)?;
                if !self.stopped {
                    return Err(Error::new(
                        ErrorKind::UpstreamProtocol,
                        "the Bedrock stream sent its metadata before messageStop",
                    ));
                }
                self.done = true;
                if let Some(u) = ev.usage {
                    out.push(ChatChunk::usage(
                        &self.id,
                        self.created,
                        &self.model,
                        wire_usage(u),
                    ));
                }
            }
            // Event types added to the API later are ignored.
            _ => {}
        }
        Ok(out)
    }
}

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(payload).map_err(|e| bad_event("Bedrock", &e))
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

impl StreamMachine for BedrockStream {
    type Event = Message;

    fn on_event(&mut self, msg: Message) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        match msg.header_str(":message-type").unwrap_or("event") {
            "event" => {
                let kind = msg.header_str(":event-type").unwrap_or_default().to_owned();
                self.event(&kind, &msg.payload)
            }
            "exception" => {
                let kind = msg.header_str(":exception-type").unwrap_or("exception");
                Err(from_type(None, kind, &msg.payload))
            }
            "error" => {
                let code = msg.header_str(":error-code").unwrap_or("error");
                let message = msg.header_str(":error-message").unwrap_or_default();
                let body = serde_json::to_vec(&json!({ "message": message })).unwrap_or_default();
                Err(from_type(None, code, &body))
            }
            other => Err(Error::new(
                ErrorKind::UpstreamProtocol,
                format!("the Bedrock stream sent a message of unknown type `{other}`"),
            )),
        }
    }

    fn on_end(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(interrupted("Bedrock"))
        }
    }
}
