//! From the model a client asks for to the upstream targets that serve it.
//!
//! Built once per config snapshot ([`ModelTable::build`]), read on every
//! request. Exact names and aliases are a hash lookup; wildcard patterns
//! (`openai/*`, `gpt-*`) are tried in config order after that. A public
//! model is a [`Group`] of [`Target`]s with a routing policy; [`plan::plan`]
//! orders the targets for each request and the executor tries them.
//!
//! - [`condition`]: `when` conditions and the request context they read;
//! - [`plan`]: the per-request attempt order;
//! - [`stats`], [`breaker`]: what the gateway has observed per target
//!   (kept across reloads in the gateway's [`stats::StatsRegistry`]).

pub mod breaker;
pub mod condition;
pub mod gate;
pub mod health;
pub mod plan;
pub mod stats;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use parking_lot::Mutex;
use sluice_protocol::{Error, ErrorKind};

pub use condition::RouteCtx;
pub use plan::Plan;

use crate::config::routing::{GroupPolicy, RawCondition};
use crate::config::{Config, OnModelMismatch, RouteConfig, Timeouts};
use crate::pricing::{Price, Prices};
use crate::provider::{self, Provider, ProviderKind};
use stats::{StatsRegistry, TargetStats};

/// One upstream target of a group.
pub struct Target {
    /// Identity for stats and breakers: `provider/model-template`.
    pub id: String,
    pub provider: Arc<dyn Provider>,
    /// Upstream model template; `*` is replaced by the wildcard capture.
    template: Option<String>,
    pub weight: u32,
    pub timeouts: Timeouts,
    pub when: Option<RawCondition>,
    pub stats: Arc<TargetStats>,
    /// Requests in flight to this target's provider, and its limit.
    pub gate: Arc<gate::Gate>,
    pub max_in_flight: Option<usize>,
    /// The price of a fixed upstream model (none for a wildcard template:
    /// see [`Target::price_of`]).
    pub price: Option<Price>,
    kind: ProviderKind,
}

impl Target {
    /// The upstream model name for a request to `requested`, which matched
    /// the group pattern `pattern` with wildcard capture `captured`.
    pub fn upstream_model(&self, pattern: &str, requested: &str, captured: &str) -> String {
        upstream_name(self.template.as_deref(), pattern, requested, captured)
    }

    /// The price of serving `upstream_model` on this target.
    pub fn price_of(&self, prices: &Prices, upstream_model: &str) -> Option<Price> {
        self.price
            .or_else(|| prices.lookup(self.provider.name(), self.kind, upstream_model))
    }
}

/// Recent times to first token of a group, for `hedge: {after: p95}`.
const TTFT_WINDOW: usize = 128;

/// A public model: its targets and routing policy.
pub struct Group {
    /// The public name or pattern as configured.
    pub name: String,
    pub targets: Vec<Target>,
    pub policy: GroupPolicy,
    rr: AtomicUsize,
    ttft_ms: Mutex<VecDeque<f64>>,
}

impl Group {
    /// The weight `weighted` uses for target `i`: its configured weight,
    /// scaled down when adaptive weights are on and the target is degraded
    /// (see `docs/routing.md` for the rule).
    pub fn effective_weight(&self, i: usize) -> f64 {
        let t = &self.targets[i];
        let w = f64::from(t.weight);
        let Some(a) = self.policy.adaptive else {
            return w;
        };
        let err = t.stats.error_rate(a.half_life);
        let error_factor = (1.0 - 2.0 * err).clamp(a.min_factor, 1.0);
        let latencies: Vec<f64> = self
            .targets
            .iter()
            .filter_map(|x| x.stats.latency_ms(false))
            .collect();
        let latency_factor = match (t.stats.latency_ms(false), median(&latencies)) {
            (Some(mine), Some(med)) if mine > 0.0 => (med / mine).clamp(a.min_factor, 1.0),
            _ => 1.0,
        };
        w * error_factor * latency_factor
    }

    /// How fast observations fade for this group's targets.
    pub fn half_life(&self) -> Duration {
        self.policy
            .adaptive
            .map_or(Duration::from_secs(30), |a| a.half_life)
    }

    /// Records a time to first token for the p95 hedge delay.
    pub fn observe_ttft(&self, ms: f64) {
        let mut w = self.ttft_ms.lock();
        if w.len() == TTFT_WINDOW {
            w.pop_front();
        }
        w.push_back(ms);
    }

