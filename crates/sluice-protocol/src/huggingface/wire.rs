//! Text-generation wire types, written from the TGI OpenAPI reference
//! (`GenerateRequest`, `GenerateResponse`, `StreamResponse`, `ErrorResponse`)
//! and the Hugging Face Inference `text-generation` task spec, which share
//! them. Unknown fields are kept in `extra` maps.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /models/{model}`, `POST /generate` or `POST /generate_stream` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub inputs: String,
    pub parameters: Parameters,
    /// Stream the answer. Only the serverless form carries it; TGI's native
    /// routes choose by path (`/generate_stream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// `parameters` of a generation request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u64>,
    /// Must be > 0; greedy decoding is `do_sample: false` without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Must be in (0, 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    /// Stop sequences (TGI's name; at most 4 by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Sluice always sends `false`: only the completion is wanted back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_full_text: Option<bool>,
    /// Ask for `details` (finish reason, token counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<bool>,
    /// Ask for the prompt tokens (`details.prefill`), whose count is the
    /// prompt's usage. Not allowed when streaming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder_input_details: Option<bool>,
    /// Other TGI parameters passed through (`top_k`, `repetition_penalty`...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A non-streamed answer: serverless and TGI's `/` return a list, TGI's
/// `/generate` a single object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GenerateResponse {
    Many(Vec<GenerateOutput>),
    One(GenerateOutput),
}

impl GenerateResponse {
    /// The first (only) generation.
    pub fn into_first(self) -> Option<GenerateOutput> {
        match self {
            Self::Many(v) => v.into_iter().next(),
            Self::One(o) => Some(o),
        }
    }
}

/// One generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateOutput {
    pub generated_text: String,
    #[serde(default)]
    pub details: Option<Details>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `details` of a non-streamed generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// `length`, `eos_token` or `stop_sequence`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub generated_tokens: Option<u64>,
    /// The prompt's tokens, when `decoder_input_details` was asked for.
    #[serde(default)]
    pub prefill: Vec<Value>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `data:` event of a token stream. The last one carries
/// `generated_text` and `details`; an error event carries `error` instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamResponse {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default)]
    pub token: Option<Token>,
    #[serde(default)]
    pub generated_text: Option<String>,
    #[serde(default)]
    pub details: Option<StreamDetails>,
    #[serde(default)]
    pub error: Option<ErrorText>,
    #[serde(default)]
    pub error_type: Option<String>,
}

/// A generated token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Token {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub logprob: Option<f64>,
    /// Special tokens (`</s>`, `<|eot_id|>`) are not part of the text.
    #[serde(default)]
    pub special: bool,
}

/// `details` of the last stream event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamDetails {
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub generated_tokens: Option<u64>,
    /// Prompt tokens (TGI 2.x).
    #[serde(default)]
    pub input_length: Option<u64>,
    #[serde(default)]
    pub seed: Option<u64>,
}

/// `error`: one message, or a list of them (older serverless answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorText {
    One(String),
    Many(Vec<String>),
}

impl ErrorText {
    /// The message(s) as one string.
    pub fn joined(&self) -> String {
        match self {
            Self::One(s) => s.clone(),
            Self::Many(v) => v.join("; "),
        }
    }
}

/// An error body: `{"error": "...", "error_type": "validation"}`; the
/// serverless API adds `estimated_time` while a model loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorText,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub estimated_time: Option<f64>,
}
