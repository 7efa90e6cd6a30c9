//! Admission: allowed models and routes, then one atomic reservation over
//! every rate limit and budget that applies to a request; settlement when
//! its record is finished.
//!
//! Called by the pipeline once per request, after the model is known and
//! before any upstream is tried. What is reserved, per metric:
//! - requests: 1;
//! - prompt tokens: the prompt, counted with the tokenizer;
//! - completion tokens: the request's `max_tokens`, or
//!   `limits.reserve_output_tokens`;
//! - total tokens: both;
//! - cost (and budgets): that usage at the highest price among the model's
//!   targets.
//!
//! A token or cost estimate larger than the room left does not refuse the
//! request: it must only fit its floor (the prompt), and reserves the rest
//! of the room (see [`sluice_store::counters::Charge`]). When the response
//! ends (or the stream is cut, or the client leaves), the reservation
//! settles to the usage and cost in the record.

use std::sync::Arc;

use sluice_protocol::{Error, ErrorKind};
use sluice_store::RequestRecord;
use sluice_store::counters::{Adjustment, Charge, Window};
use sluice_store::db::requests::SpendBy;
use sluice_store::policy::{BudgetSpec, LimitSpec, Metric, OnExhausted};

use super::Tenancy;
use super::backend::{CounterBackend, Placement};
use super::directory::now_ms;
use super::headers::RateView;
use super::identity::{Identity, Owner};
use super::period;
use crate::config::tenancy::{LimitsConfig, Matcher, Per};
use crate::pricing::Price;
use crate::routing::pattern_matches;

/// The limit of a charge that is counted but not checked.
const UNCHECKED: f64 = 1e18;

/// What admission needs to know about a request.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The public model (after the route's policy).
    pub model: &'a str,
    pub route: &'a str,
    /// The provider of the model's first target.
    pub provider: Option<&'a str>,
    pub prompt_tokens: u64,
    /// Output tokens to reserve.
    pub output_tokens: u64,
    /// The highest price among the model's targets.
    pub price: Option<Price>,
    /// Serving a spent budget's fallback model: budgets are charged (so
    /// spend stays counted) but not checked.
    pub budgets_spent: bool,
}

impl Facts<'_> {
    fn amounts(&self, metric: Metric) -> (f64, f64) {
        let (p, o) = (self.prompt_tokens as f64, self.output_tokens as f64);
        match metric {
            Metric::Requests => (1.0, 1.0),
            Metric::PromptTokens => (p, p),
            Metric::CompletionTokens => (o, o.min(1.0)),
            Metric::TotalTokens => (p + o, p.max(1.0)),
            Metric::CostUsd => {
                let cost = |out: u64| {
                    self.price.map_or(0.0, |pr| {
                        pr.cost(&sluice_protocol::Usage {
                            prompt_tokens: self.prompt_tokens,
                            completion_tokens: out,
                            ..Default::default()
                        })
                    })
                };
                // A millionth of a dollar: a spent budget refuses even
                // requests whose price is unknown.
                let floor = cost(0).max(1e-6);
                (cost(self.output_tokens).max(floor), floor)
            }
        }
    }
}

/// One planned counter charge.
#[derive(Debug, Clone)]
struct Planned {
    charge: Charge,
    metric: Metric,
    /// The budget this is, if any.
    budget: Option<(Owner, String, BudgetSpec)>,
    /// Human name for errors: `key my-app`, `rule per-team-tokens`.
    label: String,
}

/// A held reservation, settled when the request's record is finished.
pub struct Ticket {
    counters: Arc<CounterBackend>,
    placement: Placement,
    held: Vec<(Planned, f64, u64)>,
}

/// A refused admission: the client's error, and the rate-limit headers.
pub struct Refused {
    pub error: Error,
    pub headers: RateView,
}

impl From<Error> for Refused {
    fn from(error: Error) -> Self {
        Self {
            error,
            headers: RateView::default(),
        }
    }
}

