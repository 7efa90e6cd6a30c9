//! `providers.<name>.passthrough`: whether and how the provider's own API is
//! forwarded at `/{name}/...` (and usable from the universal endpoint).
//!
//! Part of config validation (start-up, `sluice check`, every reload):
//! [`validate`] checks one provider's settings; [`check_names`] refuses
//! provider names that would shadow a route prefix or a path the gateway
//! reserves, since pass-through claims `/{name}/` for every provider.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validate::{Ctx, ModelConfig, ProviderConfig, RouteConfig};

/// First path segments a pass-through provider may not be named after:
/// the gateway's own API and the paths operators and later features use.
pub const RESERVED_NAMES: &[&str] = &[
    "v1",
    "v2",
    "healthz",
    "readyz",
    "livez",
    "metrics",
    "admin",
    "api",
    "dashboard",
    "ui",
    "docs",
    "static",
    "assets",
    "openapi",
];

/// Whose credentials a pass-through request carries upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// The gateway's own key for the provider. Every credential the client
    /// sent (`Authorization`, `x-api-key`, `api-key`, `x-goog-api-key`, AWS
    /// signature headers, cookies, `?key=`) is removed first.
    #[default]
    Gateway,
    /// Bring your own key: the client's credential for this provider (and
    /// only that header) is forwarded, to this provider's host only.
    Client,
}

impl Credentials {
    /// The name used in config files and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Client => "client",
        }
    }
}

/// `providers.<name>.passthrough:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPassthrough {
    /// Serve the provider's API at `/{name}/...`. Default `true`.
    pub enabled: Option<bool>,
    /// `gateway` (default) or `client` (bring your own key).
    pub credentials: Option<Credentials>,
    /// The URL the client's path is appended to. Default: the scheme, host
    /// and port of the provider's `base_url`, without its path.
    pub base_url: Option<Spanned<String>>,
    /// If set, only these paths (after `/{name}`) are forwarded; one `*`
    /// matches any run of characters, e.g. `/v1/chat/completions`,
    /// `/v1beta/models/*`. Default: every path.
    pub paths: Option<Vec<String>>,
    /// If set, only requests for these models (patterns with one `*`) are
    /// forwarded; requests naming no model are not affected. Default: any.
    pub models: Option<Vec<String>>,
}

/// Pass-through settings after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassthroughConfig {
    pub enabled: bool,
    pub credentials: Credentials,
    /// Root override; `None` means the origin of the provider's `base_url`.
    pub base_url: Option<String>,
    pub paths: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
}

impl Default for PassthroughConfig {
    /// Enabled, with the gateway's credentials, every path and model.
    fn default() -> Self {
        Self {
            enabled: true,
            credentials: Credentials::Gateway,
            base_url: None,
            paths: None,
            models: None,
        }
    }
}

/// Validates `providers.<name>.passthrough` (`path` is `providers.<name>`).
pub(super) fn validate(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: Option<&RawPassthrough>,
) -> PassthroughConfig {
    let Some(raw) = raw else {
        return PassthroughConfig::default();
    };
    let base_url = raw.base_url.as_ref().and_then(|u| {
        let field = format!("{path}.passthrough.base_url");
        match reqwest::Url::parse(&u.value) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.query().is_none()
                    && url.fragment().is_none()
                    && url.username().is_empty() =>
            {
                Some(u.value.trim_end_matches('/').to_owned())
            }
            _ => {
                cx.at(
                    field,
                    Some(u),
                    format!(
                        "`{}` is not an http(s) URL without query or credentials",
                        u.value
                    ),
                );
                None
            }
        }
    });
    for (i, p) in raw.paths.iter().flatten().enumerate() {
        if !p.starts_with('/') || p.matches('*').count() > 1 || p.contains("..") {
            cx.at::<()>(
                format!("{path}.passthrough.paths[{i}]"),
                None,
                "a path starts with `/`, has at most one `*` and no `..`",
            );
        }
    }
    for (i, m) in raw.models.iter().flatten().enumerate() {
        if m.trim().is_empty() || m.matches('*').count() > 1 {
            cx.at::<()>(
                format!("{path}.passthrough.models[{i}]"),
                None,
                "a model pattern is not empty and has at most one `*`",
            );
        }
    }
    PassthroughConfig {
        enabled: raw.enabled.unwrap_or(true),
        credentials: raw.credentials.unwrap_or_default(),
        base_url,
        paths: raw.paths.clone(),
        models: raw.models.clone(),
    }
}

/// Whether raw settings put the provider in `client` credential mode.
pub(super) fn client_mode(raw: Option<&RawPassthrough>) -> bool {
    raw.and_then(|r| r.credentials) == Some(Credentials::Client)
}

/// A provider in `client` mode may go without a key of its own, but then
/// no model may use it: the gateway's own endpoints need a key.
pub(super) fn check_keys(cx: &mut Ctx<'_>, providers: &[ProviderConfig], models: &[ModelConfig]) {
    for p in providers {
        if !p.keys.is_empty() || !p.kind.needs_key() {
            continue;
        }
        if let Some(m) = models.iter().find(|m| m.providers().any(|n| n == p.name)) {
            cx.at::<()>(
                format!("providers.{}.api_key", p.name),
                None,
                format!(
                    "the model `{}` uses this provider, which needs a key of its own                      (`passthrough.credentials: client` covers only `/{}/...`)",
                    m.name, p.name
                ),
            );
        }
    }
}

