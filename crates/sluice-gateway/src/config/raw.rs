//! The configuration file as written: serde types, every field documented,
//! unknown fields refused.
//!
//! These types are only the first stage. [`super::validate`] turns them into
//! [`super::Config`], checking every cross-reference and resolving secrets.
//! `docs/configuration.md` is the reference for the same fields.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::observe::{RawAlerts, RawLedger, RawTraces};
use super::routing::{
    RawAdaptive, RawBreaker, RawFallbacks, RawHealthCheck, RawHedge, RawRetries, RawTarget,
    StickyBy, Strategy,
};
use super::tenancy::{RawAdmin, RawAuth, RawLimits, RawPrice, RawStore};
use super::units::{Dur, Size};
use crate::provider::ProviderKind;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Listener and process settings.
    #[serde(default)]
    pub server: RawServer,
    /// Upstream providers, by name. The name is how models refer to them.
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    /// Public model names and where they go.
    #[serde(default)]
    pub models: Vec<RawModel>,
    /// Extra entry points under a path prefix, each with its own policy.
    /// The default route (no prefix) always exists.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Where keys, the ledger and shared counters live.
    #[serde(default)]
    pub store: RawStore,
    /// Whether requests need a virtual key.
    #[serde(default)]
    pub auth: RawAuth,
    /// The admin API listener.
    #[serde(default)]
    pub admin: RawAdmin,
    /// Rate limit rules applying to all matching requests.
    #[serde(default)]
    pub limits: RawLimits,
    /// Prices that override or extend the bundled price table.
    #[serde(default)]
    pub pricing: Vec<RawPrice>,
    /// Guardrail policies and where they apply; see `docs/guardrails.md`.
    #[serde(default)]
    pub guardrails: super::guardrails::RawGuardrails,
    /// The request ledger: spool, retention, payloads.
    #[serde(default)]
    pub ledger: RawLedger,
    /// OpenTelemetry trace export.
    #[serde(default)]
    pub traces: RawTraces,
    /// Usage alerts delivered by webhook.
    #[serde(default)]
    pub alerts: RawAlerts,
    /// Response caching (off by default).
    #[serde(default)]
    pub cache: super::cache::RawCache,
}

/// `server:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address of the API listener. Default `127.0.0.1:8080`.
    pub listen: Option<Spanned<String>>,
    /// Directory for the embedded store and spool files. Default `./sluice-data`.
    pub data_dir: Option<String>,
    /// Largest request body accepted; larger bodies get 413. Default `32MiB`.
    pub max_body_size: Option<Size>,
    /// Most requests in flight at once; more are shed at once with 503 and
    /// `Retry-After`, never queued. Default 4096.
    pub max_in_flight: Option<usize>,
    /// Most client connections open at once; more are closed as soon as
    /// they are accepted. Default 16384.
    pub max_connections: Option<usize>,
    /// Longest a client may take to send its request headers. Default `30s`.
    pub header_read_timeout: Option<Dur>,
    /// Longest a client may take to send its whole request body (then 408).
    /// Default `60s`.
    pub body_read_timeout: Option<Dur>,
    /// On shutdown, how long requests and streams in flight may run before
    /// the remaining streams end with an error event. Default `30s`.
    pub drain_timeout: Option<Dur>,
    /// Default timeouts for every provider that does not set its own.
    pub timeouts: Option<RawTimeouts>,
    /// Conversation state the gateway keeps for the Responses API's
    /// `previous_response_id` on providers other than OpenAI.
    pub responses: Option<RawResponses>,
}

/// `server.responses:`
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResponses {
    /// How long a stored response can be continued. Default `24h`.
    pub retention: Option<Dur>,
    /// Memory the in-process store may hold; oldest responses are evicted
    /// first. Read at start-up. Default `256MiB`.
    pub max_size: Option<Size>,
}

/// `timeouts:` of a provider or of the server.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// TCP + TLS connect. Default `10s`.
    pub connect: Option<Dur>,
    /// From sending the request to the first streamed chunk. Default `60s`.
    pub first_token: Option<Dur>,
    /// Longest gap between two streamed chunks. Default `60s`.
    pub idle: Option<Dur>,
    /// Whole request, streaming or not. Default `600s`.
    pub total: Option<Dur>,
}