/// The result of admission.
pub struct Admitted {
    pub ticket: Option<Ticket>,
    /// Serve this model instead (a spent budget's fallback).
    pub fallback: Option<String>,
    /// The counters, for the response's rate-limit headers.
    pub headers: RateView,
}

impl Tenancy {
    /// Admits a request of `identity` (none: an open gateway) or refuses it
    /// with the error the client gets.
    pub async fn admit(
        &self,
        identity: Option<&Identity>,
        limits: &LimitsConfig,
        facts: &Facts<'_>,
    ) -> Result<Admitted, Refused> {
        if let Some(id) = identity {
            check_allowed(id, facts)?;
        }
        let now = now_ms();
        let planned = plan(identity, limits, facts, now);
        if planned.is_empty() {
            return Ok(Admitted {
                ticket: None,
                fallback: None,
                headers: RateView::default(),
            });
        }
        self.seed_budgets(&planned, now).await?;
        let charges: Vec<Charge> = planned.iter().map(|p| p.charge.clone()).collect();
        let has_budget = planned.iter().any(|p| p.budget.is_some());
        let (res, placement) = self.counters().reserve(&charges, has_budget).await?;
        let headers = RateView::new(
            planned
                .iter()
                .map(|p| (p.metric, p.budget.is_some(), &p.charge))
                .zip(res.slots.iter()),
        );
        if res.allowed {
            let held = planned
                .into_iter()
                .zip(res.slots.iter())
                .map(|(p, s)| (p, s.charged, s.bucket))
                .collect();
            return Ok(Admitted {
                ticket: Some(Ticket {
                    counters: self.counters().clone(),
                    placement,
                    held,
                }),
                fallback: None,
                headers,
            });
        }
        let denied: Vec<&Planned> = planned
            .iter()
            .zip(res.slots.iter())
            .filter(|(p, s)| s.used + p.charge.floor > p.charge.limit + 1e-9)
            .map(|(p, _)| p)
            .collect();
        let err = refusal(&denied, res.retry_after_ms);
        if err.kind() == ErrorKind::BudgetExceeded
            && !facts.budgets_spent
            && let Some(model) = fallback_of(&denied)
        {
            return Ok(Admitted {
                ticket: None,
                fallback: Some(model),
                headers,
            });
        }
        Err(Refused {
            error: err,
            headers,
        })
    }

    /// Seeds each budget bucket from the ledger the first time this process
    /// reserves in it, so spend survives restarts.
    async fn seed_budgets(&self, planned: &[Planned], now: i64) -> Result<(), Error> {
        for p in planned {
            let (Some((owner, id, spec)), Window::Fixed { id: bucket, ttl_ms }) =
                (&p.budget, p.charge.window)
            else {
                continue;
            };
            let marker = format!("{}:{bucket}", p.charge.key);
            if self.seeded.contains_key(&marker) {
                continue;
            }
            let since = period::span(spec.period, now).start_ms;
            let by = match owner {
                Owner::Key => SpendBy::Key,
                Owner::Consumer => SpendBy::Consumer,
                Owner::Team => SpendBy::Team,
            };
            match self.db.spend_of(by, id, since).await {
                Ok(spent) => {
                    self.counters()
                        .seed(&p.charge.key, bucket, ttl_ms, spent)
                        .await?;
                    self.seeded.insert(marker, ());
                }
                Err(e) => tracing::warn!(error = %e, "cannot read past spend to seed a budget"),
            }
        }
        Ok(())
    }
}

fn check_allowed(id: &Identity, facts: &Facts<'_>) -> Result<(), Error> {
    if id.allowed_models.is_some() && facts.model.is_empty() {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "This API key may use only some models, and this request names none.",
        ));
    }
    if let Some(models) = &id.allowed_models
        && !models.iter().any(|m| pattern_matches(m, facts.model))
    {
        return Err(Error::new(
            ErrorKind::Forbidden,
            format!("This API key may not use the model `{}`.", facts.model),
        )
        .with_param("model"));
    }
    if let Some(routes) = &id.allowed_routes
        && !routes.iter().any(|r| r == facts.route)
    {
        return Err(Error::new(
            ErrorKind::Forbidden,
            format!("This API key may not use the route `{}`.", facts.route),
        ));
    }
    Ok(())
}

