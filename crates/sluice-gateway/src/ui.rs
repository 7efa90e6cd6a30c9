//! The built-in dashboard, served on the admin listener at `/ui`.
//!
//! Runs beside the admin API, from `sluice serve`; never on the request
//! path. Pages are rendered on the server with askama templates
//! (`templates/ui/`), made interactive with htmx, and draw charts with
//! uPlot; Pico styles them. Every asset is vendored and embedded in the
//! binary ([`assets`]).
//!
//! Every page, fragment, stream and data endpoint needs the admin key:
//! the login form sets a session cookie derived from it, or a client sends
//! it as on the admin API ([`auth`]). Handlers call the same functions as
//! the admin API (analytics, keys, routes) and canary edits go through the
//! hot-reload path ([`crate::reload::Reloader::set_weights`]).

mod assets;
mod auth;
mod format;
mod keys;
mod logs;
mod overview;
mod playground;
mod routes;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;

use crate::admin::ApiError;
use crate::config::secret::Secret;
use crate::reload::Reloader;
use crate::state::Gateway;
use crate::tenancy::manage::AdminError;

/// What every dashboard handler shares.
pub struct Ui {
    gw: Arc<Gateway>,
    key: Secret,
    reloader: Arc<Reloader>,
    /// The gateway's own API, for the playground (in process).
    api: Router,
}

type UiState = Arc<Ui>;

/// Every route behind the admin key, as `(method, path)`; `{id}` stands
/// for any id. The access-control test requests each without the key.
pub const GUARDED_ROUTES: &[(&str, &str)] = &[
    ("GET", "/ui"),
    ("GET", "/ui/data/series"),
    ("GET", "/ui/logs"),
    ("GET", "/ui/logs/tail"),
    ("GET", "/ui/logs/{id}"),
    ("GET", "/ui/keys"),
    ("POST", "/ui/keys"),
    ("POST", "/ui/keys/{id}"),
    ("POST", "/ui/keys/{id}/revoke"),
    ("POST", "/ui/keys/{id}/rotate"),
    ("GET", "/ui/routes"),
    ("POST", "/ui/routes/weights"),
    ("GET", "/ui/playground"),
    ("POST", "/ui/playground"),
    ("POST", "/ui/logout"),
];

/// The dashboard's routes. `/ui/login` and the static assets are open;
/// everything in [`GUARDED_ROUTES`] needs the admin key.
pub fn router(gw: Arc<Gateway>, key: Secret, reloader: Arc<Reloader>) -> Router {
    let api = crate::server::app(gw.clone());
    let state = Arc::new(Ui {
        gw,
        key,
        reloader,
        api,
    });
    let guarded = Router::new()
        .route("/ui", get(overview::page))
        .route("/ui/data/series", get(overview::series))
        .route("/ui/logs", get(logs::page))
        .route("/ui/logs/tail", get(logs::tail))
        .route("/ui/logs/{id}", get(logs::detail))
        .route("/ui/keys", get(keys::page).post(keys::create))
        .route("/ui/keys/{id}", post(keys::update))
        .route("/ui/keys/{id}/revoke", post(keys::revoke))
        .route("/ui/keys/{id}/rotate", post(keys::rotate))
        .route("/ui/routes", get(routes::page))
        .route("/ui/routes/weights", post(routes::weights))
        .route(
            "/ui/playground",
            get(playground::page).post(playground::send),
        )
        .route("/ui/logout", post(auth::logout))
        .layer(middleware::from_fn_with_state(state.clone(), auth::require));
    Router::new()
        .route("/ui/login", get(auth::login_page).post(auth::login))
        .route("/ui/assets/{file}", get(assets::serve))
        .merge(guarded)
        .with_state(state)
        .layer(middleware::from_fn(assets::security_headers))
}

/// A failure shown to the user as a small HTML message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    status: StatusCode,
    message: String,
}

impl UiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status(),
            message: e.message().to_owned(),
        }
    }
}

impl From<AdminError> for UiError {
    fn from(e: AdminError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        Self::internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorFragment<'a> {
    message: &'a str,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let body = ErrorFragment {
            message: &self.message,
        }
        .render()
        .unwrap_or_else(|_| "error".to_owned());
        (self.status, Html(body)).into_response()
    }
}

/// Renders a template as an HTML answer.
fn html(t: &impl Template) -> Result<Response, UiError> {
    Ok(Html(t.render()?).into_response())
}
