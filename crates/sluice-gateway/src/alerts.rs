//! Usage alerts, delivered by webhook.
//!
//! [`AlertSink`] is a ledger sink: it sees every finished record, off the
//! request path, and fires when
//! - a rule's error rate or 95th percentile latency, per public model over
//!   a sliding window of requests, crosses its threshold;
//! - a budget (of a key, its consumer or its team) with `alert_at` has that
//!   fraction spent (checked after each priced request of the key, at most
//!   once a second per key).
//!
//! An alert is a JSON POST to `alerts.webhook`, retried three times; one
//! rule and subject fire at most once per `alerts.cooldown` (a budget once
//! per period). Delivery runs in its own task, so a slow webhook never
//! holds back the ledger. Alerts are configured at start-up.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sluice_store::{Outcome, RecordSink, RequestRecord, StoreError};

use crate::config::observe::{AlertRule, AlertsConfig};
use crate::routing::pattern_matches;
use crate::tenancy::Tenancy;

/// How often one key's budgets are checked, at most.
const BUDGET_CHECK_EVERY: Duration = Duration::from_secs(1);

/// One request, as a window keeps it.
struct Sample {
    at: Instant,
    error: bool,
    latency_ms: f64,
}

#[derive(Default)]
struct State {
    /// Per (rule index, model): recent requests.
    windows: HashMap<(usize, String), VecDeque<Sample>>,
    /// Per alert subject: when it last fired.
    fired: HashMap<String, Instant>,
    /// Per key: when its budgets were last checked.
    checked: HashMap<String, Instant>,
}

/// Watches records and posts alerts.
pub struct AlertSink {
    cfg: AlertsConfig,
    tenancy: Arc<Tenancy>,
    client: reqwest::Client,
    state: Mutex<State>,
}

impl AlertSink {
    /// A sink for `cfg`; `None` when no webhook is configured.
    pub fn new(cfg: &AlertsConfig, tenancy: Arc<Tenancy>) -> Option<Self> {
        cfg.webhook.as_ref()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()
            .ok()?;
        Some(Self {
            cfg: cfg.clone(),
            tenancy,
            client,
            state: Mutex::new(State::default()),
        })
    }

    /// Threshold alerts due after `r`.
    fn rule_alerts(&self, r: &RequestRecord, now: Instant) -> Vec<Value> {
        let Some(model) = r.meta.request_model.as_deref() else {
            return Vec::new();
        };
        // Requests that never reached a provider (unknown models...) are not
        // the model's errors.
        if r.meta.provider_name.is_none() && r.attempts.is_empty() {
            return Vec::new();
        }
        let mut st = self.state.lock();
        let mut out = Vec::new();
        for (i, rule) in self.cfg.rules.iter().enumerate() {
            if !pattern_matches(&rule.model, model) {
                continue;
            }
            let w = st.windows.entry((i, model.to_owned())).or_default();
            w.push_back(Sample {
                at: now,
                error: !matches!(r.outcome, Outcome::Ok | Outcome::ClientCancelled),
                latency_ms: r.latency_ms,
            });
            while w
                .front()
                .is_some_and(|s| now.duration_since(s.at) > rule.window)
            {
                w.pop_front();
            }
            if let Some(alert) = judge(rule, model, w) {
                let subject = format!("rule:{}:{model}", rule.name);
                if cooled(&mut st.fired, &subject, now, self.cfg.cooldown) {
                    out.push(alert);
                }
            }
        }
        out
    }