fn window(spec: &LimitSpec, now: i64) -> Window {
    let ms = spec.window_secs.max(1) * 1000;
    if spec.sliding {
        Window::Sliding { ms }
    } else {
        let now = u64::try_from(now).unwrap_or(0);
        let id = now / ms;
        Window::Fixed {
            id,
            ttl_ms: ((id + 1) * ms - now).max(1),
        }
    }
}

fn limit_charge(key: String, spec: &LimitSpec, facts: &Facts<'_>, now: i64) -> Charge {
    let (amount, floor) = facts.amounts(spec.metric);
    Charge {
        key,
        limit: spec.limit,
        window: window(spec, now),
        amount,
        floor,
    }
}

/// Every charge that applies to the request.
fn plan(
    identity: Option<&Identity>,
    limits: &LimitsConfig,
    facts: &Facts<'_>,
    now: i64,
) -> Vec<Planned> {
    let mut out = Vec::new();
    if let Some(id) = identity {
        for (owner, oid, spec) in &id.limits {
            if let Some(models) = &spec.models
                && !models.iter().any(|m| pattern_matches(m, facts.model))
            {
                continue;
            }
            let mode = if spec.sliding { "s" } else { "f" };
            let key = format!(
                "sl:lim:{}:{oid}:{}:{}{mode}:{}",
                owner.as_str(),
                spec.metric.as_str(),
                spec.window_secs,
                spec.models.as_ref().map_or(String::new(), |m| m.join(","))
            );
            out.push(Planned {
                charge: limit_charge(key, spec, facts, now),
                metric: spec.metric,
                budget: None,
                label: format!("{} {}", owner.as_str(), id.owner_name(*owner)),
            });
        }
        for (owner, oid, spec) in &id.budgets {
            let span = period::span(spec.period, now);
            let (amount, floor) = if facts.budgets_spent {
                (0.0, 0.0)
            } else {
                facts.amounts(Metric::CostUsd)
            };
            out.push(Planned {
                charge: Charge {
                    key: budget_key(*owner, oid, spec),
                    // Checked against an unreachable limit when only charged.
                    limit: if facts.budgets_spent {
                        UNCHECKED
                    } else {
                        spec.usd
                    },
                    window: Window::Fixed {
                        id: span.bucket,
                        ttl_ms: span.left_ms(now),
                    },
                    amount,
                    floor,
                },
                metric: Metric::CostUsd,
                budget: Some((*owner, oid.clone(), spec.clone())),
                label: format!("{} {}", owner.as_str(), id.owner_name(*owner)),
            });
        }
    }
    for rule in &limits.rules {
        if !rule_matches(&rule.matcher, identity, facts) {
            continue;
        }
        let parts: Vec<&str> = rule
            .per
            .iter()
            .map(|p| partition(*p, identity, facts))
            .collect();
        let spec = &rule.spec;
        let key = format!(
            "sl:rule:{}:{}:{}{}:{}",
            rule.name,
            spec.metric.as_str(),
            spec.window_secs,
            if spec.sliding { "s" } else { "f" },
            parts.join("|")
        );
        out.push(Planned {
            charge: limit_charge(key, spec, facts, now),
            metric: spec.metric,
            budget: None,
            label: format!("rule {}", rule.name),
        });
    }
    out
}

/// The counter key of a budget (its bucket is the period).
pub fn budget_key(owner: Owner, id: &str, spec: &BudgetSpec) -> String {
    format!("sl:bud:{}:{id}:{}", owner.as_str(), spec.period.as_str())
}

