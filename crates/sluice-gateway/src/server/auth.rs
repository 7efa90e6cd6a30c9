//! The auth layer: resolves the caller's key to an identity, or refuses.
//!
//! Runs on every API request, inside the record layer (so refusals are
//! recorded) and before any handler reads the body. The key is read from,
//! in order: `x-sluice-key`, `Authorization: Bearer …`, `x-api-key`
//! (Anthropic SDKs), `api-key` (Azure SDKs), `x-goog-api-key` (Gemini). An
//! SDK pointed at Sluice therefore sends its Sluice key where it would send
//! the provider's; `x-sluice-key` is for clients whose `Authorization`
//! header must carry something else.
//!
//! The identity goes into the [`RequestCtx`] and the record. On an open
//! gateway (no keys yet, or `auth.mode: open`) requests without a valid key
//! pass anonymously; otherwise they get 401 in the client's dialect.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, Request};
use tower::{Layer, Service};

use super::context::RequestCtx;
use super::errors;

/// Headers a key may come in, after `Authorization`.
const KEY_HEADERS: [&str; 4] = ["x-sluice-key", "x-api-key", "api-key", "x-goog-api-key"];

/// The key a request presents, if any.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(k) = get(KEY_HEADERS[0]) {
        return Some(k.trim());
    }
    if let Some(bearer) = get("authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) {
        return Some(bearer.trim());
    }
    KEY_HEADERS[1..].iter().find_map(|h| get(h)).map(str::trim)
}

/// Layer adding [`AuthService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthLayer;

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for AuthService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone is the one that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let Some(ctx) = req.extensions().get::<RequestCtx>().cloned() else {
                return inner.call(req).await;
            };
            let auth = ctx.rt.config.auth;
            let key = presented_key(req.headers());
            match ctx.rt.tenancy.directory().authenticate(key, &auth).await {
                Ok(Some(identity)) => {
                    ctx.record.update(|r| r.identity = identity.record());
                    if let Some(c) = req.extensions_mut().get_mut::<RequestCtx>() {
                        c.identity = Some(identity);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let dialect = errors::dialect_for(req.uri().path());
                    return Ok(errors::respond(&e, dialect, &ctx.record));
                }
            }
            inner.call(req).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_header_precedence() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("api-key", "azure".parse().unwrap());
        assert_eq!(presented_key(&h), Some("azure"));
        h.insert("x-api-key", "anthropic".parse().unwrap());
        assert_eq!(presented_key(&h), Some("anthropic"));
        h.insert("authorization", "Bearer sk-sluice-abc".parse().unwrap());
        assert_eq!(presented_key(&h), Some("sk-sluice-abc"));
        h.insert("x-sluice-key", "sk-sluice-override".parse().unwrap());
        assert_eq!(presented_key(&h), Some("sk-sluice-override"));
    }
}
