//! Second stage of config loading: check every cross-reference, resolve
//! secrets and fill defaults, turning a [`RawConfig`] into a [`Config`].
//!
//! Runs at start-up, in `sluice check`, and on every reload. All problems are
//! collected, not just the first, each with its YAML path and line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::observe::{self, AlertsConfig, LedgerConfig, TracesConfig};
use super::raw::{HfTask, OnModelMismatch, RawConfig, RawProvider, RawTimeouts};
use super::routing::{GroupPolicy, TargetConfig};
use super::secret::{Secret, resolve};
use super::tenancy::{self, AdminConfig, AuthConfig, LimitsConfig, RawPrice, StoreConfig};
use super::{ConfigError, Problem};
use crate::provider::{ProviderKind, Wire};

/// Default API listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./sluice-data";
/// Default request body limit: 32 MiB, because base64 images are large.
pub const DEFAULT_MAX_BODY: u64 = 32 * 1024 * 1024;
/// Default Azure `api-version`.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// A validated configuration, ready to build a runtime from.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from: a file path, or "embedded defaults".
    pub source: String,
    pub server: ServerConfig,
    pub providers: Vec<ProviderConfig>,
    pub models: Vec<ModelConfig>,
    pub routes: Vec<RouteConfig>,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub admin: AdminConfig,
    pub limits: LimitsConfig,
    pub pricing: Vec<RawPrice>,
    /// Guardrail policies, compiled, and where they apply.
    pub guardrails: super::guardrails::GuardrailsConfig,
    pub ledger: LedgerConfig,
    /// OTLP export, when configured.
    pub traces: Option<TracesConfig>,
    pub alerts: AlertsConfig,
    pub cache: super::cache::CacheConfig,
}

impl Config {
    /// Moves the data directory, and the SQLite file with it when it was
    /// the default one inside it.
    pub fn set_data_dir(&mut self, dir: PathBuf) {
        use super::tenancy::Database;
        if let Database::Sqlite(path) = &mut self.store.database
            && *path == self.server.data_dir.join("sluice.db")
        {
            *path = dir.join("sluice.db");
        }
        if let Some(sem) = &mut self.cache.semantic
            && sem.path == self.server.data_dir.join("semantic-cache.json")
        {
            sem.path = dir.join("semantic-cache.json");
        }
        if self.ledger.spool_dir == self.server.data_dir.join("spool") {
            self.ledger.spool_dir = dir.join("spool");
        }
        self.server.data_dir = dir;
    }
}

/// `server:` after validation.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub max_body_bytes: usize,
    /// Most requests in flight at once (the rest get 503).
    pub max_in_flight: usize,
    pub responses: ResponsesConfig,
    /// Client connection limits and shutdown drain.
    pub listener: ListenerLimits,
}

/// `server.max_connections`, the client read timeouts and the drain
/// deadline, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub drain_timeout: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            max_connections: 16_384,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// `server.responses:` after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsesConfig {
    /// How long a stored response can be continued. Default 24 hours.
    pub retention: Duration,
    /// Bound on the in-process store, in bytes. Default 256 MiB.
    pub max_bytes: usize,
}

impl Default for ResponsesConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(24 * 3600),
            max_bytes: sluice_store::responses::DEFAULT_MAX_BYTES,
        }
    }
}

/// Upstream deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_token: Duration,
    pub idle: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_token: Duration::from_secs(60),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

impl Timeouts {
    /// These timeouts with the fields set in `raw` replaced.
    pub fn overlay(self, raw: Option<RawTimeouts>) -> Self {
        let Some(r) = raw else { return self };
        Self {
            connect: r.connect.map_or(self.connect, |d| d.0),
            first_token: r.first_token.map_or(self.first_token, |d| d.0),
            idle: r.idle.map_or(self.idle, |d| d.0),
            total: r.total.map_or(self.total, |d| d.0),
        }
    }
}

