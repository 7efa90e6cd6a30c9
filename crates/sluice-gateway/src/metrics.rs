//! Prometheus metrics, counted from request records.
//!
//! [`Metrics::observe`] runs once per finished request, from
//! [`crate::ledger::Ledger::submit`], so `/metrics` counts exactly the
//! records the ledger receives. It takes one short lock. Labels are kept
//! low-cardinality: provider, public model (only for requests that were
//! routed, so a client typing random model names cannot grow the series),
//! route, endpoint, status class and outcome; never key, consumer or user
//! ids. Histograms have explicit buckets. [`Metrics::render`] writes the
//! text exposition format for `GET /metrics`.

mod render;

use std::collections::HashMap;

use parking_lot::Mutex;
use sluice_store::{Outcome, RequestRecord};

/// Latency buckets, seconds.
const LATENCY: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// Time per output token buckets, seconds.
const PER_TOKEN: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1.0,
];
/// Gateway overhead buckets, seconds.
const OVERHEAD: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

type Labels = Vec<(&'static str, String)>;

/// One histogram series.
#[derive(Debug, Clone, Default)]
struct Hist {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Hist {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Default)]
struct Families {
    counters: HashMap<&'static str, HashMap<Labels, f64>>,
    hists: HashMap<&'static str, HashMap<Labels, Hist>>,
}

impl Families {
    fn inc(&mut self, name: &'static str, labels: Labels, by: f64) {
        *self
            .counters
            .entry(name)
            .or_default()
            .entry(labels)
            .or_default() += by;
    }

    fn hist(&mut self, name: &'static str, labels: Labels, v: f64) {
        let bounds = bounds_of(name);
        self.hists
            .entry(name)
            .or_default()
            .entry(labels)
            .or_default()
            .observe(bounds, v);
    }
}

fn bounds_of(name: &str) -> &'static [f64] {
    match name {
        "sluice_time_per_output_token_seconds" => PER_TOKEN,
        "sluice_gateway_overhead_seconds" => OVERHEAD,
        _ => LATENCY,
    }
}

/// The registry of one gateway.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<Families>,
    /// Requests being served now (kept by the shedding layer).
    pub in_flight: std::sync::atomic::AtomicUsize,
}

/// The `q` quantile (nearest rank) of ascending `sorted` values.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n.max(1));
    sorted.get(rank - 1).copied()
}

/// The `2xx`/`4xx`/`5xx` class of a status.
fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

/// The model label: the public model, for requests that got past model
/// resolution; `-` otherwise.
fn model_label(r: &RequestRecord) -> String {
    let routed = r.meta.provider_name.is_some()
        || !r.attempts.is_empty()
        || r.outcome != Outcome::BadRequest;
    match (&r.meta.request_model, routed) {
        (Some(m), true) => m.chars().take(64).collect(),
        _ => "-".into(),
    }
}

impl Metrics {
    /// Counts one finished request.
    pub fn observe(&self, r: &RequestRecord) {
        let provider = r.meta.provider_name.clone().unwrap_or_else(|| "-".into());
        let model = model_label(r);
        let route = if r.meta.route.is_empty() {
            "default".to_owned()
        } else {
            r.meta.route.clone()
        };
        let pm = || vec![("provider", provider.clone()), ("model", model.clone())];
        let mut f = self.families.lock();
        f.inc(
            "sluice_requests_total",
            vec![
                ("provider", provider.clone()),
                ("model", model.clone()),
                ("route", route.clone()),
                ("endpoint", r.meta.endpoint.clone()),
                ("status_class", status_class(r.status)),
                ("outcome", r.outcome.as_str().to_owned()),
            ],
            1.0,
        );
        if let Some(u) = &r.usage {
            for (kind, n) in [
                ("prompt", u.prompt_tokens),
                ("completion", u.completion_tokens),
                ("cached_read", u.cached_read_tokens),
                ("cached_write", u.cached_write_tokens),
                ("reasoning", u.reasoning_tokens),
            ] {
                if n > 0 {
                    let mut l = pm();
                    l.push(("type", kind.to_owned()));
                    f.inc("sluice_tokens_total", l, n as f64);
                }
            }
        }
        if let Some(cost) = r.cost_usd.filter(|c| *c > 0.0) {
            f.inc("sluice_cost_usd_total", pm(), cost);
        }
        if let Some(cache) = &r.cache {
            f.inc("sluice_cache_total", vec![("result", cache.clone())], 1.0);
        }
        if matches!(
            r.outcome,
            Outcome::RateLimited
                | Outcome::BudgetExceeded
                | Outcome::BlockedByGuardrail
                | Outcome::Shed
        ) {
            f.inc(
                "sluice_rejections_total",
                vec![("reason", r.outcome.as_str().to_owned())],
                1.0,
            );
        }
        for a in &r.attempts {
            let target = vec![
                ("provider", a.provider.clone()),
                (
                    "upstream_model",
                    a.upstream_model.chars().take(64).collect(),
                ),
            ];
            let mut l = target.clone();
            l.push(("outcome", a.outcome.chars().take(32).collect()));
            f.inc("sluice_upstream_attempts_total", l, 1.0);
            let reason = a.reason.as_deref().unwrap_or("");
            if reason.starts_with("retry") {
                f.inc("sluice_retries_total", target, 1.0);
            } else if reason.starts_with("fallback") {
                f.inc("sluice_fallbacks_total", target, 1.0);
            }
        }
        let mut l = pm();
        l.push(("route", route.clone()));
        f.hist("sluice_request_duration_seconds", l, r.latency_ms / 1e3);
        if let Some(ttft) = r.ttft_ms {
            f.hist("sluice_time_to_first_token_seconds", pm(), ttft / 1e3);
            let out = r.usage.map_or(0, |u| u.completion_tokens);
            if out > 1 {
                let per = (r.latency_ms - ttft).max(0.0) / 1e3 / (out - 1) as f64;
                f.hist("sluice_time_per_output_token_seconds", pm(), per);
            }
        }
        if let Some(g) = r.gateway_ms {
            f.hist(
                "sluice_gateway_overhead_seconds",
                vec![("route", route)],
                g / 1e3,
            );
        }
    }
}

#[cfg(test)]
mod tests;
