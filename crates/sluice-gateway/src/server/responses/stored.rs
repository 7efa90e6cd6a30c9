//! The responses Sluice stored: `GET /v1/responses/{id}` returns one,
//! `DELETE /v1/responses/{id}` forgets it. Other ids (OpenAI's own, expired
//! ones) answer 404 in OpenAI's shape.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use serde_json::json;
use sluice_protocol::{Error, ErrorKind};

use super::Store;
use crate::config::RouteConfig;
use crate::server::chat::begin;
use crate::server::context::RequestCtx;
use crate::server::errors::{self, Dialect};

/// `GET /v1/responses/{id}`: a response Sluice stored.
pub async fn retrieve(
    ctx: RequestCtx,
    route: &RouteConfig,
    req: Request<Body>,
    id: &str,
    store: Store,
) -> Response {
    let (parts, _) = req.into_parts();
    if let Err(e) = begin(&ctx, route, "responses", &parts) {
        return errors::respond(&e, Dialect::OpenAi, &ctx.record);
    }
    match store.get(id).await {
        Ok(Some(s)) => {
            ctx.record.finish_ok();
            json_response(Bytes::from(s.response.clone()))
        }
        Ok(None) => errors::respond(&not_found(id), Dialect::OpenAi, &ctx.record),
        Err(e) => errors::respond(
            &Error::new(
                ErrorKind::Overloaded,
                format!("the response store is unavailable: {e}"),
            ),
            Dialect::OpenAi,
            &ctx.record,
        ),
    }
}

/// `DELETE /v1/responses/{id}`: forgets a response Sluice stored.
pub async fn delete(
    ctx: RequestCtx,
    route: &RouteConfig,
    req: Request<Body>,
    id: &str,
    store: Store,
) -> Response {
    let (parts, _) = req.into_parts();
    if let Err(e) = begin(&ctx, route, "responses", &parts) {
        return errors::respond(&e, Dialect::OpenAi, &ctx.record);
    }
    match store.delete(id).await {
        Ok(true) => {
            ctx.record.finish_ok();
            let body = json!({"id": id, "object": "response", "deleted": true});
            json_response(Bytes::from(body.to_string()))
        }
        Ok(false) => errors::respond(&not_found(id), Dialect::OpenAi, &ctx.record),
        Err(e) => errors::respond(
            &Error::new(
                ErrorKind::Overloaded,
                format!("the response store is unavailable: {e}"),
            ),
            Dialect::OpenAi,
            &ctx.record,
        ),
    }
}

fn not_found(id: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "Response with id '{id}' not found. Sluice keeps only the responses it translated \
             for a provider other than OpenAI, for server.responses.retention."
        ),
    )
}

fn json_response(body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
