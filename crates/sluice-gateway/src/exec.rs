//! The executor: runs one request against its model's targets.
//!
//! Called by the handler once the request is admitted and its model known.
//! The one rule (drawn in `docs/routing.md`):
//!
//! 1. [`crate::routing::plan`] orders the group's targets for this request.
//! 2. Targets are tried in that order. A failed attempt moves on only if the
//!    error is retryable (connect error, timeout, 429, 5xx, overload, a
//!    stream that broke before its first chunk), nothing has reached the
//!    client (streams are peeked to their first chunk before committing), the
//!    group's `retries.attempts` are not used up and its time budget is not
//!    spent. Trying a target a second time waits an exponential backoff with
//!    jitter, or the upstream's `Retry-After` if it is within the cap (a
//!    longer one ends the retries).
//! 3. A non-retryable error ends the request, except a context-window or
//!    content-filter error, which moves to the model named in the group's
//!    `fallbacks` (at most [`MAX_MODEL_HOPS`] times).
//! 4. With `hedge`, the first attempt gets a partner on the second target if
//!    it has not produced its first token after the hedge delay; the first to
//!    answer wins and the other is cancelled.
//!
//! Every attempt is recorded, and fed to the target's breaker and averages.

mod attempt;
mod deadline;
mod drain;
mod hedge;

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sluice_protocol::{Error, ErrorKind};
use sluice_store::Attempt;
use tokio::time::Instant;

use crate::config::routing::{HedgeAfter, Retries};
use crate::provider::{
    ChatInput, ChatOutput, ChatReply, Completion, EmbedInput, NativeBody, Provider, RerankInput,
};
use crate::record::{RecordHandle, ms};
use crate::routing::{Group, RouteCtx, Target, plan};

use crate::state::Runtime;
pub use attempt::{Attach, Counted};

/// Model fallbacks followed at most this many times per request.
pub const MAX_MODEL_HOPS: usize = 3;
/// The hedge delay used for `p95` until enough samples exist.
const DEFAULT_HEDGE_DELAY: Duration = Duration::from_secs(1);

/// A successful answer and how it was reached.
pub struct Answer<T> {
    pub value: T,
    pub provider: Arc<dyn Provider>,
    pub upstream_model: String,
    /// Time spent waiting on upstreams before the answer was ready (all
    /// attempts), used to report the gateway's own overhead.
    pub upstream_time: Duration,
    /// Attempts made, the answering one included.
    pub attempts: u32,
    /// Why the answering target was chosen.
    pub reason: String,
    /// The answering target's price, if known.
    pub price: Option<crate::pricing::Price>,
}

/// One request to execute.
pub struct Job<'a> {
    pub rt: &'a Runtime,
    pub ctx: RouteCtx<'a>,
    pub record: &'a RecordHandle,
    /// The public model asked for (after the route's policy).
    pub model: &'a str,
    /// Estimates the prompt's tokens, for attempts that cost without
    /// answering (a cancelled hedge loser).
    pub prompt_tokens: &'a (dyn Fn() -> u64 + Sync),
}

/// Runs a chat request.
pub async fn chat(job: &Job<'_>, input: &ChatInput) -> Result<Answer<ChatOutput>, Error> {
    let mut answer = run(
        job,
        |group: Arc<Group>, i: usize, model: String| async move {
            attempt::chat(&group.targets[i], input, &model).await
        },
    )
    .await?;
    answer.value.reply = match answer.value.reply {
        ChatReply::Stream(s) => ChatReply::Stream(drain::cut_off(s, job.rt.drain.clone())),
        done => done,
    };
    Ok(answer)
}

/// Runs a token-counting request (Anthropic's `count_tokens`). A target
/// whose provider cannot count answers `Counted(None)`; the caller then
/// estimates.
pub async fn count_tokens(job: &Job<'_>, input: &NativeBody) -> Result<Answer<Counted>, Error> {
    run(
        job,
        |group: Arc<Group>, i: usize, model: String| async move {
            attempt::count_tokens(&group.targets[i], input, &model).await
        },
    )
    .await
}

/// Runs a rerank request.
pub async fn rerank(job: &Job<'_>, input: &RerankInput) -> Result<Answer<Completion>, Error> {
    run(
        job,
        |group: Arc<Group>, i: usize, model: String| async move {
            attempt::rerank(&group.targets[i], input, &model).await
        },
    )
    .await
}

