//! Config sections for what Sluice records and reports: the ledger (spool,
//! retention, payloads), OpenTelemetry traces and usage alerts, as written
//! and validated.
//!
//! `ledger` and `traces` are read at start-up; `alerts` and
//! `ledger.payloads` apply from the next reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::secret::{Secret, resolve};
use super::units::{Dur, Size};
use super::validate::Ctx;

/// `ledger:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLedger {
    /// Delete records older than this (checked hourly). Default: keep all.
    pub retention: Option<Dur>,
    /// Where records wait while the database is down. Default `<data_dir>/spool`.
    pub spool_dir: Option<String>,
    /// Largest spool. Default `1GiB`.
    pub spool_max_size: Option<Size>,
    /// A database write slower than this is spooled instead. Default `2s`.
    pub write_timeout: Option<Dur>,
    /// Request and response bodies kept with the record (off by default).
    #[serde(default)]
    pub payloads: RawPayloads,
}

/// `ledger.payloads:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPayloads {
    /// Keep bodies for every request. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// Keep bodies only for these routes (names).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Keep bodies only for these virtual key ids.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Longest body kept, each way; the rest is cut. Default `16KiB`.
    pub max_size: Option<Size>,
}

/// `traces:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraces {
    /// OTLP/HTTP collector base URL, e.g. `http://127.0.0.1:4318`
    /// (`/v1/traces` is appended). No export without it.
    pub otlp_endpoint: Option<Spanned<String>>,
    /// `http/protobuf` (default) or `http/json`.
    pub protocol: Option<OtlpProtocol>,
    /// Extra headers for the collector (values may be `env:` references).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `service.name`. Default `sluice`.
    pub service_name: Option<String>,
}

/// The OTLP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum OtlpProtocol {
    #[default]
    #[serde(rename = "http/protobuf")]
    Protobuf,
    #[serde(rename = "http/json")]
    Json,
}

/// `alerts:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Where alerts are POSTed (JSON).
    pub webhook: Option<Spanned<String>>,
    /// Extra headers for the webhook (values may be `env:` references).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Least time between two alerts of one rule and subject. Default `10m`.
    pub cooldown: Option<Dur>,
    /// Alert when a budget's `alert_at` fraction is spent. Default true.
    pub budgets: Option<bool>,
    #[serde(default)]
    pub rules: Vec<RawAlertRule>,
}

/// One alert rule: a threshold over a sliding window of requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertRule {
    pub name: String,
    /// Public model name or pattern (`*` for every model, per model).
    #[serde(default = "star")]
    pub model: String,
    /// Error fraction (0..1) that fires the alert.
    pub error_rate: Option<f64>,
    /// 95th percentile latency that fires the alert.
    pub latency_p95: Option<Dur>,
    /// Window the rate or percentile is computed over. Default `5m`.
    pub window: Option<Dur>,
    /// Fewest requests in the window before the rule is judged. Default 10.
    pub min_requests: Option<u64>,
}

fn star() -> String {
    "*".into()
}

/// `ledger:` validated.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    pub retention: Option<Duration>,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub write_timeout: Duration,
    pub payloads: PayloadConfig,
}

/// `ledger.payloads:` validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadConfig {
    pub enabled: bool,
    pub routes: Vec<String>,
    pub keys: Vec<String>,
    pub max_bytes: usize,
}

impl PayloadConfig {
    /// Whether a request on `route` with `key` keeps its bodies.
    pub fn applies(&self, route: &str, key: Option<&str>) -> bool {
        self.enabled
            || self.routes.iter().any(|r| r == route)
            || key.is_some_and(|k| self.keys.iter().any(|x| x == k))
    }
}

/// `traces:` validated.
#[derive(Debug, Clone)]
pub struct TracesConfig {
    /// The full `/v1/traces` URL.
    pub url: String,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, Secret)>,
    pub service_name: String,
}

/// `alerts:` validated.
#[derive(Debug, Clone, Default)]
pub struct AlertsConfig {
    pub webhook: Option<String>,
    pub headers: Vec<(String, Secret)>,
    pub cooldown: Duration,
    pub budgets: bool,
    pub rules: Vec<AlertRule>,
}

/// One alert rule, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub model: String,
    pub error_rate: Option<f64>,
    pub latency_p95: Option<Duration>,
    pub window: Duration,
    pub min_requests: u64,
}

