//! `ANY /__mock/redirect?to=URL`: answers `307 Temporary Redirect` to `URL`,
//! so tests can check that a gateway passes redirects back instead of
//! following them.

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// The redirect answer; 400 without a `to` parameter.
pub async fn redirect(RawQuery(query): RawQuery) -> Response {
    let to = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("to="))
            .map(str::to_owned)
    });
    match to {
        Some(to) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, to)],
            "redirecting",
        )
            .into_response(),
        None => (StatusCode::BAD_REQUEST, "missing `to`").into_response(),
    }
}
