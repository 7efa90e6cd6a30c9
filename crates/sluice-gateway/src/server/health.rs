//! Liveness and readiness probes, and the Prometheus scrape endpoint.
//! Outside the API layers: not recorded.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::admin::counters_label;
use crate::state::Gateway;
use crate::tenancy::backend::CounterHealth;

/// `GET /healthz`: the process is up.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: a config is loaded and its provider clients are built.
/// `status` is `degraded` (still 200: the gateway serves) while the shared
/// counter store is down or the database does not answer.
pub async fn ready(State(gw): State<Arc<Gateway>>) -> Json<Value> {
    let rt = gw.snapshot();
    let t = gw.tenancy();
    let counters = t.counters().health();
    let database_ok = t.db().ping().await;
    let ledger = gw.ledger().counters().state();
    let degraded = counters == CounterHealth::Degraded || !database_ok || ledger != "ok";
    Json(json!({
        "status": if degraded { "degraded" } else { "ready" },
        "config_generation": rt.generation,
        "config_source": rt.config.source,
        "providers": rt.providers.len(),
        "counters": counters_label(counters),
        "database_ok": database_ok,
        "ledger": ledger,
        "auth": if t.is_open(&rt.config.auth) { "open" } else { "closed" },
    }))
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(gw): State<Arc<Gateway>>) -> impl axum::response::IntoResponse {
    let ledger = gw.ledger();
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ledger.metrics().render(ledger.counters()),
    )
}