/// Refuses pass-through providers whose name is reserved or is the first
/// segment of a route's path: `/{name}/...` must mean one thing.
pub(super) fn check_names(cx: &mut Ctx<'_>, providers: &[ProviderConfig], routes: &[RouteConfig]) {
    for p in providers.iter().filter(|p| p.passthrough.enabled) {
        let clash = if RESERVED_NAMES.contains(&p.name.as_str()) {
            Some(format!("`/{}/` is a path the gateway reserves", p.name))
        } else {
            routes
                .iter()
                .find(|r| r.prefix.trim_start_matches('/').split('/').next() == Some(&p.name))
                .map(|r| format!("the route `{}` is served under `{}`", r.name, r.prefix))
        };
        if let Some(why) = clash {
            cx.at::<()>(
                format!("providers.{}", p.name),
                None,
                format!(
                    "pass-through serves this provider at `/{}/...`, but {why}; rename the \
                     provider or set `passthrough: {{enabled: false}}`",
                    p.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Credentials, parse};

    fn env(k: &str) -> Option<String> {
        (k == "KEY").then(|| "sk-test".to_owned())
    }

    fn problems(yaml: &str) -> Vec<String> {
        parse(yaml, "t.yaml", &env)
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn settings_and_defaults() {
        let c = parse(
            r#"
providers:
  openai: { type: openai, api_key: env:KEY }
  claude:
    type: anthropic
    api_key: env:KEY
    passthrough:
      credentials: client
      base_url: https://proxy.example/anthropic/
      paths: [/v1/messages, "/v1/models*"]
      models: ["claude-*"]
  quiet:
    type: openai
    api_key: env:KEY
    passthrough: { enabled: false }
"#,
            "t.yaml",
            &env,
        )
        .unwrap();
        let get = |n: &str| c.providers.iter().find(|p| p.name == n).unwrap();
        assert_eq!(
            get("openai").passthrough,
            super::PassthroughConfig::default()
        );
        let claude = &get("claude").passthrough;
        assert_eq!(claude.credentials, Credentials::Client);
        assert_eq!(
            claude.base_url.as_deref(),
            Some("https://proxy.example/anthropic")
        );
        assert_eq!(claude.paths.as_ref().unwrap().len(), 2);
        assert!(!get("quiet").passthrough.enabled);
    }

    #[test]
    fn names_that_clash_with_paths_are_refused() {
        let p = problems(
            r#"
providers:
  v1: { type: openai, api_key: env:KEY }
  team: { type: openai, api_key: env:KEY }
  metrics: { type: openai, api_key: env:KEY, passthrough: { enabled: false } }
models:
  - { name: m, provider: team }
routes:
  - { name: t, path: /team/a }
"#,
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("providers.team: ") && p[0].contains("route `t`"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("providers.v1: ") && p[1].contains("reserves"),
            "{p:?}"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let p = problems(
            r#"
providers:
  openai:
    type: openai
    api_key: env:KEY
    passthrough:
      base_url: "https://user:pw@proxy.example/x?y=1"
      paths: [v1/chat, "/a/*/b/*", /v1/../admin]
      models: [""]
      credentials: client
"#,
        );
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(p[0].contains("passthrough.base_url"));
        let p = problems(
            "providers:\n  openai:\n    type: openai\n    api_key: env:KEY\n    passthrough: { credentials: both }\n",
        );
        assert!(p[0].contains("passthrough.credentials"), "{p:?}");
        // Bring-your-own-key providers need no key, unless a model uses them.
        let byok = "providers:\n  o:\n    type: openai\n    passthrough: { credentials: client }\n";
        assert!(parse(byok, "t.yaml", &env).is_ok());
        let p = problems(&format!("{byok}models:\n  - {{ name: m, provider: o }}\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("providers.o.api_key") && p[0].contains("`m`"),
            "{p:?}"
        );
    }

    #[test]
    fn the_default_route_can_be_configured() {
        let c = parse(
            r#"
providers:
  openai: { type: openai, api_key: env:KEY }
models:
  - { name: "openai/*", provider: openai }
routes:
  - name: default
    model_in_path: false
    allowed_models: ["openai/*"]
  - name: strict
    path: /strict
    model_in_header: false
"#,
            "t.yaml",
            &env,
        )
        .unwrap();
        assert_eq!(c.routes.len(), 2);
        let d = &c.routes[0];
        assert_eq!((d.name.as_str(), d.prefix.as_str()), ("default", ""));
        assert!(!d.model_in_path && d.model_in_header);
        assert!(d.allowed_models.is_some());
        assert!(c.routes[1].model_in_path && !c.routes[1].model_in_header);

        let p = problems(
            "routes:\n  - { name: default, path: /x }\n  - { name: other }\n  - { name: default }\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("leave out `path`"), "{p:?}");
        assert!(p[1].contains("needs `path`"), "{p:?}");
        assert!(p[2].contains("defined twice"), "{p:?}");
    }
}
