//! The OpenAI wire format.
//!
//! OpenAI's Chat Completions shape is Sluice's canonical form: every other
//! provider's adapter translates to and from it, and OpenAI-wire upstreams
//! receive the client's bytes with at most the `model` and `stream_options`
//! fields patched.
//!
//! - [`chat`]: typed request, response and chunk, for translation.
//! - [`request`]: the few fields read before routing, and the byte patch.
//! - [`stream`]: inspecting passthrough stream chunks for usage and errors.
//! - [`embeddings`], [`models`]: the other endpoints.
//! - [`error`]: reading upstream error bodies.
//! - [`responses`], [`completions`]: the Responses API and the legacy
//!   Completions API, translated to and from chat for providers that lack them.

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod error;
pub mod models;
pub mod request;
pub mod responses;
pub mod stream;
