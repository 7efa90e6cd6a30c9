//! Admission of one request against its caller's limits and budgets.
//!
//! Runs in the pipeline before the executor. Skipped at no cost when
//! nothing applies (no key limits, budgets or allow-lists, and no config
//! rule). Otherwise the prompt is counted, the tenancy reserves every
//! applicable charge at once, the rate-limit headers are left on the record
//! for the response, and the reservation is settled when the record is
//! finished (see [`crate::tenancy::limiter`]).

use sluice_protocol::Error;

use crate::exec::Job;
use crate::pricing::Price;
use crate::tenancy::limiter::Facts;

/// Admits `job`, reserving `output` completion tokens (`None`: the
/// configured default). `Ok(Some(model))`: serve that model instead (a
/// spent budget's fallback).
pub async fn admit(job: &Job<'_>, output: Option<u64>) -> Result<Option<String>, Error> {
    let rt = job.rt;
    let limits = &rt.config.limits;
    let identity = job.ctx.identity;
    let applies = !limits.rules.is_empty()
        || identity.is_some_and(|i| {
            !i.limits.is_empty()
                || !i.budgets.is_empty()
                || i.allowed_models.is_some()
                || i.allowed_routes.is_some()
        });
    if !applies {
        return Ok(None);
    }
    let route = job.record.read(|r| r.meta.route.clone());
    let prompt_tokens = (job.prompt_tokens)();
    let output_tokens = output.unwrap_or(limits.reserve_output_tokens);
    let mut model = job.model.to_owned();
    let mut budgets_spent = false;
    loop {
        let (price, provider) = model_facts(job, &model);
        let facts = Facts {
            model: &model,
            route: &route,
            provider: provider.as_deref(),
            prompt_tokens,
            output_tokens,
            price,
            budgets_spent,
        };
        let admitted = rt.tenancy.admit(identity, limits, &facts).await;
        let (result, view) = match admitted {
            Ok(mut a) => {
                let view = std::mem::take(&mut a.headers);
                (Ok(a), view)
            }
            Err(refused) => (Err(refused.error), refused.headers),
        };
        if !view.is_empty() {
            job.record
                .set_header_fn(Box::new(move |usage, cost| view.headers(usage, cost)));
        }
        let a = result?;
        if let Some(ticket) = a.ticket {
            job.record.on_finish(Box::new(move |r| ticket.settle(r)));
        }
        match a.fallback {
            Some(fallback) if !budgets_spent => {
                tracing::info!(from = %model, to = %fallback, "budget spent: serving the fallback model");
                if let Ok(v) = http::HeaderValue::from_str(&fallback) {
                    job.record
                        .add_header(http::HeaderName::from_static("x-sluice-budget-fallback"), v);
                }
                model = fallback;
                budgets_spent = true;
            }
            _ => return Ok(budgets_spent.then_some(model)),
        }
    }
}

/// Admits a request whose model cannot be switched (pass-through): a spent
/// budget refuses it even when the budget names a fallback model.
pub async fn admit_without_fallback(job: &Job<'_>) -> Result<(), Error> {
    match admit(job, None).await? {
        None => Ok(()),
        Some(_) => Err(Error::new(
            sluice_protocol::ErrorKind::BudgetExceeded,
            "The budget for this key is spent. Its fallback model applies to the OpenAI-style \
             endpoints only, not to provider pass-through.",
        )),
    }
}

/// The highest price among `model`'s targets, and its first provider.
fn model_facts(job: &Job<'_>, model: &str) -> (Option<Price>, Option<String>) {
    let Ok((group, captured)) = job.rt.models.lookup(model) else {
        return (None, None);
    };
    let price = group
        .targets
        .iter()
        .filter_map(|t| {
            t.price_of(
                &job.rt.prices,
                &t.upstream_model(&group.name, model, captured),
            )
        })
        .max_by(|a, b| a.typical().total_cmp(&b.typical()));
    let provider = group.targets.first().map(|t| t.provider.name().to_owned());
    (price, provider)
}
