//! The `cache:` section: response caching (exact and semantic), as written
//! and validated. See `docs/caching.md`.
//!
//! Read when a config is loaded or reloaded; the store kind and its size
//! are read once at start-up, the policies apply from the next reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::units::{Dur, Size};
use super::validate::{Ctx, ModelConfig, RouteConfig};

/// `cache:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Cache chat answers (chat completions, Messages, Responses, legacy
    /// completions). Default `false`.
    #[serde(default)]
    pub enabled: bool,
    /// How long an entry is served. Default 1h.
    pub ttl: Option<Dur>,
    /// Longest TTL a request may ask for with `x-sluice-cache-ttl`. Default 7 days.
    pub max_ttl: Option<Dur>,
    /// Whose entries a request may hit: `team` (default: the key's team,
    /// or the key when it has none) or `key`. Without auth: one global scope.
    pub scope: Option<CacheScope>,
    /// `memory` (default) or `redis` (uses `store.redis`, shared by instances).
    pub store: Option<CacheBackend>,
    /// Bound on the in-memory store. Default 256MiB.
    pub max_size: Option<Size>,
    /// Prefix of every Redis key. Default `sluice:cache:`.
    pub redis_prefix: Option<String>,
    /// Overrides per route name.
    #[serde(default)]
    pub routes: BTreeMap<String, RawCachePolicy>,
    /// Overrides per virtual key (by key name or id); win over routes.
    #[serde(default)]
    pub keys: BTreeMap<String, RawCachePolicy>,
    /// Semantic matching; off when absent.
    pub semantic: Option<RawSemantic>,
}

/// One override of the cache policy.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCachePolicy {
    /// Cache or not; default: the enclosing setting.
    pub enabled: Option<bool>,
    /// Entry lifetime; default: the enclosing setting.
    pub ttl: Option<Dur>,
    /// Scope; default: the enclosing setting.
    pub scope: Option<CacheScope>,
}

/// `cache.semantic:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSemantic {
    /// The public embeddings model (any model Sluice routes) used to embed
    /// prompts.
    pub embedding_model: Spanned<String>,
    /// Cosine similarity at or above which a cached answer is served.
    /// Default 0.95.
    pub threshold: Option<f64>,
    /// What is embedded: `last_user` (default) or `conversation`.
    pub input: Option<SemanticInput>,
    /// Vectors kept per instance; the oldest go first. Default 10000.
    pub max_entries: Option<usize>,
    /// Where the index is saved so it survives a restart. Default
    /// `<data_dir>/semantic-cache.json`.
    pub path: Option<String>,
}

/// Whose cached answers a request may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheScope {
    /// The key's team (the key itself when it has no team).
    Team,
    /// The key itself.
    Key,
}

/// Where cache entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheBackend {
    /// Process memory (moka), bounded by `max_size`.
    Memory,
    /// Redis at `store.redis`.
    Redis,
}

/// What the semantic cache embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SemanticInput {
    /// The last user message's text.
    LastUser,
    /// Every message's text, in order.
    Conversation,
}

/// The effective policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub enabled: bool,
    pub ttl: Duration,
    pub scope: CacheScope,
}

impl CachePolicy {
    fn overlay(self, o: &RawCachePolicy) -> Self {
        Self {
            enabled: o.enabled.unwrap_or(self.enabled),
            ttl: o.ttl.map_or(self.ttl, |d| d.0),
            scope: o.scope.unwrap_or(self.scope),
        }
    }
}

/// `cache.semantic:` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticConfig {
    pub embedding_model: String,
    pub threshold: f64,
    pub input: SemanticInput,
    pub max_entries: usize,
    pub path: PathBuf,
}

/// `cache:` validated.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// The policy when no override applies.
    pub default: CachePolicy,
    pub max_ttl: Duration,
    pub backend: CacheBackend,
    pub max_bytes: u64,
    pub redis_prefix: String,
    pub routes: BTreeMap<String, RawCachePolicy>,
    pub keys: BTreeMap<String, RawCachePolicy>,
    pub semantic: Option<SemanticConfig>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            default: CachePolicy {
                enabled: false,
                ttl: Duration::from_secs(3600),
                scope: CacheScope::Team,
            },
            max_ttl: Duration::from_secs(7 * 24 * 3600),
            backend: CacheBackend::Memory,
            max_bytes: sluice_store::cache::memory::DEFAULT_MAX_BYTES,
            redis_prefix: "sluice:cache:".to_owned(),
            routes: BTreeMap::new(),
            keys: BTreeMap::new(),
            semantic: None,
        }
    }
}

impl CacheConfig {
    /// Whether any request could use the cache.
    pub fn any_enabled(&self) -> bool {
        self.default.enabled
            || self.routes.values().any(|p| p.enabled == Some(true))
            || self.keys.values().any(|p| p.enabled == Some(true))
    }

