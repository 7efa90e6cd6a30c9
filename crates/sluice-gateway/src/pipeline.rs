//! The one entry point of every LLM call, whatever API surface it came in
//! on (OpenAI chat, embeddings, rerank, provider pass-through and the
//! universal endpoint, and later Anthropic Messages, the Responses API...).
//!
//! Handlers parse their dialect into the canonical input and call these
//! functions; they never call the executor directly. The cross-cutting
//! policies that need the parsed request (key limits and budgets, the
//! response cache, guardrails) are applied here, in one place, around
//! [`crate::exec`].

use sluice_protocol::Error;

use crate::exec::{self, Answer, Job};
use crate::passthrough::{Plan, Reply};
use crate::provider::{ChatInput, ChatOutput, Completion, EmbedInput, RerankInput};

/// A chat call.
pub async fn chat(job: &Job<'_>, input: &ChatInput) -> Result<Answer<ChatOutput>, Error> {
    exec::chat(job, input).await
}

/// An embeddings call.
pub async fn embeddings(job: &Job<'_>, input: &EmbedInput) -> Result<Answer<Completion>, Error> {
    exec::embeddings(job, input).await
}

/// A rerank call.
pub async fn rerank(job: &Job<'_>, input: &RerankInput) -> Result<Answer<Completion>, Error> {
    exec::rerank(job, input).await
}

/// A pass-through call: one provider's own API at `/{name}/...`, or the
/// universal endpoint's steps. `job.model` is the model the first step
/// names (empty when it names none); the steps carry their own providers.
pub async fn passthrough(job: &Job<'_>, plan: Plan) -> Result<Answer<Reply>, Error> {
    crate::passthrough::run(job, plan).await
}
