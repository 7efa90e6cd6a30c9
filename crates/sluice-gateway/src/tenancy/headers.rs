//! Rate-limit response headers, following OpenAI's convention:
//! `x-ratelimit-limit-<m>`, `x-ratelimit-remaining-<m>` and
//! `x-ratelimit-reset-<m>` (a duration such as `1s`, `6m0s` or `20ms`),
//! where `<m>` is `requests`, `tokens` (total tokens), `prompt-tokens`,
//! `completion-tokens` or `cost`.
//!
//! When several limits count the same metric, the one with the least room
//! left is reported. Budgets add `x-sluice-budget-remaining-usd` (the
//! smallest remaining budget). Built at admission from the reservation's
//! slots; the outermost layer adds them to the response.

use http::{HeaderName, HeaderValue};
use sluice_protocol::Usage;
use sluice_store::counters::{Charge, Slot};
use sluice_store::policy::Metric;

/// One counter as admission left it.
#[derive(Debug, Clone, Copy)]
struct Item {
    metric: Metric,
    budget: bool,
    limit: f64,
    /// Counted in the window, this request's reservation included.
    used: f64,
    /// This request's reservation.
    charged: f64,
    reset_ms: u64,
}

/// The counters of one admission, turned into headers when the response
/// starts: by then a complete answer's usage is known and replaces the
/// reservation in the figures; a stream reports its reservation.
#[derive(Debug, Clone, Default)]
pub struct RateView(Vec<Item>);

impl RateView {
    /// The view of a reservation: `(metric, is_budget, charge)` with its slot.
    pub fn new<'a>(items: impl Iterator<Item = ((Metric, bool, &'a Charge), &'a Slot)>) -> Self {
        Self(
            items
                .map(|((metric, budget, charge), slot)| Item {
                    metric,
                    budget,
                    limit: charge.limit,
                    used: slot.used,
                    charged: slot.charged,
                    reset_ms: slot.reset_ms,
                })
                .collect(),
        )
    }

    /// Whether no counter applies.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers, given the usage and cost known now.
    pub fn headers(
        &self,
        usage: Option<&Usage>,
        cost: Option<f64>,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let actual = |m: Metric| -> Option<f64> {
            let u = usage?;
            Some(match m {
                Metric::Requests => return None,
                Metric::PromptTokens => u.prompt_tokens as f64,
                Metric::CompletionTokens => u.completion_tokens as f64,
                Metric::TotalTokens => u.total_tokens() as f64,
                Metric::CostUsd => cost.unwrap_or(0.0),
            })
        };
        // Per metric: (limit, remaining, reset_ms) of the tightest limit.
        let mut tightest: Vec<(Metric, f64, f64, u64)> = Vec::new();
        let mut budget_left: Option<f64> = None;
        for it in &self.0 {
            let used = match actual(it.metric) {
                Some(a) if it.charged > 0.0 => it.used - it.charged + a,
                _ => it.used,
            };
            let remaining = (it.limit - used).max(0.0);
            if it.budget {
                budget_left = Some(budget_left.map_or(remaining, |b| b.min(remaining)));
                continue;
            }
            match tightest.iter_mut().find(|t| t.0 == it.metric) {
                Some(t) if remaining < t.2 => *t = (it.metric, it.limit, remaining, it.reset_ms),
                Some(_) => {}
                None => tightest.push((it.metric, it.limit, remaining, it.reset_ms)),
            }
        }
        let mut out = Vec::with_capacity(tightest.len() * 3 + 1);
        for (metric, limit, remaining, reset_ms) in tightest {
            let m = metric.header_name();
            let number = |v: f64| {
                if metric == Metric::CostUsd {
                    format!("{v:.6}")
                } else {
                    format!("{}", v.max(0.0).floor() as u64)
                }
            };
            push(&mut out, format!("x-ratelimit-limit-{m}"), number(limit));
            push(
                &mut out,
                format!("x-ratelimit-remaining-{m}"),
                number(remaining),
            );
            push(
                &mut out,
                format!("x-ratelimit-reset-{m}"),
                duration(reset_ms),
            );
        }
        if let Some(b) = budget_left {
            push(
                &mut out,
                "x-sluice-budget-remaining-usd".to_owned(),
                format!("{b:.6}"),
            );
        }
        out
    }
}

fn push(out: &mut Vec<(HeaderName, HeaderValue)>, name: String, value: String) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        out.push((n, v));
    }
}

/// A duration the way OpenAI writes it: `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = (ms / 60_000) % 60;
    let s = (ms % 60_000) as f64 / 1000.0;
    let secs = format!("{s:.3}");
    let secs = secs.trim_end_matches('0').trim_end_matches('.');
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_store::counters::Window;

    #[test]
    fn durations_read_like_openai() {
        assert_eq!(duration(20), "20ms");
        assert_eq!(duration(1000), "1s");
        assert_eq!(duration(1500), "1.5s");
        assert_eq!(duration(360_000), "6m0s");
        assert_eq!(duration(3_723_000), "1h2m3s");
    }

    #[test]
    fn tightest_limit_per_metric() {
        let w = Window::Sliding { ms: 60_000 };
        let a = Charge::exact("a".into(), 1000.0, w, 10.0);
        let b = Charge::exact("b".into(), 100.0, w, 10.0);
        let slot = |remaining: f64| Slot {
            used: 100.0 - remaining,
            remaining,
            reset_ms: 1500,
            bucket: 0,
            charged: 10.0,
        };
        let (sa, sb) = (slot(990.0), slot(90.0));
        let view = RateView::new(
            [
                ((Metric::TotalTokens, false, &a), &sa),
                ((Metric::TotalTokens, false, &b), &sb),
            ]
            .into_iter(),
        );
        let h = view.headers(None, None);
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("x-ratelimit-limit-tokens").as_deref(), Some("100"));
        assert_eq!(get("x-ratelimit-remaining-tokens").as_deref(), Some("90"));
        assert_eq!(get("x-ratelimit-reset-tokens").as_deref(), Some("1.5s"));
        // A complete answer's usage replaces the reservation: 10 reserved, 4 used.
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 1,
            ..Usage::default()
        };
        let h = view.headers(Some(&usage), None);
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("x-ratelimit-remaining-tokens").as_deref(), Some("96"));
    }
}
