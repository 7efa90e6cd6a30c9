//! Bedrock Converse / ConverseStream wire types, written from the Bedrock
//! Runtime API reference (`POST /model/{modelId}/converse` and
//! `/converse-stream`). Content blocks are JSON unions: exactly one member is
//! set, so they are modelled as externally tagged enums. Unknown members and
//! fields are kept (`Other`, `extra`) so nothing is lost passing through.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `Converse` / `ConverseStream` request body (the model id is in the path).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest {
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_config: Option<InferenceConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Map<String, Value>>,
    /// Other top-level Converse fields (`guardrailConfig`, `performanceConfig`,
    /// `requestMetadata`, ...), passed as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A system block: text, or a cache point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SystemBlock {
    Text(String),
    CachePoint(Value),
    #[serde(untagged)]
    Other(Value),
}

/// `inferenceConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
}

/// One conversation turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    pub content: Vec<ContentBlock>,
}

/// A content block (a union: one member set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContentBlock {
    Text(String),
    Image(Image),
    Document(Document),
    ToolUse(ToolUse),
    ToolResult(ToolResult),
    ReasoningContent(ReasoningContent),
    CachePoint(Value),
    #[serde(untagged)]
    Other(Value),
}

/// `image`: `{format: png|jpeg|gif|webp, source: {bytes: <base64>}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub format: String,
    pub source: Value,
}

/// `document`: `{format, name, source: {bytes}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub format: String,
    pub name: String,
    pub source: Value,
}

/// `toolUse`: a call the assistant made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUse {
    pub tool_use_id: String,
    pub name: String,
    pub input: Value,
}

/// `toolResult`: the answer to a call, sent in a user turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    pub tool_use_id: String,
    pub content: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `reasoningContent`: the model's reasoning, signed, or redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasoningContent {
    ReasoningText(ReasoningText),
    /// Base64 of the encrypted reasoning.
    RedactedContent(String),
    #[serde(untagged)]
    Other(Value),
}

/// `reasoningText`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningText {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// `toolConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
}

/// One tool: `{toolSpec: {...}}` (or a cache point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Tool {
    ToolSpec(ToolSpec),
    CachePoint(Value),
}

/// `toolSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `{"json": <JSON schema>}`.
    pub input_schema: Value,
}

/// `toolChoice`: `{auto: {}}`, `{any: {}}` or `{tool: {name}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolChoice {
    Auto(Map<String, Value>),
    Any(Map<String, Value>),
    Tool { name: String },
}

/// `Converse` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    pub output: Output,
    pub stop_reason: String,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub metrics: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `output`: a union whose one member is `message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub message: Message,
}

/// `usage`. Input tokens exclude cache reads and writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_input_tokens: Option<u64>,
}

impl From<Usage> for crate::Usage {
    fn from(u: Usage) -> Self {
        let read = u.cache_read_input_tokens.unwrap_or(0);
        let write = u.cache_write_input_tokens.unwrap_or(0);
        crate::Usage {
            prompt_tokens: u.input_tokens + read + write,
            completion_tokens: u.output_tokens,
            cached_read_tokens: read,
            cached_write_tokens: write,
            reasoning_tokens: 0,
            source: crate::UsageSource::Provider,
        }
    }
}

/// `messageStart` event payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageStart {
    #[serde(default)]
    pub role: Option<String>,
}

/// `contentBlockStart` event payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStart {
    pub content_block_index: u32,
    pub start: BlockStart,
}

/// `start` of a `contentBlockStart`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlockStart {
    ToolUse(ToolUseStart),
    #[serde(untagged)]
    Other(Value),
}

/// `start.toolUse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    pub tool_use_id: String,
    pub name: String,
}

/// `contentBlockDelta` event payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDelta {
    pub content_block_index: u32,
    pub delta: BlockDelta,
}

/// `delta` of a `contentBlockDelta`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlockDelta {
    Text(String),
    /// `{"input": "<fragment of the JSON arguments>"}`.
    ToolUse(ToolUseDelta),
    ReasoningContent(ReasoningDelta),
    #[serde(untagged)]
    Other(Value),
}

/// `delta.toolUse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolUseDelta {
    pub input: String,
}

/// `delta.reasoningContent`: one of text, signature, redacted content.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningDelta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub redacted_content: Option<String>,
}

/// `contentBlockStop` event payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStop {
    pub content_block_index: u32,
}

/// `messageStop` event payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStop {
    pub stop_reason: String,
}

/// `metadata` event payload: arrives last.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub metrics: Option<Value>,
}

/// An error body: `{"message": ...}` (some services capitalise it).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorBody {
    #[serde(default, alias = "Message")]
    pub message: Option<String>,
    /// The error type, when the body carries it.
    #[serde(default, rename = "__type")]
    pub kind: Option<String>,
}

/// Titan text embeddings request (`POST /model/{id}/invoke`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TitanEmbedRequest {
    pub input_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

/// Titan text embeddings response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TitanEmbedResponse {
    pub embedding: Vec<f32>,
    #[serde(default)]
    pub input_text_token_count: u64,
}
