//! Hugging Face text generation: the serverless Inference API's
//! `text-generation` task and Text Generation Inference (TGI)'s native
//! routes, for models that only take `inputs` text.
//!
//! Models with a chat template are served through Hugging Face's
//! OpenAI-compatible messages API instead, which needs no translation (the
//! gateway uses its OpenAI-wire provider for them).
//!
//! - [`wire`]: request, response, stream event and error types;
//! - [`convert`]: OpenAI request → `{"inputs", "parameters"}` (chat rendered
//!   with [`crate::prompt`]), generation output → OpenAI response;
//! - [`stream`]: TGI token events → OpenAI chunks;
//! - [`error`]: `{"error", "error_type"}` bodies → [`crate::Error`].

pub mod convert;
pub mod error;
pub mod stream;
pub mod wire;