/// One upstream provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// API root without a trailing slash.
    pub base_url: String,
    /// Credentials, used in rotation. Empty for keyless local servers.
    pub keys: Vec<Secret>,
    pub api_version: Option<String>,
    pub headers: Vec<(String, Secret)>,
    pub timeouts: Timeouts,
    /// Most requests in flight to this provider (`None`: no limit).
    pub max_in_flight: Option<usize>,
    /// `max_tokens` for APIs that require one (Anthropic, Bedrock).
    pub default_max_tokens: u64,
    /// Vertex: project and location, and the service-account key file.
    pub vertex: Option<VertexConfig>,
    /// Bedrock: region and credentials.
    pub aws: Option<AwsConfig>,
    /// Hugging Face: how models are called.
    pub hf_task: HfTask,
    /// The provider's own API at `/{name}/...`.
    pub passthrough: super::PassthroughConfig,
}

/// Default `max_tokens` for APIs that require one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Vertex AI settings.
#[derive(Debug, Clone)]
pub struct VertexConfig {
    pub project: String,
    pub location: String,
    pub credentials_file: PathBuf,
}

/// AWS settings for Bedrock.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl ProviderConfig {
    /// A provider of `kind` with defaults for everything but name and URL.
    pub fn new(name: &str, kind: ProviderKind, base_url: &str, keys: Vec<Secret>) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            base_url: base_url.trim_end_matches('/').to_owned(),
            keys,
            api_version: None,
            headers: Vec::new(),
            timeouts: Timeouts::default(),
            max_in_flight: None,
            default_max_tokens: DEFAULT_MAX_TOKENS,
            vertex: None,
            aws: None,
            hf_task: HfTask::Chat,
            passthrough: super::PassthroughConfig::default(),
        }
    }
}

/// One public model entry: a group of one or more targets and its policy.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Public name or wildcard pattern.
    pub name: String,
    pub aliases: Vec<String>,
    pub targets: Vec<TargetConfig>,
    pub policy: GroupPolicy,
}

impl ModelConfig {
    /// A model served by one provider with default routing.
    pub fn single(name: &str, provider: &ProviderConfig, model: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            aliases: Vec::new(),
            targets: vec![TargetConfig {
                provider: provider.name.clone(),
                model,
                weight: 1,
                keys: None,
                timeouts: provider.timeouts,
                when: None,
            }],
            policy: GroupPolicy::simple(1),
        }
    }

    /// The providers this entry uses.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().map(|t| t.provider.as_str())
    }
}

/// One route (entry point under a path prefix).
#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub name: String,
    /// Path prefix; empty for the default route.
    pub prefix: String,
    pub pinned_model: Option<String>,
    pub on_model_mismatch: OnModelMismatch,
    pub allowed_models: Option<Vec<String>>,
    /// `/v1/route/{provider}/{model}/...` may choose the model.
    pub model_in_path: bool,
    /// The `x-sluice-model` header may choose the model.
    pub model_in_header: bool,
}

impl RouteConfig {
    /// The route every request without a prefix uses.
    pub fn default_route() -> Self {
        Self {
            name: "default".to_owned(),
            prefix: String::new(),
            pinned_model: None,
            on_model_mismatch: OnModelMismatch::Override,
            allowed_models: None,
            model_in_path: true,
            model_in_header: true,
        }
    }
}

pub(super) struct Ctx<'e> {
    pub(super) problems: Vec<Problem>,
    pub(super) env: &'e dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    pub(super) fn at<T>(
        &mut self,
        path: impl Into<String>,
        span: Option<&Spanned<T>>,
        msg: impl Into<String>,
    ) {
        self.problems.push(Problem {
            path: path.into(),
            line: span.map(|s| s.referenced.line()),
            message: msg.into(),
        });
    }
}

pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Validates `raw`. `env` resolves `env:` secret references.
pub fn validate(
    raw: RawConfig,
    source: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut cx = Ctx {
        problems: Vec::new(),
        env,
    };
    let server = server(&mut cx, &raw);
    let default_timeouts = Timeouts::default().overlay(raw.server.timeouts);
    let providers: Vec<ProviderConfig> = raw
        .providers
        .iter()
        .filter_map(|(name, p)| provider(&mut cx, name, p, default_timeouts))
        .collect();
    let models = super::models::models(&mut cx, &raw, &providers);
    let routes = super::models::routes(&mut cx, &raw, &models);
    let store = tenancy::store(&mut cx, &raw.store, &server.data_dir);
    let auth = tenancy::auth(&raw.auth);
    let admin = tenancy::admin(&mut cx, &raw.admin);
    let limits = tenancy::limits(&mut cx, &raw.limits);
    let known_model = |m: &str| {
        models.iter().any(|g| {
            crate::routing::pattern_matches(&g.name, m) || g.aliases.iter().any(|a| a == m)
        })
    };
    let guardrails = super::guardrails::guardrails(&mut cx, &raw.guardrails, &known_model);
    let ledger = observe::ledger(&raw.ledger, &server.data_dir);
    let traces = observe::traces(&mut cx, &raw.traces);
    let alerts = observe::alerts(&mut cx, &raw.alerts);
    let cache = super::cache::cache(
        &mut cx,
        &raw.cache,
        &server.data_dir,
        store.redis.is_some(),
        (&models, &routes),
    );
    for (i, p) in raw.pricing.iter().enumerate() {
        if !providers.iter().any(|x| x.name == p.provider) {
            cx.at::<()>(
                format!("pricing[{i}].provider"),
                None,
                format!("unknown provider `{}`", p.provider),
            );
        }
        if p.input < 0.0 || p.output < 0.0 {
            cx.at::<()>(format!("pricing[{i}]"), None, "prices cannot be negative");
        }
    }
    super::passthrough::check_names(&mut cx, &providers, &routes);
    super::passthrough::check_keys(&mut cx, &providers, &models);
    if !cx.problems.is_empty() {
        return Err(ConfigError {
            origin: source.to_owned(),
            problems: cx.problems,
        });
    }
    Ok(Config {
        source: source.to_owned(),
        server,
        providers,
        models,
        routes,
        store,
        auth,
        admin,
        limits,
        pricing: raw.pricing.clone(),
        guardrails,
        ledger,
        traces,
        alerts,
        cache,
    })
}

fn server(cx: &mut Ctx<'_>, raw: &RawConfig) -> ServerConfig {
    let listen = match &raw.server.listen {
        Some(s) => s.value.parse().unwrap_or_else(|_| {
            cx.at(
                "server.listen",
                Some(s),
                format!("`{}` is not an address such as 127.0.0.1:8080", s.value),
            );
            fallback_listen()
        }),
        None => fallback_listen(),
    };
    let max_body = raw.server.max_body_size.map_or(DEFAULT_MAX_BODY, |s| s.0);
    if max_body < 1024 {
        cx.at::<()>("server.max_body_size", None, "must be at least 1KiB");
    }
    let defaults = ResponsesConfig::default();
    let r = raw.server.responses.unwrap_or_default();
    let responses = ResponsesConfig {
        retention: r.retention.map_or(defaults.retention, |d| d.0),
        max_bytes: r.max_size.map_or(defaults.max_bytes, |s| {
            usize::try_from(s.0).unwrap_or(usize::MAX)
        }),
    };
    if responses.retention.is_zero() {
        cx.at::<()>(
            "server.responses.retention",
            None,
            "must be longer than zero",
        );
    }
    ServerConfig {
        listen,
        data_dir: PathBuf::from(raw.server.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR)),
        max_body_bytes: usize::try_from(max_body).unwrap_or(usize::MAX),
        max_in_flight: raw
            .server
            .max_in_flight
            .unwrap_or(DEFAULT_MAX_IN_FLIGHT)
            .max(1),
        responses,
        listener: listener_limits(&raw.server),
    }
}

fn listener_limits(raw: &super::raw::RawServer) -> ListenerLimits {
    let d = ListenerLimits::default();
    let positive = |v: Option<super::units::Dur>, default: Duration| {
        v.map(|v| v.0).filter(|v| !v.is_zero()).unwrap_or(default)
    };
    ListenerLimits {
        max_connections: raw.max_connections.unwrap_or(d.max_connections).max(1),
        header_read_timeout: positive(raw.header_read_timeout, d.header_read_timeout),
        body_read_timeout: positive(raw.body_read_timeout, d.body_read_timeout),
        drain_timeout: raw.drain_timeout.map_or(d.drain_timeout, |v| v.0),
    }
}

/// The default of `server.max_in_flight`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4096;

