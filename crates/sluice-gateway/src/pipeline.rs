//! The one entry point of every LLM call, whatever API surface it came in
//! on (OpenAI chat, embeddings, rerank, and later Anthropic Messages, the
//! Responses API...).
//!
//! Handlers parse their dialect into the canonical input and call these
//! functions; they never call the executor directly. The cross-cutting
//! policies that need the parsed request (key limits and budgets, the
//! response cache, guardrails) are applied here, in one place, around
//! [`crate::exec`].

use sluice_protocol::Error;

use crate::exec::{self, Answer, Counted, Job};
use crate::provider::{ChatInput, ChatOutput, Completion, EmbedInput, NativeBody, RerankInput};

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

/// A token-counting call (Anthropic's `POST /v1/messages/count_tokens`).
pub async fn count_tokens(job: &Job<'_>, input: &NativeBody) -> Result<Answer<Counted>, Error> {
    exec::count_tokens(job, input).await
}
