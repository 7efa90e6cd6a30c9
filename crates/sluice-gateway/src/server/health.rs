//! Liveness and readiness probes. Outside the API layers: not recorded.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::Gateway;

/// `GET /healthz`: the process is up.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: a config is loaded and its provider clients are built.
pub async fn ready(State(gw): State<Arc<Gateway>>) -> Json<Value> {
    let rt = gw.snapshot();
    Json(json!({
        "status": "ready",
        "config_generation": rt.generation,
        "config_source": rt.config.source,
        "providers": rt.providers.len(),
    }))
}
