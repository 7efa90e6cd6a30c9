//! The Gemini `generateContent` format, shared by Google AI Studio and
//! Vertex AI (which differ only in URL and credentials).
//!
//! - [`wire`]: request, response, stream event, embeddings and error types;
//! - [`convert`]: OpenAI request → Gemini request, Gemini response → OpenAI
//!   response;
//! - [`schema`]: JSON Schema → Gemini's OpenAPI-subset `Schema`;
//! - [`stream`]: Gemini stream events → OpenAI chunks;
//! - [`embed`]: OpenAI embeddings ⇄ `batchEmbedContents` / Vertex `predict`;
//! - [`error`]: Google error bodies → [`crate::Error`].

pub mod convert;
pub mod embed;
pub mod error;
pub mod schema;
pub mod stream;
pub mod wire;