fn fallback_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn provider(
    cx: &mut Ctx<'_>,
    name: &str,
    p: &RawProvider,
    defaults: Timeouts,
) -> Option<ProviderConfig> {
    let path = format!("providers.{name}");
    if !valid_name(name) {
        cx.at::<()>(
            &path,
            None,
            "provider names use lowercase letters, digits, `_` and `-` (at most 64)",
        );
    }
    let vertex = vertex(cx, &path, p);
    let aws = aws(cx, &path, p);
    let derived = match (&vertex, &aws) {
        (Some(v), _) if v.location == "global" => {
            Some("https://aiplatform.googleapis.com".to_owned())
        }
        (Some(v), _) => Some(format!("https://{}-aiplatform.googleapis.com", v.location)),
        (None, Some(a)) => Some(format!(
            "https://bedrock-runtime.{}.amazonaws.com",
            a.region
        )),
        (None, None) => p.kind.default_base_url().map(str::to_owned),
    };
    let base_url = match (&p.base_url, derived) {
        (Some(u), _) => check_url(cx, &format!("{path}.base_url"), u),
        (None, Some(d)) => d,
        (None, None) => {
            cx.at::<()>(
                format!("{path}.base_url"),
                None,
                format!("provider type `{}` needs a base_url", p.kind.as_str()),
            );
            String::new()
        }
    };
    let refs: Vec<&Spanned<String>> = match (&p.api_key, &p.api_keys) {
        (Some(_), Some(_)) => {
            cx.at::<()>(&path, None, "set either `api_key` or `api_keys`, not both");
            Vec::new()
        }
        (Some(k), None) => vec![k],
        (None, Some(ks)) => ks.iter().collect(),
        (None, None) => Vec::new(),
    };
    let mut keys = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let field = if p.api_key.is_some() {
            format!("{path}.api_key")
        } else {
            format!("{path}.api_keys[{i}]")
        };
        match resolve(&r.value, cx.env) {
            Ok(s) => keys.push(s),
            Err(e) => cx.at(field, Some(*r), e),
        }
    }
    // A bring-your-own-key provider may have no key of its own; models
    // that use it are checked in `passthrough::check_keys`.
    let byok = super::passthrough::client_mode(p.passthrough.as_ref());
    if keys.is_empty() && refs.is_empty() && p.kind.needs_key() && !byok {
        let hint = p.kind.key_env().unwrap_or("YOUR_KEY");
        cx.at::<()>(
            format!("{path}.api_key"),
            None,
            format!(
                "provider type `{}` needs a key; add `api_key: env:{hint}`",
                p.kind.as_str()
            ),
        );
    }
    if p.api_version.is_some() && p.kind.wire() != Wire::Azure {
        cx.at::<()>(
            format!("{path}.api_version"),
            None,
            "`api_version` applies only to type `azure`",
        );
    }
    let mut headers = Vec::with_capacity(p.headers.len());
    for (h, v) in &p.headers {
        if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            cx.at::<()>(
                format!("{path}.headers.{h}"),
                None,
                "not a valid header name",
            );
            continue;
        }
        match resolve(v, cx.env) {
            Ok(s) if http::HeaderValue::from_str(s.expose()).is_ok() => {
                headers.push((h.to_ascii_lowercase(), s));
            }
            Ok(_) => cx.at::<()>(
                format!("{path}.headers.{h}"),
                None,
                "not a valid header value",
            ),
            Err(e) => cx.at::<()>(format!("{path}.headers.{h}"), None, e),
        }
    }
    let api_version = (p.kind.wire() == Wire::Azure).then(|| {
        p.api_version
            .clone()
            .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned())
    });
    let only = |cx: &mut Ctx<'_>, field: &str, set: bool, kinds: &[ProviderKind]| {
        if set && !kinds.contains(&p.kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            cx.at::<()>(
                format!("{path}.{field}"),
                None,
                format!("`{field}` applies only to type {}", names.join(" or ")),
            );
        }
    };
    only(
        cx,
        "default_max_tokens",
        p.default_max_tokens.is_some(),
        &[ProviderKind::Anthropic, ProviderKind::Bedrock],
    );
    only(cx, "task", p.task.is_some(), &[ProviderKind::Huggingface]);
    if p.default_max_tokens == Some(0) {
        cx.at::<()>(
            format!("{path}.default_max_tokens"),
            None,
            "must be at least 1",
        );
    }
    Some(ProviderConfig {
        name: name.to_owned(),
        kind: p.kind,
        base_url,
        keys,
        api_version,
        headers,
        timeouts: defaults.overlay(p.timeouts),
        max_in_flight: p.max_in_flight.map(|n| n.max(1)),
        default_max_tokens: p.default_max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        vertex,
        aws,
        hf_task: p.task.unwrap_or_default(),
        passthrough: super::passthrough::validate(cx, &path, p.passthrough.as_ref()),
    })
}

