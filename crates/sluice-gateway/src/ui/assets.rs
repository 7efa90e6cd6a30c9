//! The dashboard's static files, embedded in the binary: vendored htmx,
//! uPlot and Pico (`assets/vendor/`, see its README for versions and
//! licences) and the hand-written `assets/ui/app.js` and `app.css`.
//! Served without the admin key: they hold no data.
//!
//! Also sets the security headers of every `/ui` answer.

use axum::extract::{Path, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::admin::docs::asset;

/// `(name, bytes, content type)` of every file.
const FILES: &[(&str, &[u8], &str)] = &[
    (
        "htmx.min.js",
        include_bytes!("../../assets/vendor/htmx/htmx.min.js"),
        "text/javascript",
    ),
    (
        "uPlot.iife.min.js",
        include_bytes!("../../assets/vendor/uplot/uPlot.iife.min.js"),
        "text/javascript",
    ),
    (
        "uPlot.min.css",
        include_bytes!("../../assets/vendor/uplot/uPlot.min.css"),
        "text/css",
    ),
    (
        "pico.min.css",
        include_bytes!("../../assets/vendor/pico/pico.min.css"),
        "text/css",
    ),
    (
        "app.js",
        include_bytes!("../../assets/ui/app.js"),
        "text/javascript",
    ),
    (
        "app.css",
        include_bytes!("../../assets/ui/app.css"),
        "text/css",
    ),
];

/// `GET /ui/assets/{file}`. Cached briefly: the names carry no version.
pub async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, body, content_type)) => asset(body, content_type, "public, max-age=300"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Scripts only from the dashboard itself, no framing, no sniffing, and
/// no caching of pages that hold data.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/ui/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
