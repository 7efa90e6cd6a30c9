//! `/openapi.json` and `/docs`: the admin API's OpenAPI document and
//! interactive docs (Swagger UI, vendored in `assets/vendor/swagger-ui`,
//! embedded in the binary).

use std::sync::Arc;

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};
use utoipa::openapi::OpenApi;

const BUNDLE: &[u8] = include_bytes!("../../assets/vendor/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/vendor/swagger-ui/swagger-ui.css");

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice admin API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", persistAuthorization: true });
</script>
</body>
</html>
"##;

/// An embedded file with its type, cacheable for `max_age` (a
/// `Cache-Control` value such as `public, max-age=86400`).
pub(crate) fn asset(
    body: &'static [u8],
    content_type: &'static str,
    max_age: &'static str,
) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    resp
}

/// The routes serving the document and the docs.
pub fn router(spec: OpenApi) -> Router {
    let json: Arc<str> = spec.to_pretty_json().unwrap_or_default().into();
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let json = json.clone();
                async move {
                    let mut resp = json.to_string().into_response();
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    resp
                }
            }),
        )
        .route("/docs", get(|| async { Html(PAGE) }))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async { asset(BUNDLE, "text/javascript", "public, max-age=86400") }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async { asset(CSS, "text/css", "public, max-age=86400") }),
        )
}
