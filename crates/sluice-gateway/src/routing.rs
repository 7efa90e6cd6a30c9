//! From the model a client asks for to the upstream targets that can serve it.
//!
//! Built once per config snapshot ([`ModelTable::build`]), read on every
//! request. Exact names and aliases are a hash lookup; wildcard patterns
//! (`openai/*`, `gpt-*`) are tried in config order after that. Resolution
//! yields the targets in order, each with the concrete upstream model name.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_protocol::{Error, ErrorKind};

use crate::config::{Config, OnModelMismatch, RouteConfig, Timeouts};
use crate::provider::Provider;

/// One upstream target of a model: a provider and a model-name template.
#[derive(Clone)]
pub struct Target {
    pub provider: Arc<dyn Provider>,
    /// Upstream model template; `*` is replaced by the wildcard capture.
    template: Option<String>,
    pub timeouts: Timeouts,
}

/// A public model entry with its targets.
pub struct ModelRoute {
    /// The public name or pattern as configured.
    pub name: String,
    pub targets: Vec<Target>,
}

/// A target with its upstream model name worked out for one request.
#[derive(Clone)]
pub struct Resolved {
    pub provider: Arc<dyn Provider>,
    pub upstream_model: String,
    pub timeouts: Timeouts,
}

/// All public models of one config snapshot.
pub struct ModelTable {
    exact: HashMap<String, Arc<ModelRoute>>,
    wildcards: Vec<Arc<ModelRoute>>,
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
    /// Builds the table from `config`, with the providers already built.
    pub fn build(config: &Config, providers: &HashMap<String, Arc<dyn Provider>>) -> Self {
        let mut exact = HashMap::new();
        let mut wildcards = Vec::new();
        let mut listed = Vec::new();
        let mut patterns = Vec::new();
        for m in &config.models {
            let Some(provider) = providers.get(&m.provider) else {
                continue;
            };
            let timeouts = config
                .providers
                .iter()
                .find(|p| p.name == m.provider)
                .map(|p| p.timeouts)
                .unwrap_or_default();
            let route = Arc::new(ModelRoute {
                name: m.name.clone(),
                targets: vec![Target {
                    provider: provider.clone(),
                    template: m.model.clone(),
                    timeouts,
                }],
            });
            if m.name.contains('*') {
                patterns.push(m.name.clone());
                wildcards.push(route.clone());
            } else {
                exact.insert(m.name.clone(), route.clone());
                listed.push((m.name.clone(), m.provider.clone()));
            }
            for alias in &m.aliases {
                exact.insert(alias.clone(), route.clone());
                listed.push((alias.clone(), m.provider.clone()));
            }
        }
        Self {
            exact,
            wildcards,
            listed,
            patterns,
        }
    }

    /// Public names for `GET /v1/models`, with the provider serving each.
    pub fn listed(&self) -> &[(String, String)] {
        &self.listed
    }

    /// Whether any entry serves `model`.
    pub fn serves(&self, model: &str) -> bool {
        self.exact.contains_key(model)
            || self
                .wildcards
                .iter()
                .any(|r| pattern_matches(&r.name, model))
    }

    /// The targets for `model`, in order, with concrete upstream names.
    pub fn resolve(&self, model: &str) -> Result<Vec<Resolved>, Error> {
        let (route, captured) = match self.exact.get(model) {
            Some(r) => (r, ""),
            None => self
                .wildcards
                .iter()
                .find_map(|r| capture(&r.name, model).map(|c| (r, c)))
                .ok_or_else(|| self.not_found(model))?,
        };
        Ok(route
            .targets
            .iter()
            .map(|t| Resolved {
                provider: t.provider.clone(),
                upstream_model: upstream_name(t.template.as_deref(), &route.name, model, captured),
                timeouts: t.timeouts,
            })
            .collect())
    }

    fn not_found(&self, model: &str) -> Error {
        let msg = if self.exact.is_empty() && self.wildcards.is_empty() {
            format!(
                "The model `{model}` is not served: no provider is enabled on this gateway. \
                 Set a provider key before starting Sluice (OPENAI_API_KEY, AZURE_OPENAI_API_KEY \
                 with AZURE_OPENAI_ENDPOINT, DEEPSEEK_API_KEY, MISTRAL_API_KEY, GROQ_API_KEY, \
                 TOGETHER_API_KEY, FIREWORKS_API_KEY, OPENROUTER_API_KEY, XAI_API_KEY, or \
                 OLLAMA_HOST for a local Ollama), pass a config file with --config, or try \
                 `sluice demo`."
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
mod tests {
    use super::*;

    #[test]
    fn wildcard_capture() {
        assert_eq!(capture("openai/*", "openai/gpt-4o"), Some("gpt-4o"));
        assert_eq!(capture("openai/*", "openai/"), None);
        assert_eq!(capture("gpt-*", "gpt-4o-mini"), Some("4o-mini"));
        assert_eq!(capture("*-latest", "claude-latest"), Some("claude"));
        assert_eq!(capture("exact", "exact"), Some(""));
        assert_eq!(capture("exact", "exactly"), None);
    }

    #[test]
    fn upstream_names() {
        assert_eq!(
            upstream_name(None, "openai/*", "openai/gpt-4o", "gpt-4o"),
            "gpt-4o"
        );
        assert_eq!(upstream_name(None, "gpt-*", "gpt-4o", "4o"), "gpt-4o");
        assert_eq!(
            upstream_name(Some("llama-*"), "local/*", "local/3", "3"),
            "llama-3"
        );
        assert_eq!(upstream_name(Some("fixed"), "m", "m", ""), "fixed");
        assert_eq!(upstream_name(None, "m", "m", ""), "m");
    }

    #[test]
    fn route_policy() {
        let mut r = RouteConfig::default_route();
        assert_eq!(apply_route_policy(&r, "a").unwrap(), "a");
        r.pinned_model = Some("p".into());
        assert_eq!(apply_route_policy(&r, "a").unwrap(), "p");
        r.on_model_mismatch = OnModelMismatch::Reject;
        assert_eq!(apply_route_policy(&r, "a").unwrap_err().status(), 400);
        assert_eq!(apply_route_policy(&r, "p").unwrap(), "p");
        r.pinned_model = None;
        r.allowed_models = Some(vec!["gpt-*".into()]);
        assert_eq!(apply_route_policy(&r, "claude").unwrap_err().status(), 403);
        assert_eq!(apply_route_policy(&r, "gpt-4o").unwrap(), "gpt-4o");
    }
}
