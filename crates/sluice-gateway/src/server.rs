//! The HTTP application and the listener.
//!
//! [`app`] assembles the routes and sets the order of the HTTP layers, in
//! one place. [`serve`] runs the accept loop with per-connection settings
//! (`TCP_NODELAY`, header read timeout) and graceful shutdown.

mod answer;
mod auth;
mod body;
mod chat;
mod completions;
mod context;
mod embeddings;
mod errors;
mod events;
mod health;
mod messages;
mod meta;
mod openai;
mod passthrough;
mod responses;
mod select;
mod shed;
mod sse;
mod surfaces;
mod universal;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

pub use auth::{AuthLayer, presented_key};
pub use context::{RecordLayer, RequestCtx};

use crate::state::Gateway;

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-sluice-request-id";

/// The API application.
///
/// Layers, outermost first:
/// 1. [`RecordLayer`]: assigns the request id, loads the config snapshot and
///    starts the request record. Outermost so that every request, including
///    ones refused by an inner layer or a panic, is recorded exactly once.
/// 2. [`CatchPanicLayer`]: a panic in a handler becomes a 500 in OpenAI
///    shape instead of a dropped connection.
/// 3. [`shed::ShedLayer`]: refuses requests over `server.max_in_flight`
///    with 503 at once (never queued); before auth so a flood costs
///    nothing more.
/// 4. [`AuthLayer`]: resolves the caller's key (401 when one is needed and
///    missing or invalid). Inside the record layer so refusals are recorded,
///    and before any handler reads the body.
/// 5. `Extension` of the Responses API store ([`Gateway::responses`]), read
///    by the `/v1/responses` handlers.
///
/// The surfaces beyond chat (Anthropic Messages, the Responses API, legacy
/// completions) are mounted from [`surfaces::app`].
///
/// `/healthz`, `/readyz` and `/metrics` sit outside the layers: probes and
/// scrapes are not traffic.
pub fn app(gw: Arc<Gateway>) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/rerank", post(openai::rerank))
        .route("/v1/models", get(openai::models))
        .route("/v1/universal", post(universal::serve))
        .merge(surfaces::app())
        .fallback(openai::prefixed_or_not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(RecordLayer::new(gw.clone()))
                .layer(CatchPanicLayer::custom(errors::panic_response))
                .layer(shed::ShedLayer::new(gw.ledger().metrics().clone()))
                .layer(AuthLayer)
                .layer(Extension(gw.responses().clone())),
        );
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .with_state(gw)
        .merge(api)
}

/// Listener settings.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Longest a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run after shutdown begins.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and lets open connections finish for up to the drain timeout.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .max_buf_size(256 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let svc = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(opts.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout passed with connections still open");
    }
}