fn vertex(cx: &mut Ctx<'_>, path: &str, p: &RawProvider) -> Option<VertexConfig> {
    let any = p.project.is_some() || p.location.is_some() || p.credentials_file.is_some();
    if p.kind != ProviderKind::Vertex {
        if any {
            cx.at::<()>(
                path,
                None,
                "`project`, `location` and `credentials_file` apply only to type `vertex`",
            );
        }
        return None;
    }
    let project = p.project.clone().unwrap_or_else(|| {
        cx.at::<()>(
            format!("{path}.project"),
            None,
            "type `vertex` needs `project`",
        );
        String::new()
    });
    let credentials_file = p.credentials_file.clone().unwrap_or_else(|| {
        cx.at::<()>(
            format!("{path}.credentials_file"),
            None,
            "type `vertex` needs `credentials_file` (a service-account key file)",
        );
        String::new()
    });
    let location = p
        .location
        .clone()
        .unwrap_or_else(|| "us-central1".to_owned());
    if !location
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        cx.at::<()>(
            format!("{path}.location"),
            None,
            format!("`{location}` is not a region name"),
        );
    }
    Some(VertexConfig {
        project,
        location,
        credentials_file: PathBuf::from(credentials_file),
    })
}

fn aws(cx: &mut Ctx<'_>, path: &str, p: &RawProvider) -> Option<AwsConfig> {
    let any = p.region.is_some()
        || p.aws_access_key_id.is_some()
        || p.aws_secret_access_key.is_some()
        || p.aws_session_token.is_some();
    if p.kind != ProviderKind::Bedrock {
        if any {
            cx.at::<()>(
                path,
                None,
                "`region` and `aws_*` fields apply only to type `bedrock`",
            );
        }
        return None;
    }
    let region = p.region.clone().unwrap_or_else(|| "us-east-1".to_owned());
    if !region
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        cx.at::<()>(
            format!("{path}.region"),
            None,
            format!("`{region}` is not a region name"),
        );
    }
    let mut secret = |field: &str, given: &Option<Spanned<String>>, default_env: &str| {
        let reference = given
            .as_ref()
            .map_or_else(|| format!("env:{default_env}"), |s| s.value.clone());
        match resolve(&reference, cx.env) {
            Ok(s) => Some(s),
            Err(e) => {
                cx.at(format!("{path}.{field}"), given.as_ref(), e);
                None
            }
        }
    };
    let access_key_id = secret(
        "aws_access_key_id",
        &p.aws_access_key_id,
        "AWS_ACCESS_KEY_ID",
    );
    let secret_access_key = secret(
        "aws_secret_access_key",
        &p.aws_secret_access_key,
        "AWS_SECRET_ACCESS_KEY",
    );
    let session_token = match &p.aws_session_token {
        Some(_) => secret(
            "aws_session_token",
            &p.aws_session_token,
            "AWS_SESSION_TOKEN",
        ),
        None => (cx.env)("AWS_SESSION_TOKEN")
            .filter(|v| !v.trim().is_empty())
            .map(Secret::new),
    };
    Some(AwsConfig {
        region,
        access_key_id: access_key_id.unwrap_or_else(|| Secret::new("")),
        secret_access_key: secret_access_key.unwrap_or_else(|| Secret::new("")),
        session_token,
    })
}

fn check_url(cx: &mut Ctx<'_>, path: &str, u: &Spanned<String>) -> String {
    match reqwest::Url::parse(&u.value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            u.value.trim_end_matches('/').to_owned()
        }
        _ => {
            cx.at(
                path,
                Some(u),
                format!("`{}` is not an http(s) URL", u.value),
            );
            String::new()
        }
    }
}
