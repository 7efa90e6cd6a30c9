//! The one entry point of every LLM call, whatever API surface it came in
//! on (OpenAI chat, embeddings, rerank, provider pass-through and the
//! universal endpoint, and later Anthropic Messages, the Responses API...).
//!
//! Handlers parse their dialect into the canonical input and call these
//! functions; they never call the executor directly. The cross-cutting
//! policies that need the parsed request are applied here, in one place,
//! around [`crate::exec`], in this order:
//! 1. chat-like calls only: the request side of the guardrails
//!    ([`crate::guard`]): prompt guard, DLP (block, redact, restore, log),
//!    in the declared order; a blocked prompt stops here (a 400, or a
//!    refusal answer) and never reserves budget;
//! 2. admission ([`admission`]): allowed models and routes, then the
//!    caller's rate limits and budgets, reserved at once; a spent budget
//!    may switch the request to its fallback model;
//! 3. for chat, the response cache ([`crate::cache`]): a hit is served
//!    from it, a miss goes on and its answer is stored;
//! 4. execution against the model's targets;
//! 5. chat-like calls only: the answer side of the guardrails (output
//!    guard, output DLP, restoration), on complete answers and streams.

mod admission;

use sluice_protocol::Error;

use crate::exec::{self, Answer, Counted, Job};
use crate::passthrough::{Plan, Reply};
use crate::provider::{ChatInput, ChatOutput, Completion, EmbedInput, NativeBody, RerankInput};

/// A chat call.
pub async fn chat(job: &Job<'_>, input: &ChatInput) -> Result<Answer<ChatOutput>, Error> {
    let policies = crate::guard::applicable(job);
    if policies.is_empty() {
        return admit_and_run(job, input).await;
    }
    let before = crate::guard::before(job, input, &policies).await?;
    if let Some((policy, text)) = &before.refusal {
        return Ok(crate::guard::refusal::answer(job, input, policy, text));
    }
    let mut answer = admit_and_run(job, before.input.as_ref().unwrap_or(input)).await?;
    answer.value = crate::guard::after(job, answer.value, &policies, before.vault).await?;
    Ok(answer)
}

async fn admit_and_run(job: &Job<'_>, input: &ChatInput) -> Result<Answer<ChatOutput>, Error> {
    let object = &input.raw().object;
    let max: Option<u64> = object
        .get_as("max_completion_tokens")
        .ok()
        .flatten()
        .or_else(|| object.get_as("max_tokens").ok().flatten());
    let n: u64 = object.get_as("n").ok().flatten().unwrap_or(1).max(1);
    let output = max.map(|m| m.saturating_mul(n));
    match admission::admit(job, output).await? {
        Some(model) => {
            crate::cache::chat(
                &Job {
                    model: &model,
                    ..*job
                },
                input,
            )
            .await
        }
        None => crate::cache::chat(job, input).await,
    }
}

/// An embeddings call.
pub async fn embeddings(job: &Job<'_>, input: &EmbedInput) -> Result<Answer<Completion>, Error> {
    match admission::admit(job, Some(0)).await? {
        Some(model) => {
            exec::embeddings(
                &Job {
                    model: &model,
                    ..*job
                },
                input,
            )
            .await
        }
        None => exec::embeddings(job, input).await,
    }
}

/// A rerank call.
pub async fn rerank(job: &Job<'_>, input: &RerankInput) -> Result<Answer<Completion>, Error> {
    match admission::admit(job, Some(0)).await? {
        Some(model) => {
            exec::rerank(
                &Job {
                    model: &model,
                    ..*job
                },
                input,
            )
            .await
        }
        None => exec::rerank(job, input).await,
    }
}

/// A pass-through call: one provider's own API at `/{name}/...`, or the
/// universal endpoint's steps. `job.model` is the model the first step
/// names (empty when it names none); the steps carry their own providers.
pub async fn passthrough(job: &Job<'_>, plan: Plan) -> Result<Answer<Reply>, Error> {
    // The body is the provider's own: a spent budget cannot switch models.
    admission::admit_without_fallback(job).await?;
    crate::passthrough::run(job, plan).await
}

/// A token-counting call (Anthropic's `POST /v1/messages/count_tokens`).
pub async fn count_tokens(job: &Job<'_>, input: &NativeBody) -> Result<Answer<Counted>, Error> {
    exec::count_tokens(job, input).await
}
