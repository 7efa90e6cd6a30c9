//! `/v1/usage` (totals per key), `/v1/routes` (live routing state) and
//! `/v1/status` (auth mode, store and counter health).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ErrorBody};
use crate::routing::GroupView;
use crate::state::Gateway;
use crate::tenancy::backend::CounterHealth;
use crate::tenancy::usage::UsageRow;

/// The span of a usage report.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Since {
    /// Start, milliseconds since the Unix epoch (default: the start of the
    /// UTC month).
    pub since_ms: Option<i64>,
}

/// Totals per key (most expensive first) with each key's budget left.
#[utoipa::path(get, path = "/v1/usage", operation_id = "getUsage", tag = "usage", params(Since),
    responses((status = 200, body = Vec<UsageRow>), (status = 503, body = ErrorBody)))]
pub async fn usage(
    State(gw): State<Arc<Gateway>>,
    Query(q): Query<Since>,
) -> Result<Json<Vec<UsageRow>>, ApiError> {
    Ok(Json(gw.tenancy().usage_overview(q.since_ms).await?))
}

/// Every model group with its targets' live state (weights, breakers,
/// in-flight requests, error rates, latency).
#[utoipa::path(get, path = "/v1/routes", operation_id = "getRoutes", tag = "gateway", responses((status = 200, body = Vec<GroupView>)))]
pub async fn routes(State(gw): State<Arc<Gateway>>) -> Json<Vec<GroupView>> {
    Json(gw.routes_view())
}

/// The gateway's tenancy state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `open` (no key needed) or `closed`.
    pub auth: &'static str,
    /// `sqlite` or `postgres`, and whether it answers.
    pub database: &'static str,
    pub database_ok: bool,
    /// `local` (memory), `shared` (Redis up) or `degraded` (Redis down:
    /// rate limits per instance, budgets refused).
    pub counters: &'static str,
    pub config_generation: u64,
}

/// Auth mode, database and counter health.
#[utoipa::path(get, path = "/v1/status", operation_id = "getStatus", tag = "gateway", responses((status = 200, body = Status)))]
pub async fn status(State(gw): State<Arc<Gateway>>) -> Json<Status> {
    let rt = gw.snapshot();
    let t = gw.tenancy();
    Json(Status {
        auth: if t.is_open(&rt.config.auth) {
            "open"
        } else {
            "closed"
        },
        database: match t.db().dialect() {
            sluice_store::db::Dialect::Sqlite => "sqlite",
            sluice_store::db::Dialect::Postgres => "postgres",
        },
        database_ok: t.db().ping().await,
        counters: counters_label(t.counters().health()),
        config_generation: rt.generation,
    })
}

/// The counters' health as a word.
pub fn counters_label(h: CounterHealth) -> &'static str {
    match h {
        CounterHealth::Local => "local",
        CounterHealth::Shared => "shared",
        CounterHealth::Degraded => "degraded",
    }
}
