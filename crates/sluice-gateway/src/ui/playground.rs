//! `/ui/playground`: a chat box. The page's script posts the prompt here;
//! this handler sends it through the gateway's own API in process
//! ([`crate::server::app`], every layer included, so it is authenticated,
//! limited and recorded like any request, once) as a streamed chat
//! completion and passes the stream back unchanged.

use askama::Template;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Request, header};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use super::{UiError, UiState, html};

#[derive(Template)]
#[template(path = "ui/playground.html")]
struct Page {
    nav: &'static str,
    models: Vec<String>,
    open: bool,
}

/// `GET /ui/playground`.
pub async fn page(State(ui): State<UiState>) -> Result<Response, UiError> {
    let rt = ui.gw.snapshot();
    let models = rt
        .config
        .models
        .iter()
        .filter(|m| !m.name.contains('*'))
        .map(|m| m.name.clone())
        .collect();
    html(&Page {
        nav: "playground",
        models,
        open: rt.tenancy.is_open(&rt.config.auth),
    })
}

/// What the page sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    model: String,
    prompt: String,
    /// A virtual key, needed once the gateway has keys.
    #[serde(default)]
    key: String,
}

/// `POST /ui/playground`: the gateway's streamed answer (OpenAI SSE).
pub async fn send(State(ui): State<UiState>, Json(ask): Json<Ask>) -> Result<Response, UiError> {
    let body = json!({
        "model": ask.model,
        "messages": [{"role": "user", "content": ask.prompt}],
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let mut req = Request::post("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-sluice-metadata", r#"{"source":"playground"}"#);
    if !ask.key.trim().is_empty() {
        req = req.header(header::AUTHORIZATION, format!("Bearer {}", ask.key.trim()));
    }
    let req = req
        .body(Body::from(body.to_string()))
        .map_err(|e| UiError::bad_request(e.to_string()))?;
    let resp = ui
        .api
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| UiError::internal(e.to_string()))?;
    Ok(resp.into_response())
}
