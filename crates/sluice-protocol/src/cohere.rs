//! The Cohere v2 API: chat (`POST /v2/chat`, streamed and not), embeddings
//! (`POST /v2/embed`) and rerank (`POST /v2/rerank`).
//!
//! - [`wire`]: chat request, response, stream event and error types;
//! - [`convert`]: OpenAI chat request → Cohere chat request, Cohere chat
//!   response → OpenAI chat response;
//! - [`stream`]: Cohere stream events → OpenAI chunks;
//! - [`embed`]: OpenAI embeddings ⇄ Cohere embed;
//! - [`rerank`]: the gateway's rerank surface (Cohere's shape) ⇄ Cohere v2 rerank;
//! - [`error`]: Cohere error bodies → [`crate::Error`].
//!
//! All of it is pure: the gateway's `provider::cohere` does the HTTP.

pub mod convert;
pub mod embed;
pub mod error;
pub mod rerank;
pub mod stream;
pub mod wire;
