//! Replicate predictions, for language models hosted on Replicate.
//!
//! A chat request becomes one prediction: created with
//! `POST /models/{owner}/{name}/predictions` (official models),
//! `POST /predictions` with a `version` (any model version) or
//! `POST /deployments/{owner}/{name}/predictions`; then either waited for
//! (`Prefer: wait`, then polling `urls.get`) or streamed from `urls.stream`.
//!
//! - [`wire`]: prediction, stream event and problem-details types;
//! - [`convert`]: the upstream model name → endpoint, OpenAI request →
//!   prediction `input`, finished prediction → OpenAI response;
//! - [`stream`]: the prediction's `output`/`error`/`done` events → OpenAI
//!   chunks;
//! - [`error`]: problem+json bodies and failed predictions → [`crate::Error`].

pub mod convert;
pub mod error;
pub mod stream;
pub mod wire;
