//! The zero-config mode: `sluice serve` with no config file.
//!
//! Every provider whose standard key variable is set is enabled, together
//! with local servers whose base URL variable is set. Each enabled provider
//! serves `<provider>/<model>`; a few also claim their bare model families
//! (`gpt-*` for OpenAI, `claude-*` for Anthropic...). The result is a regular
//! [`Config`], so the rest of the gateway cannot tell the difference.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::secret::Secret;
use super::tenancy::{AuthConfig, Database, LimitsConfig, StoreConfig, default_admin};
use super::validate::{
    DEFAULT_AZURE_API_VERSION, DEFAULT_DATA_DIR, DEFAULT_MAX_BODY, ResponsesConfig,
};
use super::{
    AwsConfig, Config, ModelConfig, ProviderConfig, RouteConfig, ServerConfig, VertexConfig,
};
use crate::provider::ProviderKind;

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Builds the zero-config [`Config`] from environment variables read by `env`.
pub fn from_env(env: Env<'_>, listen: SocketAddr) -> Config {
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut providers = Vec::new();
    let mut models = Vec::new();
    for &kind in ProviderKind::ALL {
        let Some(p) = detect(kind, &get) else {
            continue;
        };
        models.push(ModelConfig::single(&format!("{}/*", p.name), &p, None));
        for pattern in kind.bare_model_patterns() {
            models.push(ModelConfig::single(pattern, &p, None));
        }
        providers.push(p);
    }
    Config {
        source: "embedded defaults".to_owned(),
        server: ServerConfig {
            listen,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            max_body_bytes: usize::try_from(DEFAULT_MAX_BODY).unwrap_or(usize::MAX),
            max_in_flight: super::validate::DEFAULT_MAX_IN_FLIGHT,
            responses: ResponsesConfig::default(),
            listener: Default::default(),
        },
        providers,
        models,
        routes: vec![RouteConfig::default_route()],
        store: StoreConfig {
            database: Database::Sqlite(PathBuf::from(DEFAULT_DATA_DIR).join("sluice.db")),
            redis: None,
            redis_timeout: std::time::Duration::from_millis(100),
        },
        auth: AuthConfig::default(),
        admin: default_admin(),
        limits: LimitsConfig::default(),
        pricing: Vec::new(),
        guardrails: super::guardrails::GuardrailsConfig::default(),
        ledger: super::observe::default_ledger(&PathBuf::from(DEFAULT_DATA_DIR)),
        traces: None,
        alerts: super::observe::AlertsConfig::default(),
        cache: super::cache::CacheConfig::default(),
    }
}

/// The first set variable among `names`.
fn first(get: Env<'_>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| get(n))
}

/// The provider for `kind`, if its variables enable it.
fn detect(kind: ProviderKind, get: Env<'_>) -> Option<ProviderConfig> {
    let name = kind.as_str();
    let base_override = get(kind.base_url_env());
    let base = |fallback: &str| {
        base_override
            .clone()
            .unwrap_or_else(|| fallback.to_owned())
            .trim_end_matches('/')
            .to_owned()
    };
    let key_vars: &[&str] = match kind {
        ProviderKind::Gemini => &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        ProviderKind::Cohere => &["COHERE_API_KEY", "CO_API_KEY"],
        ProviderKind::Huggingface => &["HF_TOKEN", "HUGGINGFACE_API_KEY"],
        _ => &[],
    };
    match kind {
        ProviderKind::Vertex => {
            let credentials = get("GOOGLE_APPLICATION_CREDENTIALS")?;
            let project = first(get, &["VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"])?;
            let location = first(get, &["VERTEX_LOCATION", "GOOGLE_CLOUD_LOCATION"])
                .unwrap_or_else(|| "us-central1".to_owned());
            let host = if location == "global" {
                "https://aiplatform.googleapis.com".to_owned()
            } else {
                format!("https://{location}-aiplatform.googleapis.com")
            };
            let mut p = ProviderConfig::new(name, kind, &base(&host), Vec::new());
            p.vertex = Some(VertexConfig {
                project,
                location,
                credentials_file: PathBuf::from(credentials),
            });
            Some(p)
        }
        ProviderKind::Bedrock => {
            let access_key_id = get("AWS_ACCESS_KEY_ID")?;
            let secret_access_key = get("AWS_SECRET_ACCESS_KEY")?;
            let region = first(get, &["AWS_REGION", "AWS_DEFAULT_REGION"])
                .unwrap_or_else(|| "us-east-1".to_owned());
            let host = format!("https://bedrock-runtime.{region}.amazonaws.com");
            let mut p = ProviderConfig::new(name, kind, &base(&host), Vec::new());
            p.aws = Some(AwsConfig {
                region,
                access_key_id: Secret::new(access_key_id),
                secret_access_key: Secret::new(secret_access_key),
                session_token: get("AWS_SESSION_TOKEN").map(Secret::new),
            });
            Some(p)
        }
        ProviderKind::Ollama => {
            // Ollama's own variable is OLLAMA_HOST ("127.0.0.1:11434").
            let url = base_override.clone().or_else(|| {
                get("OLLAMA_HOST").map(|h| {
                    let h = h.trim_end_matches('/');
                    let h = if h.contains("://") {
                        h.to_owned()
                    } else {
                        format!("http://{h}")
                    };
                    format!("{h}/v1")
                })
            })?;
            Some(ProviderConfig::new(name, kind, &url, Vec::new()))
        }
        _ => match kind.key_env() {
            Some(key_var) => {
                let key = if key_vars.is_empty() {
                    get(key_var)
                } else {
                    first(get, key_vars)
                }?;
                // Azure has no default: its endpoint variable is required.
                let url = match kind.default_base_url() {
                    Some(d) => base(d),
                    None => base_override.clone()?.trim_end_matches('/').to_owned(),
                };
                let mut p = ProviderConfig::new(name, kind, &url, vec![Secret::new(key)]);
                if kind == ProviderKind::Azure {
                    p.api_version = Some(
                        first(get, &["AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION"])
                            .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned()),
                    );
                }
                Some(p)
            }
            None => base_override.map(|b| ProviderConfig::new(name, kind, &b, Vec::new())),
        },
    }
}
