//! The admin API: keys, consumers, teams, usage and routes, on a separate
//! listener (default `127.0.0.1:8081`), behind the admin key.
//!
//! Runs beside the API listener, from `sluice serve`. Every `/v1/*` call
//! needs `Authorization: Bearer <admin key>` (or `x-sluice-admin-key`); the
//! key comes from `admin.key` in the config or is generated once into
//! `<data_dir>/admin.key` ([`key::resolve`]). The OpenAPI document is served
//! at `/openapi.json` and interactive docs at `/docs` (vendored Swagger UI),
//! both without the key: they describe the API, they do not use it.
//!
//! Errors are `{"error": {"type", "message"}}` with 400, 401, 404, 409,
//! 422 (a refused config reload) or 503. Every mutating call takes effect on this instance at once and on
//! other instances within `auth.cache_ttl`.

mod analytics;
mod csv;
mod docs;
pub mod key;
mod keys;
mod people;
mod reload;
mod status;

pub use status::counters_label;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Request;
use axum::extract::rejection::JsonRejection;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::openapi::RefOr;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::secret::Secret;
use crate::state::Gateway;
use crate::tenancy::manage::AdminError;

/// The header the admin key may come in (besides `Authorization: Bearer`).
pub const ADMIN_KEY_HEADER: &str = "x-sluice-admin-key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sluice admin API",
        description = "Manage virtual keys, consumers and teams; read usage, budgets and routes.",
    ),
    modifiers(&BearerAuth),
    security(("admin_key" = [])),
    tags(
        (name = "keys", description = "Virtual API keys"),
        (name = "consumers", description = "Who keys belong to"),
        (name = "teams", description = "Groups of consumers"),
        (name = "usage", description = "Spend, budgets and totals"),
        (name = "gateway", description = "Routes and status"),
        (name = "analytics", description = "Totals, time series and the request log"),
    )
)]
struct AdminDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // Every operation can fail these two ways; say so once, here.
        let shared = [
            ("401", "Missing or wrong admin key"),
            ("503", "The store is unavailable"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                for (status, description) in shared {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let schema = RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"));
    RefOr::T(
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::Content::new(Some(schema)),
            )
            .build(),
    )
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `unauthorized`, `not_found`, `conflict`,
    /// `invalid_config` or `unavailable`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
}

/// An admin API failure, rendered as [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError(StatusCode, &'static str, String);

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        let (status, kind) = match &e {
            AdminError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AdminError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        Self(status, kind, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.1,
                message: self.2,
            },
        };
        (self.0, Json(body)).into_response()
    }
}

/// The admin application and its OpenAPI document.
pub fn app(gw: Arc<Gateway>, admin_key: Secret) -> Router {
    let (api, spec) = OpenApiRouter::with_openapi(AdminDoc::openapi())
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::get, keys::update, keys::revoke))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::usage))
        .routes(routes!(people::list_consumers, people::create_consumer))
        .routes(routes!(
            people::get_consumer,
            people::update_consumer,
            people::delete_consumer
        ))
        .routes(routes!(people::list_teams, people::create_team))
        .routes(routes!(
            people::get_team,
            people::update_team,
            people::delete_team
        ))
        .routes(routes!(status::usage))
        .routes(routes!(status::routes))
        .routes(routes!(status::status))
        .routes(routes!(reload::reload, reload::last))
        .routes(routes!(analytics::summary))
        .routes(routes!(analytics::timeseries))
        .routes(routes!(analytics::logs))
        .routes(routes!(analytics::export))
        .routes(routes!(analytics::log))
        .with_state(gw)
        .split_for_parts();
    let guarded = api.layer(middleware::from_fn(move |req: Request, next: Next| {
        let key = admin_key.clone();
        async move { check_key(&key, req, next).await }
    }));
    docs::router(spec).merge(guarded)
}

async fn check_key(key: &Secret, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(ADMIN_KEY_HEADER)
        .or_else(|| req.headers().get(http::header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim());
    let ok = presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(key.expose().as_bytes())));
    if ok {
        next.run(req).await
    } else {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The admin API needs the admin key: `Authorization: Bearer <admin key>`.".into(),
        )
        .into_response()
    }
}
