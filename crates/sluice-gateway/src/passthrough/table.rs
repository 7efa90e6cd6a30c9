//! The pass-through targets of one config snapshot: for every provider
//! with pass-through enabled, where its API lives, whose credentials go
//! upstream, what may be forwarded and the HTTP client that forwards it.
//!
//! Built with the runtime (start-up and every reload), read on every
//! pass-through and universal request.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::Url;
use reqwest::header::HeaderMap;
use sluice_protocol::{Error, ErrorKind};

use crate::config::{Config, Credentials, ProviderConfig, Timeouts};
use crate::provider::{Provider, ProviderKind, http};
use crate::routing::pattern_matches;

/// One provider reachable at `/{name}/...`.
pub struct PassTarget {
    pub name: String,
    pub kind: ProviderKind,
    pub credentials: Credentials,
    pub timeouts: Timeouts,
    pub provider: Arc<dyn Provider>,
    pub client: reqwest::Client,
    /// Extra headers from the provider's config (`headers:`).
    pub static_headers: HeaderMap,
    /// Vertex: the configured project; gateway-mode paths must stay in it.
    pub vertex_project: Option<String>,
    root: Url,
    /// `root` as text, without a trailing `/`.
    root_text: String,
    paths: Option<Vec<String>>,
    models: Option<Vec<String>>,
}

impl std::fmt::Debug for PassTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassTarget")
            .field("name", &self.name)
            .field("root", &self.root_text)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl PassTarget {
    /// The upstream URL for a checked client path (with its query): the
    /// root plus the path, verified to still name the root's host and lie
    /// under its path.
    pub fn url(&self, path_and_query: &str) -> Result<Url, Error> {
        let url = Url::parse(&format!("{}{path_and_query}", self.root_text))
            .map_err(|_| bad_path(path_and_query))?;
        let root_path = self.root.path().trim_end_matches('/');
        if url.origin() != self.root.origin()
            || !url.path().starts_with(root_path)
            || url.username() != ""
            || url.password().is_some()
            || url.fragment().is_some()
        {
            return Err(bad_path(path_and_query));
        }
        Ok(url)
    }

    /// The root the client's path is appended to.
    pub fn root(&self) -> &str {
        &self.root_text
    }

    /// Whether `path` (after `/{name}`) may be forwarded.
    pub fn allows_path(&self, path: &str) -> bool {
        self.paths
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| pattern_matches(p, path)))
    }

    /// Whether a request for `model` may be forwarded.
    pub fn allows_model(&self, model: Option<&str>) -> bool {
        match (&self.models, model) {
            (Some(ms), Some(m)) => ms.iter().any(|p| pattern_matches(p, m)),
            _ => true,
        }
    }
}

fn bad_path(path: &str) -> Error {
    Error::invalid(format!(
        "`{path}` is not a path of the provider's API; pass-through forwards paths only, \
         never URLs"
    ))
}

/// Every pass-through target of a snapshot, by provider name.
#[derive(Default)]
pub struct Table {
    targets: HashMap<String, Arc<PassTarget>>,
}

impl Table {
    /// Builds a target for each provider with pass-through enabled.
    pub fn build(
        config: &Config,
        providers: &HashMap<String, Arc<dyn Provider>>,
    ) -> Result<Self, Error> {
        let mut targets = HashMap::new();
        for pc in config.providers.iter().filter(|p| p.passthrough.enabled) {
            let Some(provider) = providers.get(&pc.name) else {
                continue;
            };
            targets.insert(pc.name.clone(), Arc::new(target(pc, provider.clone())?));
        }
        Ok(Self { targets })
    }

    /// The target named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<PassTarget>> {
        self.targets.get(name)
    }

    /// The names, sorted (for error messages).
    pub fn names(&self) -> Vec<&str> {
        let mut n: Vec<&str> = self.targets.keys().map(String::as_str).collect();
        n.sort_unstable();
        n
    }
}

fn target(pc: &ProviderConfig, provider: Arc<dyn Provider>) -> Result<PassTarget, Error> {
    let configured = Url::parse(pc.passthrough.base_url.as_deref().unwrap_or(&pc.base_url))
        .map_err(|e| {
            Error::internal(format!(
                "provider `{}` has no usable pass-through URL: {e}",
                pc.name
            ))
        })?;
    let root_text = match &pc.passthrough.base_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => configured.origin().ascii_serialization(),
    };
    let root = Url::parse(&root_text).map_err(|e| {
        Error::internal(format!(
            "provider `{}` has no usable pass-through URL: {e}",
            pc.name
        ))
    })?;
    if !matches!(root.scheme(), "http" | "https") {
        return Err(Error::new(
            ErrorKind::Internal,
            format!("provider `{}`: pass-through needs an http(s) URL", pc.name),
        ));
    }
    Ok(PassTarget {
        name: pc.name.clone(),
        kind: pc.kind,
        credentials: pc.passthrough.credentials,
        timeouts: pc.timeouts,
        provider,
        client: http::client(&pc.timeouts)?,
        static_headers: http::static_headers(&pc.headers)?,
        vertex_project: pc.vertex.as_ref().map(|v| v.project.clone()),
        root,
        root_text,
        paths: pc.passthrough.paths.clone(),
        models: pc.passthrough.models.clone(),
    })
}
