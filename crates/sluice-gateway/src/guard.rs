//! Guardrails: policies that inspect, rewrite or refuse an LLM call's
//! prompt and answer.
//!
//! Runs inside [`crate::pipeline`], the one entry point of every chat-like
//! call (chat completions, Anthropic Messages, the Responses API, legacy
//! completions), after the handler parsed the request and before admission:
//! a refused prompt never reserves budget and never reaches a provider.
//! Skipped at no cost when no policy is attached (`guardrails` empty).
//!
//! The policies applying to a call are the `global` ones, then those of
//! every matching rule, in declared order ([`applicable`]). Request side
//! ([`before`]): each policy in turn sees the prompt as the previous ones
//! left it: templates and decorators build it, a prompt guard may block or
//! refuse, DLP may block, redact or count, remote services may block. Answer side ([`after`]): complete answers are checked and
//! rewritten at once; streams are wrapped by [`stream`], which holds back a
//! bounded window of text. Every policy leaves a
//! [`sluice_store::GuardrailEvent`] on the record: detector names and
//! counts, never values.

pub mod body;
pub mod compose;
pub mod detect;
pub mod dlp;
mod input;
pub mod prompt;
pub mod refusal;
pub mod remote;
pub mod stream;
pub mod transform;

use std::sync::Arc;

use sluice_protocol::{Error, ErrorKind};
use sluice_store::{Detection, GuardrailEvent};

use crate::config::tenancy::Matcher;
use crate::exec::Job;
use crate::provider::ChatOutput;
use dlp::{Dlp, Findings, Vault};
pub use input::{Before, before};

/// One compiled policy.
#[derive(Debug)]
pub struct Policy {
    /// The name under `guardrails.policies`.
    pub name: String,
    pub kind: Kind,
}

/// What a policy does.
#[derive(Debug)]
pub enum Kind {
    PromptGuard(prompt::PromptGuard),
    Dlp(Dlp),
    OutputGuard(stream::OutputGuard),
    Remote(remote::Remote),
    Decorate(compose::Decorate),
    Template(compose::Templates),
    Transform(transform::Transformer),
}

/// The policies applying to `job`, in the order they run.
pub fn applicable(job: &Job<'_>) -> Vec<Arc<Policy>> {
    let cfg = &job.rt.config.guardrails;
    if cfg.is_empty() {
        return Vec::new();
    }
    let route = job.record.read(|r| r.meta.route.clone());
    let mut out: Vec<Arc<Policy>> = cfg.global.clone();
    for rule in &cfg.rules {
        if matches(&rule.matcher, job, &route) {
            for p in &rule.policies {
                if !out.iter().any(|q| Arc::ptr_eq(p, q)) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

fn matches(m: &Matcher, job: &Job<'_>, route: &str) -> bool {
    m.matches(job.ctx.identity, job.model, route)
}

/// The error for a call a policy blocked.
pub fn blocked(policy: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::BlockedByGuardrail,
        format!("The {what} was blocked by the `{policy}` guardrail policy."),
    )
}

/// The error for a call a fail-closed policy could not check.
pub fn unchecked(policy: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::BlockedByGuardrail,
        format!(
            "The {what} could not be checked by the `{policy}` guardrail policy (its service \
             failed or timed out), and that policy fails closed."
        ),
    )
}

/// A ledger entry for `policy` at `stage`.
pub fn event(policy: &Policy, stage: &str, outcome: &str) -> GuardrailEvent {
    GuardrailEvent {
        policy: policy.name.clone(),
        stage: stage.to_owned(),
        ran: true,
        outcome: outcome.to_owned(),
        detections: Vec::new(),
        note: None,
    }
}

/// The ledger entry of a DLP policy's findings.
pub fn dlp_event(policy: &Policy, d: &Dlp, f: &Findings, stage: &str) -> GuardrailEvent {
    let outcome = if f.blocked {
        "blocked"
    } else if f.changed {
        "redacted"
    } else if f.counts.iter().any(|c| *c > 0) {
        "flagged"
    } else {
        "passed"
    };
    let mut e = event(policy, stage, outcome);
    e.detections = f
        .named(d)
        .map(|(n, c)| Detection {
            detector: n.to_owned(),
            count: c,
        })
        .collect();
    e
}

/// Applies the answer-side policies to `output`: checks and rewrites a
/// complete answer now, wraps a stream. `vault` holds the values of
/// `restore` detections to put back.
pub async fn after(
    job: &Job<'_>,
    mut output: ChatOutput,
    policies: &[Arc<Policy>],
    vault: Vault,
) -> Result<ChatOutput, Error> {
    let watched: Vec<Arc<Policy>> = policies
        .iter()
        .filter(|p| match &p.kind {
            Kind::OutputGuard(_) => true,
            Kind::Dlp(d) => d.output,
            Kind::Remote(r) => r.output,
            Kind::Transform(t) => !t.request,
            Kind::PromptGuard(_) | Kind::Decorate(_) | Kind::Template(_) => false,
        })
        .cloned()
        .collect();
    if watched.is_empty() && vault.is_empty() {
        return Ok(output);
    }
    output.reply = match output.reply {
        crate::provider::ChatReply::Complete(mut c) => {
            c.body = stream::check_complete(job, &watched, &vault, c.body).await?;
            crate::provider::ChatReply::Complete(c)
        }
        crate::provider::ChatReply::Stream(s) => {
            crate::provider::ChatReply::Stream(stream::guard(s, watched, vault, job.record.clone()))
        }
    };
    Ok(output)
}
