//! `/v1/keys`: create (or import), list, read, update, revoke and rotate
//! virtual keys, and read one key's usage.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use http::StatusCode;
use sluice_store::KeyRecord;

use super::{ApiError, ErrorBody};
use crate::state::Gateway;
use crate::tenancy::manage::{IssuedKey, KeyPatch, NewKey, Rotate};
use crate::tenancy::usage::KeyUsage;

/// Lists every key (revoked ones included), newest first.
#[utoipa::path(get, path = "/v1/keys", operation_id = "listKeys", tag = "keys",
    responses((status = 200, body = Vec<KeyRecord>), (status = 401, body = ErrorBody)))]
pub async fn list(State(gw): State<Arc<Gateway>>) -> Result<Json<Vec<KeyRecord>>, ApiError> {
    let keys = gw
        .tenancy()
        .keys()
        .keys()
        .await
        .map_err(crate::tenancy::manage::AdminError::from)?;
    Ok(Json(keys))
}

/// Creates a key, or imports one with `key`. The key is in the answer and
/// never shown again.
#[utoipa::path(post, path = "/v1/keys", operation_id = "createKey", tag = "keys", request_body = NewKey,
    responses(
        (status = 201, body = IssuedKey),
        (status = 400, body = ErrorBody),
        (status = 404, description = "The consumer does not exist", body = ErrorBody),
        (status = 409, description = "The imported key exists", body = ErrorBody),
    ))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<NewKey>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let Json(req) = body?;
    Ok((
        StatusCode::CREATED,
        Json(gw.tenancy().create_key(req).await?),
    ))
}

/// One key.
#[utoipa::path(get, path = "/v1/keys/{id}", operation_id = "getKey", tag = "keys",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 200, body = KeyRecord), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<KeyRecord>, ApiError> {
    Ok(Json(gw.tenancy().key_by_id(&id).await?))
}

/// Changes a key's settings; absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/keys/{id}", operation_id = "updateKey", tag = "keys", request_body = KeyPatch,
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, body = KeyRecord),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Result<Json<KeyPatch>, JsonRejection>,
) -> Result<Json<KeyRecord>, ApiError> {
    let Json(patch) = body?;
    Ok(Json(gw.tenancy().update_key(&id, patch).await?))
}

/// Revokes a key. It stays listed, with `revoked_at` set.
#[utoipa::path(delete, path = "/v1/keys/{id}", operation_id = "revokeKey", tag = "keys",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 200, body = KeyRecord), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<KeyRecord>, ApiError> {
    Ok(Json(gw.tenancy().revoke_key(&id).await?))
}

/// Replaces a key's secret, keeping its id, settings and spend. The old
/// secret works for `grace_secs` more.
#[utoipa::path(post, path = "/v1/keys/{id}/rotate", operation_id = "rotateKey", tag = "keys", request_body(content = Option<Rotate>, description = "Optional; default: no grace period"),
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, body = IssuedKey),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn rotate(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Option<Json<Rotate>>,
) -> Result<Json<IssuedKey>, ApiError> {
    let rotate = body.map(|Json(r)| r).unwrap_or_default();
    Ok(Json(gw.tenancy().rotate_key(&id, rotate).await?))
}

/// A key's spend against every budget that applies to it, and its totals.
#[utoipa::path(get, path = "/v1/keys/{id}/usage", operation_id = "getKeyUsage", tag = "usage",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 200, body = KeyUsage), (status = 404, body = ErrorBody)))]
pub async fn usage(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<KeyUsage>, ApiError> {
    Ok(Json(gw.tenancy().key_usage(&id).await?))
}