fn partition<'a>(per: Per, identity: Option<&'a Identity>, facts: &Facts<'a>) -> &'a str {
    let anonymous = "-";
    match per {
        Per::Key => identity.map_or(anonymous, |i| i.key_id.as_str()),
        Per::Consumer => identity
            .and_then(|i| i.consumer_id.as_deref())
            .unwrap_or(anonymous),
        Per::Team => identity
            .and_then(|i| i.team_id.as_deref())
            .unwrap_or(anonymous),
        Per::Model => facts.model,
        Per::Provider => facts.provider.unwrap_or(anonymous),
        Per::Route => facts.route,
    }
}

fn rule_matches(m: &Matcher, identity: Option<&Identity>, facts: &Facts<'_>) -> bool {
    m.matches(identity, facts.model, facts.route)
        && (m.providers.is_empty()
            || facts
                .provider
                .is_some_and(|p| m.providers.iter().any(|x| x == p)))
}

/// The error for a refused reservation: a rate limit if any limit is
/// exceeded (it frees up by itself), else the spent budget.
fn refusal(denied: &[&Planned], retry_after_ms: u64) -> Error {
    if let Some(p) = denied.iter().find(|p| p.budget.is_none()) {
        return Error::new(
            ErrorKind::RateLimited,
            format!(
                "Rate limit reached for {}: {} {} per {}s. Retry after the time in the Retry-After header.",
                p.label,
                p.charge.limit,
                p.metric.as_str().replace('_', " "),
                window_secs(p.charge.window)
            ),
        )
        .with_retry_after(std::time::Duration::from_millis(retry_after_ms.max(1)));
    }
    match denied
        .first()
        .and_then(|p| p.budget.as_ref().map(|b| (p, b)))
    {
        Some((p, (_, _, spec))) => Error::new(
            ErrorKind::BudgetExceeded,
            format!(
                "The {} budget of ${:.2} for {} is spent. It resets at the start of the next period.",
                spec.period.as_str(),
                spec.usd,
                p.label
            ),
        ),
        None => Error::internal("a reservation was refused without an exceeded charge"),
    }
}

fn window_secs(w: Window) -> u64 {
    match w {
        Window::Sliding { ms } => ms / 1000,
        Window::Fixed { ttl_ms, .. } => ttl_ms.div_ceil(1000),
    }
}

/// The fallback model, when every spent budget names one.
fn fallback_of(denied: &[&Planned]) -> Option<String> {
    let mut model = None;
    for p in denied {
        match &p.budget {
            Some((
                _,
                _,
                BudgetSpec {
                    on_exhausted: OnExhausted::Fallback { model: m },
                    ..
                },
            )) => model = Some(m.clone()),
            _ => return None,
        }
    }
    model
}

impl Ticket {
    /// Settles every charge to the record's real usage and cost, in the
    /// background.
    pub fn settle(self, record: &RequestRecord) {
        // A cache hit spent no provider tokens: it settles to zero.
        let usage = record
            .usage
            .filter(|u| u.source != sluice_protocol::UsageSource::Cache)
            .unwrap_or_default();
        let cost = record.cost_usd.unwrap_or(0.0);
        let adjustments: Vec<Adjustment> = self
            .held
            .iter()
            .filter_map(|(p, charged, bucket)| {
                let actual = match p.metric {
                    Metric::Requests => return None,
                    Metric::PromptTokens => usage.prompt_tokens as f64,
                    Metric::CompletionTokens => usage.completion_tokens as f64,
                    Metric::TotalTokens => usage.total_tokens() as f64,
                    Metric::CostUsd => cost,
                };
                let delta = actual - charged;
                (delta.abs() > 1e-12).then(|| Adjustment {
                    key: p.charge.key.clone(),
                    bucket: *bucket,
                    ttl_ms: match p.charge.window {
                        Window::Sliding { ms } => 2 * ms,
                        Window::Fixed { ttl_ms, .. } => ttl_ms,
                    },
                    delta,
                })
            })
            .collect();
        if adjustments.is_empty() {
            return;
        }
        let (counters, placement) = (self.counters, self.placement);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { counters.adjust(placement, &adjustments).await });
        }
    }
}