    /// The policy for a request on `route` with the key named `key_name`
    /// (id `key_id`): the key's override wins over the route's.
    pub fn policy(&self, route: &str, key_id: Option<&str>, key_name: Option<&str>) -> CachePolicy {
        let mut p = self.default;
        if let Some(o) = self.routes.get(route) {
            p = p.overlay(o);
        }
        let key = key_id
            .and_then(|k| self.keys.get(k))
            .or_else(|| key_name.and_then(|k| self.keys.get(k)));
        if let Some(o) = key {
            p = p.overlay(o);
        }
        p
    }
}

/// Validates `cache:`.
pub(super) fn cache(
    cx: &mut Ctx<'_>,
    raw: &RawCache,
    data_dir: &Path,
    redis_set: bool,
    known: (&[ModelConfig], &[RouteConfig]),
) -> CacheConfig {
    let d = CacheConfig::default();
    let (models, routes) = known;
    for name in raw.routes.keys() {
        if !routes.iter().any(|r| r.name == *name) {
            cx.at::<()>(
                format!("cache.routes.{name}"),
                None,
                format!("no route is named `{name}`"),
            );
        }
    }
    if let Some(s) = &raw.semantic {
        let m = &s.embedding_model.value;
        let served = models.iter().any(|c| {
            c.aliases.iter().any(|a| a == m) || crate::routing::pattern_matches(&c.name, m)
        });
        if !served {
            cx.at(
                "cache.semantic.embedding_model",
                Some(&s.embedding_model),
                format!("no entry in `models` serves `{m}`"),
            );
        }
    }
    let backend = raw.store.unwrap_or(CacheBackend::Memory);
    if backend == CacheBackend::Redis && !redis_set {
        cx.at::<()>(
            "cache.store",
            None,
            "`store: redis` needs `store.redis` (e.g. env:REDIS_URL)",
        );
    }
    let semantic = raw.semantic.as_ref().map(|s| {
        let threshold = s.threshold.unwrap_or(0.95);
        if !(threshold > 0.0 && threshold <= 1.0) {
            cx.at::<()>(
                "cache.semantic.threshold",
                None,
                "the threshold must be in (0, 1]",
            );
        }
        SemanticConfig {
            embedding_model: s.embedding_model.value.clone(),
            threshold,
            input: s.input.unwrap_or(SemanticInput::LastUser),
            max_entries: s.max_entries.unwrap_or(10_000).max(1),
            path: s
                .path
                .as_ref()
                .map_or_else(|| data_dir.join("semantic-cache.json"), PathBuf::from),
        }
    });
    CacheConfig {
        default: CachePolicy {
            enabled: raw.enabled,
            ttl: raw.ttl.map_or(d.default.ttl, |t| t.0),
            scope: raw.scope.unwrap_or(d.default.scope),
        },
        max_ttl: raw.max_ttl.map_or(d.max_ttl, |t| t.0),
        backend,
        max_bytes: raw.max_size.map_or(d.max_bytes, |s| s.0),
        redis_prefix: raw.redis_prefix.clone().unwrap_or(d.redis_prefix),
        routes: raw.routes.clone(),
        keys: raw.keys.clone(),
        semantic,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    const BASE: &str = "
providers:
  p: { type: openai, base_url: http://127.0.0.1:1/v1, api_key: sk-test-0123456789 }
models:
  - { name: chat, provider: p, model: m }
  - { name: emb, provider: p, model: e }
";

    fn problems(extra: &str) -> Vec<String> {
        match parse(&format!("{BASE}{extra}"), "t.yaml", &|_| None) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.into_iter().map(|p| p.path).collect(),
        }
    }

    #[test]
    fn cache_references_are_checked() {
        assert!(
            problems("cache: { enabled: true, semantic: { embedding_model: emb } }").is_empty()
        );
        assert_eq!(
            problems("cache: { semantic: { embedding_model: nope } }"),
            ["cache.semantic.embedding_model"]
        );
        assert_eq!(
            problems("cache: { routes: { nope: { enabled: false } } }"),
            ["cache.routes.nope"]
        );
        assert_eq!(problems("cache: { store: redis }"), ["cache.store"]);
        assert_eq!(
            problems("cache: { semantic: { embedding_model: emb, threshold: 2 } }"),
            ["cache.semantic.threshold"]
        );
        assert_eq!(problems("cache: { ttl: 1h, bogus: 1 }").len(), 1);
    }

    #[test]
    fn key_overrides_win_over_route_overrides() {
        let c = parse(
            &format!("{BASE}cache: {{ enabled: true, ttl: 1h, routes: {{ default: {{ ttl: 2m }} }}, keys: {{ bot: {{ enabled: false }} }} }}"),
            "t.yaml",
            &|_| None,
        )
        .unwrap()
        .cache;
        let p = c.policy("default", Some("id1"), None);
        assert!(p.enabled);
        assert_eq!(p.ttl.as_secs(), 120);
        assert!(!c.policy("default", Some("id1"), Some("bot")).enabled);
        assert!(c.any_enabled());
    }
}