/// The default `ledger:` for a data directory.
pub fn default_ledger(data_dir: &Path) -> LedgerConfig {
    LedgerConfig {
        retention: None,
        spool_dir: data_dir.join("spool"),
        spool_max_bytes: 1 << 30,
        write_timeout: Duration::from_secs(2),
        payloads: PayloadConfig {
            max_bytes: 16 * 1024,
            ..PayloadConfig::default()
        },
    }
}

/// Validates `ledger:`.
pub(super) fn ledger(raw: &RawLedger, data_dir: &Path) -> LedgerConfig {
    let d = default_ledger(data_dir);
    LedgerConfig {
        retention: raw.retention.map(|r| r.0),
        spool_dir: raw.spool_dir.as_ref().map_or(d.spool_dir, PathBuf::from),
        spool_max_bytes: raw.spool_max_size.map_or(d.spool_max_bytes, |s| s.0),
        write_timeout: raw.write_timeout.map_or(d.write_timeout, |t| t.0),
        payloads: PayloadConfig {
            enabled: raw.payloads.enabled,
            routes: raw.payloads.routes.clone(),
            keys: raw.payloads.keys.clone(),
            max_bytes: raw.payloads.max_size.map_or(d.payloads.max_bytes, |s| {
                usize::try_from(s.0).unwrap_or(usize::MAX)
            }),
        },
    }
}

fn headers(cx: &mut Ctx<'_>, at: &str, raw: &BTreeMap<String, String>) -> Vec<(String, Secret)> {
    let mut out = Vec::new();
    for (name, value) in raw {
        if http::HeaderName::try_from(name.as_str()).is_err() {
            cx.at::<()>(format!("{at}.headers.{name}"), None, "not a header name");
            continue;
        }
        match resolve(value, cx.env) {
            Ok(v) => out.push((name.clone(), v)),
            Err(e) => cx.at::<()>(format!("{at}.headers.{name}"), None, e),
        }
    }
    out
}

fn http_url(cx: &mut Ctx<'_>, at: &str, raw: &Spanned<String>) -> Option<String> {
    match reqwest::Url::parse(&raw.value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(raw.value.clone()),
        _ => {
            cx.at(at, Some(raw), "must be an http(s) URL");
            None
        }
    }
}

/// Validates `traces:`.
pub(super) fn traces(cx: &mut Ctx<'_>, raw: &RawTraces) -> Option<TracesConfig> {
    let endpoint = http_url(cx, "traces.otlp_endpoint", raw.otlp_endpoint.as_ref()?)?;
    let base = endpoint.trim_end_matches('/');
    let url = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    Some(TracesConfig {
        url,
        protocol: raw.protocol.unwrap_or_default(),
        headers: headers(cx, "traces", &raw.headers),
        service_name: raw.service_name.clone().unwrap_or_else(|| "sluice".into()),
    })
}

/// Validates `alerts:`.
pub(super) fn alerts(cx: &mut Ctx<'_>, raw: &RawAlerts) -> AlertsConfig {
    let webhook = raw
        .webhook
        .as_ref()
        .and_then(|w| http_url(cx, "alerts.webhook", w));
    let mut rules = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        if r.error_rate.is_none() && r.latency_p95.is_none() {
            cx.at::<()>(
                format!("alerts.rules[{i}]"),
                None,
                "set `error_rate` or `latency_p95`",
            );
        }
        if r.error_rate.is_some_and(|e| !(0.0..=1.0).contains(&e)) {
            cx.at::<()>(
                format!("alerts.rules[{i}].error_rate"),
                None,
                "a fraction from 0 to 1",
            );
        }
        rules.push(AlertRule {
            name: r.name.clone(),
            model: r.model.clone(),
            error_rate: r.error_rate,
            latency_p95: r.latency_p95.map(|d| d.0),
            window: r.window.map_or(Duration::from_secs(300), |d| d.0),
            min_requests: r.min_requests.unwrap_or(10).max(1),
        });
    }
    if webhook.is_none() && (!rules.is_empty()) {
        cx.at::<()>("alerts.webhook", None, "alert rules need a `webhook`");
    }
    AlertsConfig {
        webhook,
        headers: headers(cx, "alerts", &raw.headers),
        cooldown: raw.cooldown.map_or(Duration::from_secs(600), |d| d.0),
        budgets: raw.budgets.unwrap_or(true),
        rules,
    }
}
