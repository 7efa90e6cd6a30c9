//! Configuration: YAML, typed, validated, with secrets held in a redacting type.
//!
//! Loading has two stages. [`raw`] is the file as written (serde, unknown
//! fields refused, every field documented). [`validate`] checks it and
//! produces a [`Config`]. Each problem carries its YAML path and line.
//! [`defaults`] builds the zero-config [`Config`] from environment variables
//! when `sluice serve` runs without `--config`.
//!
//! Runs at start-up, in `sluice check`, and on every reload; never on the
//! request path.

pub mod cache;
pub mod defaults;
pub mod guardrails;
mod models;
pub mod observe;
pub mod passthrough;
pub mod raw;
pub mod routing;
pub mod secret;
pub mod tenancy;
pub mod units;
mod validate;

use std::fmt;
use std::path::Path;

pub use passthrough::{Credentials, PassthroughConfig};
pub use raw::{HfTask, OnModelMismatch};
pub use secret::Secret;
pub use validate::{
    AwsConfig, Config, DEFAULT_AZURE_API_VERSION, DEFAULT_DATA_DIR, DEFAULT_LISTEN,
    DEFAULT_MAX_BODY, DEFAULT_MAX_TOKENS, ListenerLimits, ModelConfig, ProviderConfig,
    ResponsesConfig, RouteConfig, ServerConfig, Timeouts, VertexConfig,
};

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// YAML path, e.g. `providers.openai.api_key`.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    pub message: String,
}

/// A config that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or "embedded defaults").
    pub origin: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{} has {n} problem{}:",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            match p.line {
                Some(line) => writeln!(f, "  {}:{line}: {}: {}", self.origin, p.path, p.message)?,
                None => writeln!(f, "  {}: {}: {}", self.origin, p.path, p.message)?,
            }
        }
        Ok(())
    }
}

/// Parses and validates YAML text. `source` names it in errors; `env` reads
/// environment variables for `env:` references.
pub fn parse(
    text: &str,
    source: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut at_path = String::new();
    let parsed: Result<raw::RawConfig, serde_saphyr::Error> =
        serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize::<_, raw::RawConfig>(de).map_err(|e| {
                at_path = e.path().to_string();
                e.into_inner()
            })
        });
    let raw = match parsed {
        Ok(raw) => raw,
        Err(e) => {
            let line = e.location().map(|l| l.line());
            let mut message = e.without_snippet().to_string();
            if let Some(rest) = message.strip_prefix("error: ") {
                message = rest.to_owned();
            }
            if let Some(idx) = message.find(": ").filter(|_| message.starts_with("line ")) {
                message = message[idx + 2..].to_owned();
            }
            let path = if at_path.is_empty() || at_path == "." {
                "(document)".to_owned()
            } else {
                at_path
            };
            return Err(ConfigError {
                origin: source.to_owned(),
                problems: vec![Problem {
                    path,
                    line,
                    message,
                }],
            });
        }
    };
    validate::validate(raw, source, env)
}

/// Fuzz entry point (`fuzz/fuzz_targets/config.rs` and its corpus replay):
/// parses arbitrary bytes as a config file, with every environment
/// reference set. It must answer a config or a [`ConfigError`], never panic.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse(text, "fuzz.yaml", &|_| Some("fuzz-value".to_owned()));
    }
}

/// Reads, parses and validates a config file, resolving `env:` references
/// from the process environment. Blocking: call at start-up or from a
/// blocking task.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let source = path.display().to_string();
    #[expect(
        clippy::disallowed_methods,
        reason = "config loading is the one place allowed to read files synchronously"
    )]
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        origin: source.clone(),
        problems: vec![Problem {
            path: "(file)".to_owned(),
            line: None,
            message: format!("cannot read: {e}"),
        }],
    })?;
    parse(&text, &source, &|k| std::env::var(k).ok())
}

#[cfg(test)]
mod tests;
