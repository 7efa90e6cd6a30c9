//! Cohere v2 chat wire types (`POST /v2/chat`), written from Cohere's API
//! reference. Unknown fields are kept in `extra` maps, and shapes Sluice
//! does not model (documents, citations, tool result documents) are kept as
//! JSON values, so nothing is lost passing through these types.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Number, Value};

/// `POST /v2/chat` request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// `REQUIRED` or `NONE`; absent means the model decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_tools: Option<bool>,
    /// Strings, or objects with `data` (and an optional `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citation_options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u64>,
    /// Top-p (nucleus) sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A conversation turn, tagged by `role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: Content,
    },
    User {
        content: Content,
    },
    Assistant {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Content>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_plan: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        citations: Vec<Value>,
    },
    Tool {
        tool_call_id: String,
        content: Content,
    },
}

/// Message content: a string or typed blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

impl Content {
    /// The text of the content; blocks are joined with no separator.
    pub fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Blocks(b) => b
                .iter()
                .filter_map(|b| match b {
                    Block::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// A content block. Kinds Sluice does not model are kept as [`Block::Other`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    /// A document in a tool result or a user turn: `{"data": ..., "id"?}`.
    Document {
        document: Value,
    },
    #[serde(untagged)]
    Other(Value),
}

/// `image_url` of an image block: an `https:` URL or a `data:` URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    /// `auto`, `low` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A tool definition: the same shape as OpenAI's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: Function,
}

/// A function tool's declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Value,
}

/// A tool call made by the assistant. `arguments` is a JSON-encoded string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".to_owned()
}

/// The function name and arguments of a tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// `response_format`: `{"type": "text"}` or `{"type": "json_object", "json_schema"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<Value>,
}

/// `POST /v2/chat` non-streamed response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub id: String,
    /// `COMPLETE`, `STOP_SEQUENCE`, `MAX_TOKENS`, `TOOL_CALL`, `ERROR`, `TIMEOUT`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    pub message: ResponseMessage,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The assistant message of a response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub content: Vec<Block>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default)]
    pub tool_plan: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub citations: Vec<Value>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `usage`: what Cohere bills and what the model actually processed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_units: Option<BilledUnits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
}

/// `billed_units`. Cohere's reference types these as numbers, not integers,
/// so they are kept as JSON numbers (and re-emitted exactly as received).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BilledUnits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_units: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifications: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Number>,
}

/// `tokens`: input and output tokens as the model counted them (including
/// the prompt template Cohere adds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<Number>,
}

/// A count reported as a JSON number, as a whole number of units.
pub fn count(n: Option<&Number>) -> u64 {
    n.map_or(0, |v| {
        v.as_u64().unwrap_or_else(|| {
            let f = v.as_f64().unwrap_or(0.0);
            if f.is_finite() && f > 0.0 {
                f.round() as u64
            } else {
                0
            }
        })
    })
}

impl Usage {
    /// Sluice's usage: `tokens` when Cohere reports them (they are what the
    /// model processed), else `billed_units`. `None` when neither is there.
    pub fn to_usage(&self) -> Option<crate::Usage> {
        let (input, output) = match (&self.tokens, &self.billed_units) {
            (Some(t), _) if t.input_tokens.is_some() || t.output_tokens.is_some() => {
                (t.input_tokens.as_ref(), t.output_tokens.as_ref())
            }
            (_, Some(b)) if b.input_tokens.is_some() || b.output_tokens.is_some() => {
                (b.input_tokens.as_ref(), b.output_tokens.as_ref())
            }
            _ => return None,
        };
        Some(crate::Usage {
            prompt_tokens: count(input),
            completion_tokens: count(output),
            ..crate::Usage::default()
        })
    }
}

/// One streamed event. The `data:` JSON carries the same `type` as the
/// SSE `event:` name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StreamEvent {
    MessageStart {
        #[serde(default)]
        id: Option<String>,
    },
    ContentStart {
        #[serde(default)]
        index: u32,
        #[serde(default)]
        delta: Option<ContentDelta>,
    },
    ContentDelta {
        #[serde(default)]
        index: u32,
        #[serde(default)]
        delta: Option<ContentDelta>,
    },
    ContentEnd {
        #[serde(default)]
        index: u32,
    },
    ToolPlanDelta {
        #[serde(default)]
        delta: Option<ToolPlanDelta>,
    },
    ToolCallStart {
        #[serde(default)]
        index: u32,
        #[serde(default)]
        delta: Option<ToolCallDelta>,
    },
    ToolCallDelta {
        #[serde(default)]
        index: u32,
        #[serde(default)]
        delta: Option<ToolCallDelta>,
    },
    ToolCallEnd {
        #[serde(default)]
        index: u32,
    },
    CitationStart {
        #[serde(default)]
        index: u32,
        #[serde(default)]
        delta: Option<CitationDelta>,
    },
    CitationEnd {
        #[serde(default)]
        index: u32,
    },
    MessageEnd {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        delta: Option<MessageEndDelta>,
    },
    Debug {},
}

/// `delta` of `content-start` / `content-delta`: `{"message": {"content": {...}}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentDelta {
    #[serde(default)]
    pub message: ContentDeltaMessage,
}

/// `delta.message` of a content event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentDeltaMessage {
    #[serde(default)]
    pub content: ContentPiece,
}

/// A piece of text or thinking (`type` only on `content-start`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentPiece {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
}

/// `delta` of `tool-plan-delta`: `{"message": {"tool_plan": "..."}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolPlanDelta {
    #[serde(default)]
    pub message: ToolPlanMessage,
}

/// `delta.message` of `tool-plan-delta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolPlanMessage {
    #[serde(default)]
    pub tool_plan: String,
}

/// `delta` of `tool-call-start` / `tool-call-delta`:
/// `{"message": {"tool_calls": {id?, type?, function: {name?, arguments}}}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    #[serde(default)]
    pub message: ToolCallDeltaMessage,
}

/// `delta.message` of a tool-call event. `tool_calls` is one object here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDeltaMessage {
    #[serde(default)]
    pub tool_calls: PartialToolCall,
}

/// A fragment of a tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub function: PartialFunction,
}

/// A fragment of a tool call's function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialFunction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// `delta` of `citation-start`: `{"message": {"citations": {...}}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CitationDelta {
    #[serde(default)]
    pub message: CitationMessage,
}

/// `delta.message` of `citation-start`: one citation, kept as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CitationMessage {
    #[serde(default)]
    pub citations: Value,
}

/// `delta` of `message-end`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageEndDelta {
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Set when generation failed mid-stream.
    #[serde(default)]
    pub error: Option<String>,
}

/// Cohere's error body: `{"id"?, "message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Older SDK typings put the text in `data`.
    #[serde(default)]
    pub data: Option<String>,
}