    /// Budget alerts due after `r` (queries the store).
    async fn budget_alerts(&self, r: &RequestRecord, now: Instant) -> Vec<Value> {
        let Some(key) = r.identity.key_id.as_deref() else {
            return Vec::new();
        };
        if !self.cfg.budgets || r.cost_usd.unwrap_or(0.0) <= 0.0 {
            return Vec::new();
        }
        {
            let mut st = self.state.lock();
            if st
                .checked
                .get(key)
                .is_some_and(|t| now.duration_since(*t) < BUDGET_CHECK_EVERY)
            {
                return Vec::new();
            }
            st.checked.insert(key.to_owned(), now);
        }
        let usage = match self.tenancy.key_usage(key).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "budget alert check failed");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        let mut st = self.state.lock();
        for b in usage.budgets.iter().filter(|b| b.alerting) {
            let subject = format!("budget:{}:{}:{}", b.owner, b.owner_id, b.period_start_ms);
            if st.fired.contains_key(&subject) {
                continue;
            }
            st.fired.insert(subject, now);
            out.push(json!({
                "type": "budget",
                "owner": b.owner,
                "owner_id": b.owner_id,
                "owner_name": b.owner_name,
                "budget_usd": b.budget.usd,
                "period": b.budget.period.as_str(),
                "alert_at": b.budget.alert_at,
                "spent_usd": b.spent_usd,
                "remaining_usd": b.remaining_usd,
                "resets_at_ms": b.resets_at_ms,
                "message": format!(
                    "{} `{}` has spent {:.4} of its {} USD {} budget",
                    b.owner, b.owner_name, b.spent_usd, b.budget.usd, b.budget.period.as_str()
                ),
            }));
        }
        out
    }

    fn deliver(&self, alerts: Vec<Value>) {
        let Some(url) = self.cfg.webhook.clone() else {
            return;
        };
        for mut alert in alerts {
            alert["source"] = json!("sluice");
            alert["at_ms"] = json!(crate::tenancy::directory::now_ms());
            let mut req = self.client.post(&url).json(&alert);
            for (name, value) in &self.cfg.headers {
                req = req.header(name.as_str(), value.expose());
            }
            tokio::spawn(async move {
                for attempt in 0..3u32 {
                    let Some(r) = req.try_clone() else { return };
                    match r.send().await {
                        Ok(resp) if resp.status().is_success() => return,
                        Ok(resp) => {
                            tracing::warn!(status = resp.status().as_u16(), "alert webhook refused")
                        }
                        Err(e) => tracing::warn!(error = %e.without_url(), "alert webhook failed"),
                    }
                    tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
                }
                tracing::error!("alert not delivered after 3 tries");
            });
        }
    }
}

/// Whether `subject` may fire now (and marks it fired).
fn cooled(
    fired: &mut HashMap<String, Instant>,
    subject: &str,
    now: Instant,
    cooldown: Duration,
) -> bool {
    if fired
        .get(subject)
        .is_some_and(|t| now.duration_since(*t) < cooldown)
    {
        return false;
    }
    fired.insert(subject.to_owned(), now);
    true
}

/// The alert a window calls for under `rule`, if any.
fn judge(rule: &AlertRule, model: &str, w: &VecDeque<Sample>) -> Option<Value> {
    let n = w.len() as u64;
    if n < rule.min_requests {
        return None;
    }
    let base = |kind: &str, value: f64, threshold: f64| {
        json!({
            "type": kind,
            "rule": rule.name,
            "model": model,
            "value": value,
            "threshold": threshold,
            "window_secs": rule.window.as_secs(),
            "requests": n,
            "message": format!("{kind} of `{model}` is {value:.3} (threshold {threshold}) over the last {n} requests"),
        })
    };
    if let Some(max) = rule.error_rate {
        let rate = w.iter().filter(|s| s.error).count() as f64 / n as f64;
        if rate > max {
            return Some(base("error_rate", rate, max));
        }
    }
    if let Some(max) = rule.latency_p95 {
        let mut l: Vec<f64> = w.iter().map(|s| s.latency_ms).collect();
        l.sort_by(f64::total_cmp);
        let p95 = crate::metrics::quantile(&l, 0.95)?;
        let max_ms = max.as_secs_f64() * 1000.0;
        if p95 > max_ms {
            return Some(base("latency_p95_ms", p95, max_ms));
        }
    }
    None
}

#[async_trait]
impl RecordSink for AlertSink {
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut alerts = Vec::new();
        for r in records {
            alerts.extend(self.rule_alerts(r, now));
            alerts.extend(self.budget_alerts(r, now).await);
        }
        if !alerts.is_empty() {
            self.deliver(alerts);
        }
        Ok(())
    }
}