    /// The observed 95th-percentile time to first token, once there are
    /// enough samples (20).
    pub fn ttft_p95_ms(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.ttft_ms.lock().iter().copied().collect();
        if v.len() < 20 {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let idx = ((v.len() as f64 - 1.0) * 0.95).round() as usize;
        v.get(idx).copied()
    }
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    Some(s[s.len() / 2])
}

/// How one target of a group looks right now, for status pages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct TargetView {
    pub id: String,
    pub provider: String,
    pub weight: u32,
    /// The weight `weighted` uses now (adaptive weights applied).
    pub effective_weight: f64,
    pub breaker: &'static str,
    pub in_flight: i64,
    pub error_rate: f64,
    pub latency_ms: Option<f64>,
}

/// How one group looks right now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct GroupView {
    pub name: String,
    pub strategy: &'static str,
    pub targets: Vec<TargetView>,
}

impl Group {
    /// A snapshot of the group's targets.
    pub fn view(&self) -> GroupView {
        let now = tokio::time::Instant::now();
        GroupView {
            name: self.name.clone(),
            strategy: self.policy.strategy.as_str(),
            targets: self
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| TargetView {
                    id: t.id.clone(),
                    provider: t.provider.name().to_owned(),
                    weight: t.weight,
                    effective_weight: self.effective_weight(i),
                    breaker: t.stats.breaker_state(now).as_str(),
                    in_flight: t.stats.in_flight(),
                    error_rate: t.stats.error_rate(self.half_life()),
                    latency_ms: t.stats.latency_ms(true),
                })
                .collect(),
        }
    }
}

/// All public models of one config snapshot.
pub struct ModelTable {
    exact: HashMap<String, Arc<Group>>,
    wildcards: Vec<Arc<Group>>,
    /// `(public name, provider name)` for `GET /v1/models`, in config order.
    listed: Vec<(String, String)>,
    /// Wildcard patterns, for error messages.
    patterns: Vec<String>,
}

/// Whether `pattern` (with at most one `*`) matches `name`.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    capture(pattern, name).is_some()
}

/// The part of `name` matched by the `*` of `pattern` (`""` for an exact match).
fn capture<'n>(pattern: &str, name: &'n str) -> Option<&'n str> {
    match pattern.split_once('*') {
        None => (pattern == name).then_some(""),
        Some((pre, post)) => {
            let rest = name.strip_prefix(pre)?.strip_suffix(post)?;
            (!rest.is_empty() && name.len() >= pre.len() + post.len()).then_some(rest)
        }
    }
}

impl ModelTable {
    /// Builds the table. Targets with their own key get their own client;
    /// stats come from `registry`, so they survive reloads.
    pub fn build(
        config: &Config,
        providers: &HashMap<String, Arc<dyn Provider>>,
        registry: &StatsRegistry,
        prices: &Prices,
    ) -> Result<Self, Error> {
        let mut exact = HashMap::new();
        let mut wildcards = Vec::new();
        let mut listed = Vec::new();
        let mut patterns = Vec::new();
        for m in &config.models {
            let mut targets = Vec::with_capacity(m.targets.len());
            for t in &m.targets {
                let Some(pc) = config.providers.iter().find(|p| p.name == t.provider) else {
                    continue;
                };
                let provider = match (&t.keys, providers.get(&t.provider)) {
                    (Some(keys), _) => {
                        let mut own = pc.clone();
                        own.keys.clone_from(keys);
                        provider::build(&own)?
                    }
                    (None, Some(p)) => p.clone(),
                    (None, None) => continue,
                };
                let template = t.model.clone();
                let id = format!("{}/{}", t.provider, template.as_deref().unwrap_or(&m.name));
                let price = template
                    .as_deref()
                    .filter(|t| !t.contains('*'))
                    .or((!m.name.contains('*')).then_some(m.name.as_str()))
                    .and_then(|model| prices.lookup(&pc.name, pc.kind, model));
                targets.push(Target {
                    stats: registry.get(&id, m.policy.breaker),
                    gate: registry.gate(&pc.name),
                    max_in_flight: pc.max_in_flight,
                    id,
                    provider,
                    template,
                    weight: t.weight,
                    timeouts: t.timeouts,
                    when: t.when.clone(),
                    price,
                    kind: pc.kind,
                });
            }
            if targets.is_empty() {
                continue;
            }
            let owner = targets[0].provider.name().to_owned();
            let group = Arc::new(Group {
                name: m.name.clone(),
                targets,
                policy: m.policy.clone(),
                rr: AtomicUsize::new(0),
                ttft_ms: Mutex::new(VecDeque::with_capacity(TTFT_WINDOW)),
            });
            if m.name.contains('*') {
                patterns.push(m.name.clone());
                wildcards.push(group.clone());
            } else {
                exact.insert(m.name.clone(), group.clone());
                listed.push((m.name.clone(), owner.clone()));
            }
            for alias in &m.aliases {
                exact.insert(alias.clone(), group.clone());
                listed.push((alias.clone(), owner.clone()));
            }
        }
        Ok(Self {
            exact,
            wildcards,
            listed,
            patterns,
        })
    }

