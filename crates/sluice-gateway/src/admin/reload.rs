//! `POST /v1/reload` (re-read the config file now) and `GET /v1/reload`
//! (the last reload's result), the admin API's reload trigger.
//!
//! A reload from here takes the same path as one from a file change or
//! SIGHUP ([`crate::reload::Reloader::reload`]): the whole file is validated
//! before the atomic swap, and a bad file leaves the old config serving.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::StatusCode;

use super::{ApiError, ErrorBody};
use crate::reload::ReloadStatus;
use crate::state::Gateway;

/// Re-reads the config file and swaps it in if it is valid.
///
/// Answers the reload's result: 200 when the new config serves, 422 with
/// the validation error when it was refused (the old config keeps serving),
/// 409 when the gateway was started without a config file.
#[utoipa::path(post, path = "/v1/reload", operation_id = "reloadConfig", tag = "gateway",
    responses((status = 200, body = ReloadStatus), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn reload(State(gw): State<Arc<Gateway>>) -> Result<Json<ReloadStatus>, ApiError> {
    let reloader = gw.reloader().ok_or_else(no_file)?;
    match reloader.reload("admin").await {
        Ok(_) => reloader.last().map(Json).ok_or_else(no_file),
        Err(e) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
            format!("The new config was refused; the previous one keeps serving. {e}"),
        )),
    }
}

/// The last reload's result (`null` before any reload).
#[utoipa::path(get, path = "/v1/reload", operation_id = "getReload", tag = "gateway",
    responses((status = 200, body = Option<ReloadStatus>)))]
pub async fn last(State(gw): State<Arc<Gateway>>) -> Json<Option<ReloadStatus>> {
    Json(gw.reloader().and_then(|r| r.last()))
}

fn no_file() -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        "conflict",
        "This gateway was started without a config file (--config), so there is nothing to reload."
            .into(),
    )
}