/// Runs an embeddings request.
pub async fn embeddings(job: &Job<'_>, input: &EmbedInput) -> Result<Answer<Completion>, Error> {
    run(
        job,
        |group: Arc<Group>, i: usize, model: String| async move {
            attempt::embeddings(&group.targets[i], input, &model).await
        },
    )
    .await
}

async fn run<T, F, Fut>(job: &Job<'_>, attempt: F) -> Result<Answer<T>, Error>
where
    T: Attach,
    F: Fn(Arc<Group>, usize, String) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut model = job.model.to_owned();
    let mut hop_reason: Option<String> = None;
    let mut spent = Spent::default();
    for hop in 0..MAX_MODEL_HOPS {
        let (group, captured) = job.rt.models.lookup(&model)?;
        let captured = captured.to_owned();
        match run_group(job, &group, &model, &captured, &attempt, &mut spent).await {
            Ok(mut a) => {
                if let Some(r) = hop_reason {
                    a.reason = r;
                }
                return Ok(a);
            }
            Err(e) => {
                let next = match e.kind() {
                    ErrorKind::ContextLengthExceeded => {
                        group.policy.fallback_context_window.clone()
                    }
                    ErrorKind::ContentFiltered => group.policy.fallback_content_filter.clone(),
                    _ => None,
                };
                match next {
                    Some(n) if hop + 1 < MAX_MODEL_HOPS => {
                        hop_reason = Some(format!("fallback_{}:{n}", e.kind().as_str()));
                        model = n;
                    }
                    _ => return Err(e),
                }
            }
        }
    }
    Err(Error::internal("model fallbacks exhausted"))
}

/// Attempts and upstream time spent so far on a request.
#[derive(Default)]
struct Spent {
    attempts: u32,
    upstream: Duration,
}

