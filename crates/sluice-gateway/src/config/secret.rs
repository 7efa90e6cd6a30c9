//! Credentials held in a type that never prints them.
//!
//! A config value such as `api_key: env:OPENAI_API_KEY` is a *reference*; it
//! is resolved once, at load time, into a [`Secret`]. `Debug` and `Display`
//! print `[redacted]`, so a secret cannot reach a log, an error message or a
//! config dump by accident. The only way to read it is [`Secret::expose`],
//! which the provider clients call when building the upstream request.

use std::fmt;
use std::sync::Arc;

/// A credential. Cheap to clone; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a value that is already resolved.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for building an upstream request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Resolves a secret reference:
/// - `env:NAME` reads the environment variable `NAME`;
/// - `file:/path` reads the file, trimmed;
/// - anything else is taken literally (prefer `env:` so keys stay out of
///   config files).
///
/// `lookup` reads environment variables; tests pass their own.
pub fn resolve(reference: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Secret, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        let name = name.trim();
        return match lookup(name) {
            Some(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            Some(_) => Err(format!("environment variable `{name}` is empty")),
            None => Err(format!("environment variable `{name}` is not set")),
        };
    }
    if let Some(path) = reference.strip_prefix("file:") {
        #[expect(
            clippy::disallowed_methods,
            reason = "config loading runs at start-up or in a blocking reload task"
        )]
        let read = std::fs::read_to_string(path.trim());
        return match read {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            Ok(_) => Err(format!("secret file `{}` is empty", path.trim())),
            Err(e) => Err(format!("cannot read secret file `{}`: {e}", path.trim())),
        };
    }
    if reference.trim().is_empty() {
        return Err("secret is empty".to_owned());
    }
    Ok(Secret::new(reference.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn resolves_references() {
        let env = |k: &str| (k == "KEY").then(|| "v".to_owned());
        assert_eq!(resolve("env:KEY", &env).unwrap().expose(), "v");
        assert!(
            resolve("env:MISSING", &env)
                .unwrap_err()
                .contains("MISSING")
        );
        assert_eq!(resolve("literal", &env).unwrap().expose(), "literal");
        assert!(resolve("file:/nonexistent/x", &env).is_err());
    }
}
