//! How a Gemini request is authenticated: an AI Studio API key in the
//! `x-goog-api-key` header (never in the URL), or a Vertex AI OAuth2 access
//! token from a service-account key file.
//!
//! Vertex tokens come from `gcp_auth`: it signs a JWT with the key file's
//! private key, exchanges it at the key file's `token_uri` (so tests can
//! point it at a mock) and caches the token until 20 seconds before it
//! expires, so only the first request (and one per hour after) waits for a
//! token exchange. Runs on every upstream attempt.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gcp_auth::{CustomServiceAccount, TokenProvider};
use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use sluice_protocol::error::scrub_secrets;
use sluice_protocol::{Error, ErrorKind};

use super::super::http;
use super::super::keys::KeyRing;

/// The OAuth2 scope Vertex AI requests need.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Longest wait for a token exchange (`gcp_auth` retries inside it).
const TOKEN_DEADLINE: Duration = Duration::from_secs(30);

/// A source of credentials for one provider.
pub enum Auth {
    /// AI Studio: API keys, in rotation.
    ApiKey(KeyRing),
    /// Vertex AI: tokens from a service account.
    ServiceAccount(Arc<CustomServiceAccount>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiKey(k) => f.debug_tuple("ApiKey").field(k).finish(),
            Self::ServiceAccount(_) => f.write_str("ServiceAccount(..)"),
        }
    }
}

impl Auth {
    /// Reads a service-account key file. Blocking: called when the provider
    /// is built (start-up and reload), never on the request path.
    pub fn service_account(path: &Path) -> Result<Self, Error> {
        let sa = CustomServiceAccount::from_file(path).map_err(|e| {
            Error::internal(format!(
                "cannot use the Vertex AI credentials file `{}`: {}",
                path.display(),
                scrub_secrets(&e.to_string())
            ))
        })?;
        Ok(Self::ServiceAccount(Arc::new(sa)))
    }

    /// Adds the credentials to `rb`.
    pub async fn apply(&self, rb: RequestBuilder, provider: &str) -> Result<RequestBuilder, Error> {
        Ok(match self.header(provider).await? {
            Some((name, value)) => rb.header(name, value),
            None => rb,
        })
    }

    /// The credential header: `x-goog-api-key` with the next key, or a
    /// Vertex access token as a bearer token. `None` without a key.
    pub async fn header(&self, provider: &str) -> Result<Option<(HeaderName, HeaderValue)>, Error> {
        match self {
            Self::ApiKey(keys) => keys
                .pick()
                .map(|key| {
                    Ok((
                        HeaderName::from_static("x-goog-api-key"),
                        http::sensitive(key.expose())?,
                    ))
                })
                .transpose(),
            Self::ServiceAccount(sa) => {
                let token = tokio::time::timeout(TOKEN_DEADLINE, sa.token(&[SCOPE]))
                    .await
                    .map_err(|_| {
                        token_error(provider, "the token endpoint did not answer in time")
                    })?
                    .map_err(|e| token_error(provider, &error_chain(&e)))?;
                let value = http::sensitive(&format!("Bearer {}", token.as_str()))?;
                Ok(Some((AUTHORIZATION, value)))
            }
        }
    }
}

fn error_chain(e: &gcp_auth::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

fn token_error(provider: &str, detail: &str) -> Error {
    Error::new(
        ErrorKind::UpstreamAuth,
        format!(
            "cannot obtain a Vertex AI access token for `{provider}`: {}",
            scrub_secrets(detail)
        ),
    )
    .with_provider(provider)
}
