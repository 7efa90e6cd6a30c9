//! Wire types and pure translation between LLM API dialects.
//!
//! This crate sits at the bottom of the workspace: it does no I/O and knows
//! nothing about tokio, HTTP clients or configuration. Everything here is a
//! function from bytes or values to bytes or values, so it can be tested from
//! fixtures and fuzzed.
//!
//! - [`error`]: the one error type of the gateway, classified by kind and
//!   rendered in the client's dialect.
//! - [`sse`]: a byte-level Server-Sent Events decoder with size limits.
//! - [`json`]: reading only the fields the gateway needs from a JSON object
//!   and re-emitting the original bytes with small patches.
//! - [`openai`]: the OpenAI wire format, which is also Sluice's canonical
//!   internal form for chat, streaming chunks and embeddings.
//! - [`usage`]: token usage with its provenance.
//! - [`stream`]: the state-machine shape of every stream translator.
//! - [`translate`]: helpers shared by translating adapters.
//! - [`anthropic`]: the Anthropic Messages format and its translation.
//! - [`bedrock`]: the AWS Bedrock Converse format and its translation.
//! - [`eventstream`]: the AWS event-stream binary framing, decoder and encoder.
//! - [`gemini`]: the Gemini `generateContent` format (AI Studio and Vertex
//!   AI) and its translation.
//! - [`prompt`]: a chat rendered as one prompt, for text-completion upstreams.
//! - [`huggingface`]: Hugging Face / TGI text generation and its translation.
//! - [`replicate`]: Replicate predictions and their translation.
//! - [`cohere`]: the Cohere v2 chat, embed and rerank formats and their translation.
//! - [`meter`]: model and usage read from native responses forwarded untouched
//!   (pass-through).
//! - [`passthrough`]: reading usage, ends and errors from native streams
//!   forwarded untouched (Anthropic Messages, the Responses API).

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod error;
pub mod eventstream;
pub mod fuzzing;
pub mod gemini;
pub mod huggingface;
pub mod json;
pub mod meter;
pub mod openai;
pub mod passthrough;
pub mod prompt;
pub mod replicate;
pub mod sse;
pub mod stream;
pub mod translate;
pub mod usage;

pub use error::{Error, ErrorKind};
pub use usage::{Usage, UsageSource};
