//! Model groups: the routing part of a `models:` entry, as written and as
//! validated.
//!
//! A public model maps to one or more targets (provider + upstream model,
//! optionally with its own key, timeouts, weight and a `when` condition) and
//! a policy: the strategy that orders the targets, stickiness, retries,
//! fallbacks to other models, hedging, adaptive weights and the circuit
//! breaker. `docs/routing.md` explains the rule these settings feed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::raw::RawTimeouts;
use super::secret::Secret;
use super::units::Dur;
use super::validate::Timeouts;

/// How a group orders its targets for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Config order; later targets are fallbacks. The default.
    #[default]
    Priority,
    /// Random by weight (canary splits); the rest by weight as fallbacks.
    Weighted,
    /// Rotate the first choice.
    RoundRobin,
    /// Fewest requests in flight first.
    LeastBusy,
    /// Lowest moving-average latency first, with occasional exploration.
    LowestLatency,
    /// Cheapest by the price table first.
    LowestCost,
    /// Targets whose `when` matches first, in config order; the rest after.
    Conditional,
}

impl Strategy {
    /// The name used in route-reason headers and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Priority => "priority",
            Self::Weighted => "weighted",
            Self::RoundRobin => "round_robin",
            Self::LeastBusy => "least_busy",
            Self::LowestLatency => "lowest_latency",
            Self::LowestCost => "lowest_cost",
            Self::Conditional => "conditional",
        }
    }
}

/// One target as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// The provider (a key of `providers:`).
    pub provider: Spanned<String>,
    /// Upstream model; `*` takes the wildcard capture. Default as for a
    /// single-target model.
    pub model: Option<String>,
    /// Share of traffic for `weighted` (any non-negative integer; default 1).
    pub weight: Option<u32>,
    /// A key for this target only, overriding the provider's keys.
    pub api_key: Option<Spanned<String>>,
    /// Timeouts for this target, over the provider's.
    pub timeouts: Option<RawTimeouts>,
    /// Only requests matching this are sent to the target.
    pub when: Option<RawCondition>,
}

/// A request condition. Every field given must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    /// Header name → required value (`*` = present with any value).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `x-sluice-metadata` field → required value (`*` = present).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The request's consumer is one of these.
    #[serde(default)]
    pub consumers: Vec<String>,
    /// The request's team is one of these.
    #[serde(default)]
    pub teams: Vec<String>,
    /// The request's virtual key id is one of these.
    #[serde(default)]
    pub keys: Vec<String>,
    /// The request path starts with this.
    pub path_prefix: Option<String>,
}

/// What makes a request stick to one target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StickyBy {
    /// The request's `user` field.
    User,
    /// The virtual key.
    Key,
    /// The consumer.
    Consumer,
    /// A request header, e.g. `{header: x-session-id}`.
    Header(String),
    /// A field of `x-sluice-metadata`, e.g. `{metadata: session}`.
    Metadata(String),
}

/// `retries:` as written.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    /// Most attempts in all, first included. Default: the number of
    /// targets, at least 2.
    pub attempts: Option<u32>,
    /// First backoff before retrying a target already tried. Default 200ms.
    pub backoff: Option<Dur>,
    /// Largest backoff. Default 5s.
    pub max_backoff: Option<Dur>,
    /// Longest `Retry-After` honoured; a longer one ends the retries and
    /// is passed to the client. Default 2s.
    pub retry_after_cap: Option<Dur>,
    /// Time budget for all attempts. Default: the first target's total timeout.
    pub budget: Option<Dur>,
}

/// `fallbacks:` as written: other public models to use for a reason.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFallbacks {
    /// When the prompt does not fit the context window.
    pub context_window: Option<Spanned<String>>,
    /// When the provider's content filter refuses.
    pub content_filter: Option<Spanned<String>>,
}

/// `hedge:` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHedge {
    /// Send a second request if no first token arrived after this long:
    /// a duration, or `p95` for the group's observed 95th percentile time to
    /// first token.
    pub after: String,
}

/// `adaptive:` as written: shift weight away from degraded targets.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdaptive {
    /// Turn it on (weighted groups).
    #[serde(default)]
    pub enabled: bool,
    /// Smallest fraction of its configured weight a target keeps. Default 0.05.
    pub min_factor: Option<f64>,
    /// How fast old observations fade. Default 30s.
    pub half_life: Option<Dur>,
}

