//! Hedged requests: a second attempt, on the next target, when the first
//! is slow to its first token.
//!
//! The first attempt starts alone. If it has not answered (its first chunk,
//! for a stream) after the hedge delay, a second attempt starts on the
//! group's next target. The first to answer wins; the other is dropped,
//! which cancels its upstream request. If one fails, the other is awaited.
//! Both attempts are recorded; a cancelled loser is recorded as `hedge_lost`
//! with its prompt tokens (estimated), which is what it most likely cost.

use std::sync::Arc;
use std::time::Duration;

use sluice_protocol::Error;
use sluice_store::Attempt;
use tokio::time::Instant;

use super::{Attach, Job, note};
use crate::record::ms;
use crate::routing::{Group, Target};
use crate::tokens;

/// The result of a (possibly hedged) first attempt.
pub struct Outcome<'t, T> {
    pub winner: &'t Target,
    pub model: String,
    pub result: Result<T, Error>,
    /// The hedge (second) attempt produced the answer.
    pub hedged: bool,
}

/// Runs `first`, hedged by `second` after `delay`.
pub async fn race<'t, T, F, Fut>(
    job: &Job<'_>,
    group: &'t Arc<Group>,
    first: (usize, String),
    second: (usize, String),
    delay: Duration,
    attempt: &F,
) -> Outcome<'t, T>
where
    T: Attach,
    F: Fn(Arc<Group>, usize, String) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let (ia, ma) = first;
    let (ib, mb) = second;
    let ta = &group.targets[ia];
    let tb = &group.targets[ib];
    let reason = group.policy.strategy.as_str();
    let a_start = Instant::now();
    let a_guard = ta.stats.start();
    let fa = attempt(group.clone(), ia, ma.clone());
    tokio::pin!(fa);
    let early = tokio::select! {
        r = &mut fa => Some(r),
        () = tokio::time::sleep(delay) => None,
    };
    let lone = match early {
        Some(r) => Some(r),
        None if !tb.stats.try_acquire(Instant::now()) => Some(fa.as_mut().await),
        None => None,
    };
    if let Some(r) = lone {
        note(job.record, group, ta, &ma, &r, a_start.elapsed(), reason);
        return Outcome {
            winner: ta,
            result: r.map(|v| v.attach(a_guard, ta, group)),
            model: ma,
            hedged: false,
        };
    }
    let b_start = Instant::now();
    let b_guard = tb.stats.start();
    let fb = attempt(group.clone(), ib, mb.clone());
    tokio::pin!(fb);
    let mut a_err: Option<Error> = None;
    let mut b_err: Option<Error> = None;
    loop {
        tokio::select! {
            r = &mut fa, if a_err.is_none() => {
                note(job.record, group, ta, &ma, &r, a_start.elapsed(), reason);
                match r {
                    Ok(v) => {
                        if b_err.is_none() {
                            lost(job, tb, &mb, b_start);
                        }
                        return Outcome { winner: ta, result: Ok(v.attach(a_guard, ta, group)), model: ma, hedged: false };
                    }
                    Err(e) => a_err = Some(e),
                }
            }
            r = &mut fb, if b_err.is_none() => {
                note(job.record, group, tb, &mb, &r, b_start.elapsed(), "hedge");
                match r {
                    Ok(v) => {
                        if a_err.is_none() {
                            lost(job, ta, &ma, a_start);
                        }
                        return Outcome { winner: tb, result: Ok(v.attach(b_guard, tb, group)), model: mb, hedged: true };
                    }
                    Err(e) => b_err = Some(e),
                }
            }
        }
        if let (Some(_), Some(e)) = (&a_err, b_err.take()) {
            return Outcome {
                winner: tb,
                result: Err(e),
                model: mb,
                hedged: true,
            };
        }
    }
}

/// Records the cancelled loser of a race.
fn lost(job: &Job<'_>, target: &Target, model: &str, started: Instant) {
    target.stats.release_probe();
    job.record.push_attempt(Attempt {
        provider: target.provider.name().to_owned(),
        upstream_model: model.to_owned(),
        status: None,
        outcome: "hedge_lost".to_owned(),
        latency_ms: ms(started.elapsed()),
        reason: Some("hedge".to_owned()),
        usage: Some(tokens::estimated((job.prompt_tokens)(), 0)),
        start_ms: None,
    });
}