/// `providers.<name>:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// The provider type: `openai`, `azure`, `anthropic`, `gemini`,
    /// `vertex`, `bedrock`, `cohere`, `huggingface`, `replicate`, `deepseek`,
    /// `mistral`, `groq`, `together`, `fireworks`, `openrouter`, `xai`,
    /// `ollama`, `vllm`, `llamacpp`, `lmstudio` or `openai_compatible`.
    #[serde(rename = "type")]
    pub kind: ProviderKind,
    /// API root, e.g. `https://api.openai.com/v1`. Defaults per type; required
    /// for `azure` (the resource endpoint) and `openai_compatible`.
    pub base_url: Option<Spanned<String>>,
    /// One credential reference: `env:NAME`, `file:/path` or a literal.
    pub api_key: Option<Spanned<String>>,
    /// Several credentials, used in rotation. Exclusive with `api_key`.
    pub api_keys: Option<Vec<Spanned<String>>>,
    /// Azure only: the `api-version` query parameter. Default `2024-10-21`.
    pub api_version: Option<String>,
    /// Extra headers sent with every upstream request (e.g. OpenRouter's
    /// `HTTP-Referer`). Values may be secret references.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Timeouts for this provider; unset fields fall back to `server.timeouts`.
    pub timeouts: Option<RawTimeouts>,
    /// Most requests in flight to this provider at once (streams count until
    /// they end). A request over it falls back to the group's next target,
    /// or gets 503 with `Retry-After` at once. Default: no limit.
    pub max_in_flight: Option<usize>,
    /// `anthropic`, `bedrock`: `max_tokens` sent when the client gives none
    /// (these APIs require it). Default 4096.
    pub default_max_tokens: Option<u64>,
    /// `vertex`: the Google Cloud project id.
    pub project: Option<String>,
    /// `vertex`: the region, e.g. `us-central1` (default) or `global`.
    pub location: Option<String>,
    /// `vertex`: path to a service-account key file (JSON). Its `token_uri`
    /// is where tokens are fetched.
    pub credentials_file: Option<String>,
    /// `bedrock`: the AWS region, e.g. `us-east-1` (default).
    pub region: Option<String>,
    /// `bedrock`: access key id reference. Default `env:AWS_ACCESS_KEY_ID`.
    pub aws_access_key_id: Option<Spanned<String>>,
    /// `bedrock`: secret access key reference. Default `env:AWS_SECRET_ACCESS_KEY`.
    pub aws_secret_access_key: Option<Spanned<String>>,
    /// `bedrock`: session token reference, for temporary credentials.
    /// Default `env:AWS_SESSION_TOKEN` when that variable is set.
    pub aws_session_token: Option<Spanned<String>>,
    /// `huggingface`: `chat` (default; the OpenAI-compatible messages API) or
    /// `text-generation` (models that only take `inputs`; chat is rendered
    /// into a prompt).
    pub task: Option<HfTask>,
    /// The provider's own API at `/{name}/...`; see `docs/passthrough.md`.
    pub passthrough: Option<super::passthrough::RawPassthrough>,
}

/// How a Hugging Face model is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HfTask {
    /// `POST {base_url}/chat/completions`.
    #[default]
    Chat,
    /// `POST {base_url}/models/{model}` with `{"inputs": ...}`.
    TextGeneration,
}

/// One entry of `models:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// The public name clients send. May contain one `*` wildcard, e.g.
    /// `openai/*` or `gpt-*`.
    pub name: Spanned<String>,
    /// The provider serving it (a key of `providers:`). Shorthand for a
    /// single target; exclusive with `targets`.
    pub provider: Option<Spanned<String>>,
    /// The upstream model name. `*` in it is replaced by what the wildcard in
    /// `name` matched. Default: the matched part for `prefix/*` names, else
    /// the requested name itself.
    pub model: Option<String>,
    /// Other public names for the same model.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Several targets (a model group). Exclusive with `provider`.
    pub targets: Option<Vec<RawTarget>>,
    /// How targets are ordered per request. Default `priority`.
    pub strategy: Option<Strategy>,
    /// Keep a user, key, consumer, header or metadata value on one target.
    pub sticky: Option<StickyBy>,
    /// Retry rules; see `docs/routing.md`.
    pub retries: Option<RawRetries>,
    /// Other public models to fall back to for specific errors.
    pub fallbacks: Option<RawFallbacks>,
    /// Send a second request when the first is slow to its first token.
    pub hedge: Option<RawHedge>,
    /// Shift weight away from degraded targets (weighted groups).
    pub adaptive: Option<RawAdaptive>,
    /// Circuit breaker settings for this group's targets.
    pub breaker: Option<RawBreaker>,
    /// Probe every target periodically.
    pub health_check: Option<RawHealthCheck>,
    /// `lowest_latency`: fraction of requests sent to a random target. Default 0.1.
    pub exploration: Option<f64>,
}

/// What a pinned route does when the client asks for another model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnModelMismatch {
    /// Serve the pinned model regardless of what the client asked for.
    #[default]
    Override,
    /// Refuse the request with a 400.
    Reject,
}

/// One entry of `routes:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Route name, used in records, metrics and policies.
    pub name: Spanned<String>,
    /// Path prefix, e.g. `/support`: the API is then served at
    /// `/support/v1/chat/completions` and so on. Required, except on the
    /// entry named `default`, which configures the unprefixed route.
    pub path: Option<Spanned<String>>,
    /// Pin every request on this route to one public model.
    pub model: Option<Spanned<String>>,
    /// With `model` set: `override` (default) or `reject` a different model.
    #[serde(default)]
    pub on_model_mismatch: OnModelMismatch,
    /// If set, only these public models may be used on this route.
    pub allowed_models: Option<Vec<String>>,
    /// Whether `/v1/route/{provider}/{model}/...` may choose the model.
    /// Default `true`.
    pub model_in_path: Option<bool>,
    /// Whether the `x-sluice-model` header may choose the model. Default `true`.
    pub model_in_header: Option<bool>,
}