async fn run_group<T, F, Fut>(
    job: &Job<'_>,
    group: &Arc<Group>,
    requested: &str,
    captured: &str,
    attempt: &F,
    spent: &mut Spent,
) -> Result<Answer<T>, Error>
where
    T: Attach,
    F: Fn(Arc<Group>, usize, String) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let plan = plan::plan(group, &job.ctx);
    let Some(&first) = plan.order.first() else {
        return Err(Error::new(
            ErrorKind::ModelNotFound,
            format!("No target of the model `{requested}` accepts this request."),
        )
        .with_param("model"));
    };
    let policy = &group.policy;
    let budget = policy
        .retries
        .budget
        .unwrap_or(group.targets[first].timeouts.total);
    let deadline = Instant::now() + budget;
    let mut reason = plan.reason.to_owned();
    let mut last: Option<Error> = None;
    let mut made = 0u32;
    let mut step = 0usize;
    // A target whose provider was at its `max_in_flight` (name, limit).
    let mut full: Option<(String, usize)> = None;
    // Each target may be skipped (breaker probe taken) at most once per lap.
    let max_steps = plan.order.len() * (policy.retries.attempts as usize + 1);
    while made < policy.retries.attempts && step < max_steps {
        let i = plan.order[step % plan.order.len()];
        let target = &group.targets[i];
        if step >= plan.order.len() {
            if made == 0 && full.is_some() {
                break; // every target is full: shed now, never queue
            }
            let Some(wait) = backoff(&policy.retries, made, last.as_ref()) else {
                break;
            };
            if Instant::now() + wait >= deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            if let Some(e) = &last {
                reason = format!("retry_after_{}", e.kind().as_str());
            }
        }
        step += 1;
        // Before the breaker, so a full provider never takes a probe slot.
        let Some(permit) = target.gate.try_enter(target.max_in_flight) else {
            let limit = target.max_in_flight.unwrap_or_default();
            full = Some((target.provider.name().to_owned(), limit));
            continue;
        };
        if !target.stats.try_acquire(Instant::now()) && plan.order.len() > 1 {
            continue;
        }
        made += 1;
        spent.attempts += 1;
        let upstream_model = target.upstream_model(&group.name, requested, captured);
        let hedge = (made == 1 && plan.order.len() > 1)
            .then_some(policy.hedge)
            .flatten()
            .map(|h| hedge_delay(group, h));
        let started = Instant::now();
        let outcome = match hedge {
            Some(delay) => {
                let j = plan.order[1];
                let partner_model =
                    group.targets[j].upstream_model(&group.name, requested, captured);
                hedge::race(
                    job,
                    group,
                    (i, upstream_model),
                    (j, partner_model),
                    delay,
                    attempt,
                )
                .await
            }
            None => {
                let guard = target.stats.start().holding(permit);
                let result = attempt(group.clone(), i, upstream_model.clone()).await;
                let took = started.elapsed();
                note(
                    job.record,
                    group,
                    target,
                    &upstream_model,
                    &result,
                    took,
                    &reason,
                );
                hedge::Outcome {
                    winner: target,
                    model: upstream_model,
                    result: result.map(|v| v.attach(guard, target, group)),
                    hedged: false,
                }
            }
        };
        spent.upstream += started.elapsed();
        match outcome.result {
            Ok(value) => {
                return Ok(Answer {
                    value,
                    provider: outcome.winner.provider.clone(),
                    price: outcome.winner.price_of(&job.rt.prices, &outcome.model),
                    upstream_model: outcome.model,
                    upstream_time: spent.upstream,
                    attempts: spent.attempts,
                    reason: if outcome.hedged {
                        "hedge_won".to_owned()
                    } else {
                        reason
                    },
                });
            }
            Err(e) if e.is_retryable() => {
                reason = format!("fallback_after_{}", e.kind().as_str());
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Err(last.unwrap_or_else(|| {
        if let Some((provider, limit)) = full {
            return crate::routing::gate::full(&provider, limit);
        }
        Error::new(
            ErrorKind::UpstreamConnect,
            format!("every target of `{requested}` is unavailable (circuit open)"),
        )
    }))
}

/// Records one finished attempt and feeds the target's breaker and averages.
fn note<T: Attach>(
    record: &RecordHandle,
    group: &Group,
    target: &Target,
    model: &str,
    result: &Result<T, Error>,
    took: Duration,
    reason: &str,
) {
    let (status, outcome) = match result {
        Ok(_) => (Some(200), "ok".to_owned()),
        Err(e) => (e.upstream_status(), e.kind().as_str().to_owned()),
    };
    let half_life = group.half_life();
    match result {
        Ok(v) if v.is_stream() => {
            // A stream attempt ends at its first chunk: `took` is its TTFT.
            target.stats.on_success(Some(took), None, half_life);
            group.observe_ttft(ms(took));
        }
        Ok(_) => target.stats.on_success(None, Some(took), half_life),
        Err(e) if e.is_retryable() || e.kind() == ErrorKind::UpstreamAuth => {
            target.stats.on_failure(half_life);
        }
        // A refusal of the request itself says nothing about the target's health.
        Err(_) => target.stats.release_probe(),
    }
    record.push_attempt(Attempt {
        provider: target.provider.name().to_owned(),
        upstream_model: model.to_owned(),
        status,
        outcome,
        latency_ms: ms(took),
        reason: Some(reason.to_owned()),
        usage: None,
        start_ms: None,
    });
}

/// The wait before retrying a target already tried, or `None` when the
/// upstream asked for longer than the cap.
fn backoff(r: &Retries, made: u32, last: Option<&Error>) -> Option<Duration> {
    if let Some(after) = last.and_then(Error::retry_after) {
        return (after <= r.retry_after_cap).then_some(after);
    }
    let exp = r
        .backoff
        .saturating_mul(2u32.saturating_pow(made.saturating_sub(1).min(16)));
    let capped = exp.min(r.max_backoff);
    // Full jitter between half and all of the computed wait.
    let jitter = rand::rng().random_range(0.5..=1.0);
    Some(capped.mul_f64(jitter))
}

fn hedge_delay(group: &Group, h: HedgeAfter) -> Duration {
    match h {
        HedgeAfter::Fixed(d) => d,
        HedgeAfter::P95 => group.ttft_p95_ms().map_or(DEFAULT_HEDGE_DELAY, |ms| {
            Duration::from_secs_f64(ms / 1000.0)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retries() -> Retries {
        Retries {
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            retry_after_cap: Duration::from_secs(2),
            budget: None,
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        for _ in 0..100 {
            let b = backoff(&retries(), 1, None).unwrap();
            assert!(
                b >= Duration::from_millis(50) && b <= Duration::from_millis(100),
                "{b:?}"
            );
            let b = backoff(&retries(), 5, None).unwrap();
            assert!(b <= Duration::from_millis(300));
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let e = Error::new(ErrorKind::UpstreamRateLimited, "x")
            .with_retry_after(Duration::from_secs(1));
        assert_eq!(
            backoff(&retries(), 1, Some(&e)),
            Some(Duration::from_secs(1))
        );
        let e = Error::new(ErrorKind::UpstreamRateLimited, "x")
            .with_retry_after(Duration::from_secs(60));
        assert_eq!(backoff(&retries(), 1, Some(&e)), None);
    }
}
