//! The Anthropic Messages format.
//!
//! - [`wire`]: request, response, stream event and error types;
//! - [`convert`]: OpenAI request → Anthropic request, Anthropic response →
//!   OpenAI response;
//! - [`stream`]: Anthropic stream events → OpenAI chunks;
//! - [`error`]: Anthropic error bodies → [`crate::Error`];
//! - [`ingress`]: the other direction, for Anthropic *clients*: Messages
//!   request → OpenAI request, OpenAI response and chunks → Messages.

pub mod convert;
pub mod error;
pub mod ingress;
pub mod stream;
pub mod wire;