    /// Public names for `GET /v1/models`, with the provider serving each.
    pub fn listed(&self) -> &[(String, String)] {
        &self.listed
    }

    /// Every group, for status pages.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        let mut seen: Vec<Arc<Group>> = Vec::new();
        for g in self.exact.values().chain(self.wildcards.iter()) {
            if !seen.iter().any(|s| Arc::ptr_eq(s, g)) {
                seen.push(g.clone());
            }
        }
        seen.sort_by(|a, b| a.name.cmp(&b.name));
        seen
    }

    /// The group serving `model` and the wildcard capture.
    pub fn lookup<'m>(&self, model: &'m str) -> Result<(Arc<Group>, &'m str), Error> {
        if let Some(g) = self.exact.get(model) {
            return Ok((g.clone(), ""));
        }
        self.wildcards
            .iter()
            .find_map(|g| capture(&g.name, model).map(|c| (g.clone(), c)))
            .ok_or_else(|| self.not_found(model))
    }

    fn not_found(&self, model: &str) -> Error {
        let msg = if self.exact.is_empty() && self.wildcards.is_empty() {
            format!(
                "The model `{model}` is not served: no provider is enabled on this gateway. \
                 Set a provider key before starting Sluice (OPENAI_API_KEY, ANTHROPIC_API_KEY, \
                 GEMINI_API_KEY, AZURE_OPENAI_API_KEY with AZURE_OPENAI_ENDPOINT, \
                 DEEPSEEK_API_KEY, MISTRAL_API_KEY, GROQ_API_KEY, TOGETHER_API_KEY, \
                 FIREWORKS_API_KEY, OPENROUTER_API_KEY, XAI_API_KEY, COHERE_API_KEY, HF_TOKEN, \
                 REPLICATE_API_TOKEN, AWS credentials for Bedrock, or OLLAMA_HOST for a local \
                 Ollama), pass a config file with --config, or try `sluice demo`."
            )
        } else {
            let mut known: Vec<&str> = self
                .listed
                .iter()
                .map(|(n, _)| n.as_str())
                .chain(self.patterns.iter().map(String::as_str))
                .take(20)
                .collect();
            known.dedup();
            format!(
                "The model `{model}` is not served by this gateway. Available: {}. To serve it, \
                 add it under `models:` in the config file or enable its provider (for example \
                 OPENAI_API_KEY); see docs/configuration.md.",
                known.join(", ")
            )
        };
        Error::new(ErrorKind::ModelNotFound, msg).with_param("model")
    }
}

fn upstream_name(template: Option<&str>, pattern: &str, requested: &str, captured: &str) -> String {
    match template {
        Some(t) => t.replacen('*', captured, 1),
        None if pattern.ends_with("/*") => captured.to_owned(),
        None => requested.to_owned(),
    }
}

/// Applies a route's model policy: the pinned model and the allow-list.
/// Returns the public model to serve.
pub fn apply_route_policy<'a>(
    route: &'a RouteConfig,
    requested: &'a str,
) -> Result<&'a str, Error> {
    let model = match &route.pinned_model {
        Some(pinned) if pinned != requested => match route.on_model_mismatch {
            OnModelMismatch::Override => pinned.as_str(),
            OnModelMismatch::Reject => {
                return Err(Error::invalid(format!(
                    "The route `{}` serves only the model `{pinned}`; the request asked for `{requested}`.",
                    route.name
                ))
                .with_param("model")
                .with_code("model_not_allowed"));
            }
        },
        _ => requested,
    };
    if let Some(allowed) = &route.allowed_models
        && !allowed.iter().any(|a| pattern_matches(a, model))
    {
        return Err(Error::new(
            ErrorKind::Forbidden,
            format!(
                "The model `{model}` is not allowed on the route `{}`.",
                route.name
            ),
        )
        .with_param("model")
        .with_code("model_not_allowed"));
    }
    Ok(model)
}

#[cfg(test)]
mod tests;
