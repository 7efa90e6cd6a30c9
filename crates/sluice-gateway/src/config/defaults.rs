//! The zero-config mode: `sluice serve` with no config file.
//!
//! Every provider whose standard key variable is set is enabled, together
//! with local servers whose base URL variable is set. Each enabled provider
//! serves `<provider>/<model>`; a few also claim their bare model families
//! (`gpt-*` for OpenAI, `deepseek-*` for DeepSeek...). The result is a
//! regular [`Config`], so the rest of the gateway cannot tell the difference.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::secret::Secret;
use super::validate::{DEFAULT_AZURE_API_VERSION, DEFAULT_DATA_DIR, DEFAULT_MAX_BODY};
use super::{Config, ModelConfig, ProviderConfig, RouteConfig, ServerConfig, Timeouts};
use crate::provider::ProviderKind;

/// Builds the zero-config [`Config`] from environment variables read by `env`.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>, listen: SocketAddr) -> Config {
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut providers = Vec::new();
    let mut models = Vec::new();
    for &kind in ProviderKind::ALL {
        let Some((base_url, keys)) = detect(kind, &get) else {
            continue;
        };
        let name = kind.as_str().to_owned();
        models.push(ModelConfig {
            name: format!("{name}/*"),
            aliases: Vec::new(),
            provider: name.clone(),
            model: None,
        });
        for pattern in kind.bare_model_patterns() {
            models.push(ModelConfig {
                name: (*pattern).to_owned(),
                aliases: Vec::new(),
                provider: name.clone(),
                model: None,
            });
        }
        providers.push(ProviderConfig {
            name,
            kind,
            base_url,
            keys,
            api_version: (kind == ProviderKind::Azure).then(|| {
                get("AZURE_OPENAI_API_VERSION")
                    .or_else(|| get("OPENAI_API_VERSION"))
                    .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned())
            }),
            headers: Vec::new(),
            timeouts: Timeouts::default(),
        });
    }
    Config {
        source: "embedded defaults".to_owned(),
        server: ServerConfig {
            listen,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            max_body_bytes: usize::try_from(DEFAULT_MAX_BODY).unwrap_or(usize::MAX),
        },
        providers,
        models,
        routes: vec![RouteConfig::default_route()],
    }
}

/// The base URL and keys for `kind`, if its variables enable it.
fn detect(
    kind: ProviderKind,
    get: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, Vec<Secret>)> {
    let base_override = get(kind.base_url_env());
    match kind.key_env() {
        Some(key_var) => {
            let key = get(key_var)?;
            let base = base_override.or_else(|| kind.default_base_url().map(str::to_owned))?;
            Some((
                base.trim_end_matches('/').to_owned(),
                vec![Secret::new(key)],
            ))
        }
        None if kind == ProviderKind::Ollama => {
            // Ollama's own variable is OLLAMA_HOST ("127.0.0.1:11434").
            let base = base_override.or_else(|| {
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
            Some((base.trim_end_matches('/').to_owned(), Vec::new()))
        }
        None => base_override.map(|b| (b.trim_end_matches('/').to_owned(), Vec::new())),
    }
}
