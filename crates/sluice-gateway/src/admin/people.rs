//! `/v1/consumers` and `/v1/teams`: who keys belong to. Referred to by id
//! or by name in paths.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use http::StatusCode;
use sluice_store::{Consumer, Team};

use super::{ApiError, ErrorBody};
use crate::state::Gateway;
use crate::tenancy::manage::AdminError;
use crate::tenancy::people::{NewConsumer, PartyPatch};

/// Every consumer.
#[utoipa::path(get, path = "/v1/consumers", operation_id = "listConsumers", tag = "consumers",
    responses((status = 200, body = Vec<Consumer>)))]
pub async fn list_consumers(
    State(gw): State<Arc<Gateway>>,
) -> Result<Json<Vec<Consumer>>, ApiError> {
    Ok(Json(
        gw.tenancy()
            .keys()
            .consumers()
            .await
            .map_err(AdminError::from)?,
    ))
}

/// Creates a consumer.
#[utoipa::path(post, path = "/v1/consumers", operation_id = "createConsumer", tag = "consumers", request_body = NewConsumer,
    responses(
        (status = 201, body = Consumer),
        (status = 400, body = ErrorBody),
        (status = 404, description = "The team does not exist", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ))]
pub async fn create_consumer(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<NewConsumer>, JsonRejection>,
) -> Result<(StatusCode, Json<Consumer>), ApiError> {
    let Json(req) = body?;
    Ok((
        StatusCode::CREATED,
        Json(gw.tenancy().create_consumer(req).await?),
    ))
}

/// One consumer, by id or name.
#[utoipa::path(get, path = "/v1/consumers/{id}", operation_id = "getConsumer", tag = "consumers",
    params(("id" = String, Path, description = "Consumer id or name")),
    responses((status = 200, body = Consumer), (status = 404, body = ErrorBody)))]
pub async fn get_consumer(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<Consumer>, ApiError> {
    gw.tenancy()
        .find_consumer(&id)
        .await?
        .map(Json)
        .ok_or_else(|| AdminError::NotFound(format!("consumer `{id}`")).into())
}

/// Changes a consumer; absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/consumers/{id}", operation_id = "updateConsumer", tag = "consumers", request_body = PartyPatch,
    params(("id" = String, Path, description = "Consumer id or name")),
    responses((status = 200, body = Consumer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_consumer(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Result<Json<PartyPatch>, JsonRejection>,
) -> Result<Json<Consumer>, ApiError> {
    let Json(patch) = body?;
    Ok(Json(gw.tenancy().update_consumer(&id, patch).await?))
}

/// Deletes a consumer that has no active keys.
#[utoipa::path(delete, path = "/v1/consumers/{id}", operation_id = "deleteConsumer", tag = "consumers",
    params(("id" = String, Path, description = "Consumer id or name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_consumer(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    gw.tenancy().delete_consumer(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every team.
#[utoipa::path(get, path = "/v1/teams", operation_id = "listTeams", tag = "teams", responses((status = 200, body = Vec<Team>)))]
pub async fn list_teams(State(gw): State<Arc<Gateway>>) -> Result<Json<Vec<Team>>, ApiError> {
    Ok(Json(
        gw.tenancy()
            .keys()
            .teams()
            .await
            .map_err(AdminError::from)?,
    ))
}

/// Creates a team.
#[utoipa::path(post, path = "/v1/teams", operation_id = "createTeam", tag = "teams", request_body = NewConsumer,
    responses((status = 201, body = Team), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_team(
    State(gw): State<Arc<Gateway>>,
    body: Result<Json<NewConsumer>, JsonRejection>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    let Json(req) = body?;
    Ok((
        StatusCode::CREATED,
        Json(gw.tenancy().create_team(req).await?),
    ))
}

/// One team, by id or name.
#[utoipa::path(get, path = "/v1/teams/{id}", operation_id = "getTeam", tag = "teams",
    params(("id" = String, Path, description = "Team id or name")),
    responses((status = 200, body = Team), (status = 404, body = ErrorBody)))]
pub async fn get_team(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<Team>, ApiError> {
    gw.tenancy()
        .find_team(&id)
        .await?
        .map(Json)
        .ok_or_else(|| AdminError::NotFound(format!("team `{id}`")).into())
}

/// Changes a team; absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/teams/{id}", operation_id = "updateTeam", tag = "teams", request_body = PartyPatch,
    params(("id" = String, Path, description = "Team id or name")),
    responses((status = 200, body = Team), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_team(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Result<Json<PartyPatch>, JsonRejection>,
) -> Result<Json<Team>, ApiError> {
    let Json(patch) = body?;
    Ok(Json(gw.tenancy().update_team(&id, patch).await?))
}

/// Deletes a team that has no consumers.
#[utoipa::path(delete, path = "/v1/teams/{id}", operation_id = "deleteTeam", tag = "teams",
    params(("id" = String, Path, description = "Team id or name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_team(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    gw.tenancy().delete_team(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
