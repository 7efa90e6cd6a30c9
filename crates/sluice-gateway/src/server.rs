//! The HTTP application and the listener.
//!
//! [`app`] assembles the routes and sets the order of the HTTP layers, in
//! one place. [`serve`] runs the accept loop with per-connection settings
//! (`TCP_NODELAY`, header read timeout, connection cap) and graceful
//! shutdown with a drain deadline.

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
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

pub use auth::{AuthLayer, presented_key};
pub use context::{RecordLayer, RequestCtx};

use crate::config::ListenerLimits;
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
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Connection limits, client read timeouts and the drain deadline.
    pub limits: ListenerLimits,
    /// Cancelled when the drain deadline passes, so that streams still open
    /// end with a terminal error event instead of a silent close (see
    /// [`Gateway::drain_token`]).
    pub cut_off: Option<CancellationToken>,
}

impl ServeOptions {
    /// The listener settings of `gw`'s config, cutting off its streams when
    /// the drain deadline passes.
    pub fn for_gateway(gw: &Gateway) -> Self {
        Self {
            limits: gw.snapshot().config.server.listener,
            cut_off: Some(gw.drain_token()),
        }
    }
}

/// How long cut-off streams get to write their terminal event and close.
const CUT_OFF_GRACE: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and lets open connections finish for up to the drain timeout.
/// Streams still open then are cut off (see [`ServeOptions::cut_off`]) and
/// get a short grace to say so before their connections are dropped.
///
/// Per connection: `TCP_NODELAY`, the header read timeout, a 256 KiB read
/// buffer (which bounds the request head), at most 256 concurrent HTTP/2
/// streams; connections over `max_connections` are closed at once.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let limits = opts.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(256 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(256 * 1024);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                max = limits.max_connections,
                "connection refused: server.max_connections reached"
            );
            drop(stream);
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let svc = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let mut drained = std::pin::pin!(graceful.shutdown());
    if tokio::time::timeout(limits.drain_timeout, &mut drained)
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!("drain timeout passed with requests still open; ending their streams");
    if let Some(cut_off) = &opts.cut_off {
        cut_off.cancel();
    }
    if tokio::time::timeout(CUT_OFF_GRACE, drained).await.is_err() {
        tracing::warn!("connections still open after the cut-off; closing them");
    }
}