/// `breaker:` as written.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    /// Consecutive failures that eject a target. Default 5; 0 disables.
    pub failures: Option<u32>,
    /// First ejection's length. Default 30s; doubles per repeat ejection.
    pub cooldown: Option<Dur>,
    /// Longest ejection. Default 5m.
    pub max_cooldown: Option<Dur>,
    /// If fewer than this fraction of a group's targets are healthy,
    /// ejections are ignored for the group (panic mode). Default 0.5.
    pub panic_threshold: Option<f64>,
}

/// `health_check:` as written.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// Probe every target this often.
    pub interval: Dur,
}

/// A validated target.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub provider: String,
    pub model: Option<String>,
    pub weight: u32,
    /// Overrides the provider's keys.
    pub keys: Option<Vec<Secret>>,
    /// Resolved: target over provider over server defaults.
    pub timeouts: Timeouts,
    pub when: Option<RawCondition>,
}

/// Retries after validation.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub retry_after_cap: Duration,
    pub budget: Option<Duration>,
}

/// The hedge delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HedgeAfter {
    Fixed(Duration),
    /// The group's observed p95 time to first token.
    P95,
}

/// The breaker after validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub failures: u32,
    pub cooldown: Duration,
    pub max_cooldown: Duration,
    pub panic_threshold: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(300),
            panic_threshold: 0.5,
        }
    }
}

/// Adaptive weights after validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    pub min_factor: f64,
    pub half_life: Duration,
}

/// Everything about how a group routes, after validation.
#[derive(Debug, Clone)]
pub struct GroupPolicy {
    pub strategy: Strategy,
    pub sticky: Option<StickyBy>,
    pub retries: Retries,
    pub fallback_context_window: Option<String>,
    pub fallback_content_filter: Option<String>,
    pub hedge: Option<HedgeAfter>,
    pub adaptive: Option<AdaptiveConfig>,
    pub breaker: BreakerConfig,
    pub health_check: Option<Duration>,
    /// `lowest_latency`: explore a random target this often (0..1).
    pub exploration: f64,
}

impl GroupPolicy {
    /// The policy of a plain single-target model.
    pub fn simple(targets: usize) -> Self {
        Self {
            strategy: Strategy::Priority,
            sticky: None,
            retries: Retries {
                attempts: u32::try_from(targets.max(2)).unwrap_or(2),
                backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
                retry_after_cap: Duration::from_secs(2),
                budget: None,
            },
            fallback_context_window: None,
            fallback_content_filter: None,
            hedge: None,
            adaptive: None,
            breaker: BreakerConfig::default(),
            health_check: None,
            exploration: 0.1,
        }
    }
}

/// Parses `hedge.after`.
pub fn hedge_after(s: &str) -> Result<HedgeAfter, String> {
    if s.trim().eq_ignore_ascii_case("p95") {
        return Ok(HedgeAfter::P95);
    }
    super::units::parse_duration(s).map(HedgeAfter::Fixed)
}

/// Builds the validated retries for a group of `targets` targets.
pub fn retries(raw: Option<RawRetries>, targets: usize) -> Retries {
    let d = GroupPolicy::simple(targets).retries;
    let Some(r) = raw else { return d };
    Retries {
        attempts: r.attempts.unwrap_or(d.attempts).max(1),
        backoff: r.backoff.map_or(d.backoff, |x| x.0),
        max_backoff: r.max_backoff.map_or(d.max_backoff, |x| x.0),
        retry_after_cap: r.retry_after_cap.map_or(d.retry_after_cap, |x| x.0),
        budget: r.budget.map(|x| x.0),
    }
}

/// Builds the validated breaker.
pub fn breaker(raw: Option<RawBreaker>) -> BreakerConfig {
    let d = BreakerConfig::default();
    let Some(r) = raw else { return d };
    BreakerConfig {
        failures: r.failures.unwrap_or(d.failures),
        cooldown: r.cooldown.map_or(d.cooldown, |x| x.0),
        max_cooldown: r.max_cooldown.map_or(d.max_cooldown, |x| x.0),
        panic_threshold: r
            .panic_threshold
            .unwrap_or(d.panic_threshold)
            .clamp(0.0, 1.0),
    }
}

/// Builds the validated adaptive-weights settings.
pub fn adaptive(raw: Option<RawAdaptive>) -> Option<AdaptiveConfig> {
    let r = raw.filter(|r| r.enabled)?;
    Some(AdaptiveConfig {
        min_factor: r.min_factor.unwrap_or(0.05).clamp(0.0, 1.0),
        half_life: r.half_life.map_or(Duration::from_secs(30), |d| d.0),
    })
}
