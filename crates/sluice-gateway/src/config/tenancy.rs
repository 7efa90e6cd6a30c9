//! Config sections for storage, authentication, the admin listener, rate
//! limit rules and price overrides: as written, and validated.
//!
//! `store` and `admin` are read at start-up only (changing them needs a
//! restart); `auth`, `limits` and `pricing` apply from the next reload.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use sluice_store::policy::{LimitSpec, Metric};

use super::secret::{Secret, resolve};
use super::units::Dur;
use super::validate::Ctx;

/// `store:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `sqlite` (default) or `postgres`.
    pub database: Option<DatabaseKind>,
    /// SQLite file. Default `<data_dir>/sluice.db`.
    pub path: Option<String>,
    /// PostgreSQL URL reference, e.g. `env:DATABASE_URL`.
    pub url: Option<Spanned<String>>,
    /// Redis URL reference for shared counters (limits, budgets), e.g.
    /// `env:REDIS_URL`. Without it counters are per instance.
    pub redis: Option<Spanned<String>>,
    /// Longest wait for Redis before falling back. Default 100ms.
    pub redis_timeout: Option<Dur>,
}

/// The database kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// `auth:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// `auto` (default: open until the first key exists), `required` or `open`.
    pub mode: Option<AuthMode>,
    /// How long a key lookup is cached: the delay before a revocation or
    /// change is seen. Default 5s.
    pub cache_ttl: Option<Dur>,
}

/// Whether requests need a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Open while no key exists; closed once one does.
    #[default]
    Auto,
    /// Always need a valid key.
    Required,
    /// Never check keys (local use only).
    Open,
}

/// `admin:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Admin listener address. Default `127.0.0.1:8081`.
    pub listen: Option<Spanned<String>>,
    /// Admin key reference. Default: generated once into `<data_dir>/admin.key`.
    pub key: Option<Spanned<String>>,
    /// Serve no admin listener at all.
    #[serde(default)]
    pub disabled: bool,
}

/// `limits:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Output tokens reserved for a request that sets no `max_tokens`.
    /// Default 1024.
    pub reserve_output_tokens: Option<u64>,
    /// Rules applying to every request they match.
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// One config-declared limit rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Rule name, used in counter names and errors.
    pub name: Spanned<String>,
    /// Which requests the rule applies to (all when empty).
    #[serde(default, rename = "match")]
    pub matcher: Matcher,
    /// What each counter is kept per: any of `key`, `consumer`, `team`,
    /// `model`, `provider`, `route`; none means one counter for all.
    #[serde(default)]
    pub per: Vec<Per>,
    pub metric: Metric,
    pub limit: f64,
    pub window: Dur,
    /// Sliding (default) or fixed window.
    pub sliding: Option<bool>,
}

/// Request attributes a rule applies to; each list given must contain the
/// request's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub consumers: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    /// Public model names or patterns.
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub providers: Vec<String>,
    #[serde(default)]
    pub routes: Vec<String>,
}

impl Matcher {
    /// Whether the caller, model and route fit every list set here
    /// (providers are checked by the caller, where one is known). Keys,
    /// consumers and teams match by id or by name.
    pub fn matches(
        &self,
        identity: Option<&crate::tenancy::Identity>,
        model: &str,
        route: &str,
    ) -> bool {
        let named = |list: &[String], id: Option<&str>, name: Option<&str>| {
            list.is_empty()
                || list
                    .iter()
                    .any(|x| Some(x.as_str()) == id || Some(x.as_str()) == name)
        };
        named(
            &self.keys,
            identity.map(|i| i.key_id.as_str()),
            identity.and_then(|i| i.key_name.as_deref()),
        ) && named(
            &self.consumers,
            identity.and_then(|i| i.consumer_id.as_deref()),
            identity.and_then(|i| i.consumer_name.as_deref()),
        ) && named(
            &self.teams,
            identity.and_then(|i| i.team_id.as_deref()),
            identity.and_then(|i| i.team_name.as_deref()),
        ) && (self.models.is_empty()
            || self
                .models
                .iter()
                .any(|p| crate::routing::pattern_matches(p, model)))
            && (self.routes.is_empty() || self.routes.iter().any(|r| r == route))
    }
}

/// A dimension counters are partitioned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Key,
    Consumer,
    Team,
    Model,
    Provider,
    Route,
}

/// One `pricing:` override.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// Provider name (a key of `providers:`).
    pub provider: String,
    /// Upstream model name or pattern (`*`).
    pub model: String,
    /// USD per million input tokens.
    pub input: f64,
    /// USD per million output tokens.
    pub output: f64,
    pub cached_input: Option<f64>,
    pub cache_write: Option<f64>,
    pub per_request: Option<f64>,
}

/// Where data lives, validated.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(Secret),
}

/// `store:` validated.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub database: Database,
    pub redis: Option<Secret>,
    pub redis_timeout: Duration,
}

/// `auth:` validated.
#[derive(Debug, Clone, Copy)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub cache_ttl: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Auto,
            cache_ttl: Duration::from_secs(5),
        }
    }
}

/// `admin:` validated.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// `listen` was set explicitly: failing to bind it stops start-up (the
    /// default address, if taken, only disables the admin API).
    pub listen_set: bool,
    pub key: Option<Secret>,
    pub disabled: bool,
}

/// A limit rule, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitRule {
    pub name: String,
    pub matcher: Matcher,
    pub per: Vec<Per>,
    pub spec: LimitSpec,
}

/// `limits:` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    pub reserve_output_tokens: u64,
    pub rules: Vec<LimitRule>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            reserve_output_tokens: 1024,
            rules: Vec::new(),
        }
    }
}

/// The default admin listener.
pub fn default_admin() -> AdminConfig {
    AdminConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
        listen_set: false,
        key: None,
        disabled: false,
    }
}

/// Validates `store:`.
pub(super) fn store(cx: &mut Ctx<'_>, raw: &RawStore, data_dir: &Path) -> StoreConfig {
    let database = match raw.database.unwrap_or(DatabaseKind::Sqlite) {
        DatabaseKind::Sqlite => Database::Sqlite(
            raw.path
                .as_ref()
                .map_or_else(|| data_dir.join("sluice.db"), PathBuf::from),
        ),
        DatabaseKind::Postgres => match &raw.url {
            Some(u) => match resolve(&u.value, cx.env) {
                Ok(s) => Database::Postgres(s),
                Err(e) => {
                    cx.at("store.url", Some(u), e);
                    Database::Sqlite(data_dir.join("sluice.db"))
                }
            },
            None => {
                cx.at::<()>(
                    "store.url",
                    None,
                    "`database: postgres` needs `url` (e.g. env:DATABASE_URL)",
                );
                Database::Sqlite(data_dir.join("sluice.db"))
            }
        },
    };
    let redis = raw
        .redis
        .as_ref()
        .and_then(|r| match resolve(&r.value, cx.env) {
            Ok(s) => Some(s),
            Err(e) => {
                cx.at("store.redis", Some(r), e);
                None
            }
        });
    StoreConfig {
        database,
        redis,
        redis_timeout: raw
            .redis_timeout
            .map_or(Duration::from_millis(100), |d| d.0),
    }
}

/// Validates `auth:`.
pub(super) fn auth(raw: &RawAuth) -> AuthConfig {
    let d = AuthConfig::default();
    AuthConfig {
        mode: raw.mode.unwrap_or(d.mode),
        cache_ttl: raw.cache_ttl.map_or(d.cache_ttl, |t| t.0),
    }
}

/// Validates `admin:`.
pub(super) fn admin(cx: &mut Ctx<'_>, raw: &RawAdmin) -> AdminConfig {
    let mut a = default_admin();
    a.disabled = raw.disabled;
    if let Some(l) = &raw.listen {
        match l.value.parse() {
            Ok(addr) => {
                a.listen = addr;
                a.listen_set = true;
            }
            Err(_) => cx.at(
                "admin.listen",
                Some(l),
                format!("`{}` is not an address", l.value),
            ),
        }
    }
    if let Some(k) = &raw.key {
        match resolve(&k.value, cx.env) {
            Ok(s) if s.expose().len() >= 16 => a.key = Some(s),
            Ok(_) => cx.at(
                "admin.key",
                Some(k),
                "the admin key must be at least 16 characters",
            ),
            Err(e) => cx.at("admin.key", Some(k), e),
        }
    }
    a
}

/// Validates `limits:`.
pub(super) fn limits(cx: &mut Ctx<'_>, raw: &RawLimits) -> LimitsConfig {
    let mut names = std::collections::HashSet::new();
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.iter().enumerate() {
        let path = format!("limits.rules[{i}]");
        if !names.insert(r.name.value.clone()) {
            cx.at(
                format!("{path}.name"),
                Some(&r.name),
                "rule names must be unique",
            );
        }
        let window = r.window.0.as_secs();
        if !(1..=86_400).contains(&window) {
            cx.at::<()>(
                format!("{path}.window"),
                None,
                "the window must be between 1s and 1 day",
            );
        }
        if r.limit.is_nan() || r.limit <= 0.0 {
            cx.at::<()>(format!("{path}.limit"), None, "the limit must be positive");
        }
        rules.push(LimitRule {
            name: r.name.value.clone(),
            matcher: r.matcher.clone(),
            per: r.per.clone(),
            spec: LimitSpec {
                metric: r.metric,
                limit: r.limit,
                window_secs: window.max(1),
                sliding: r.sliding.unwrap_or(true),
                models: None,
            },
        });
    }
    LimitsConfig {
        reserve_output_tokens: raw.reserve_output_tokens.unwrap_or(1024),
        rules,
    }
}
