//! The OpenAI-compatible surface: `/v1/chat/completions`, `/v1/embeddings`,
//! `/v1/models`, plus `/v1/rerank` (Cohere's rerank shape), on the default
//! route and under every route prefix (where the other surfaces are found
//! through [`super::surfaces::prefixed`]).
//!
//! The handlers here only pick the route; [`super::chat`] and
//! [`super::embeddings`] do the work. Errors are rendered once, in OpenAI's
//! shape ([`errors::respond`]).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, header};
use sluice_protocol::openai::models::ModelList;
use sluice_protocol::{Error, ErrorKind};

use super::chat;
use super::context::RequestCtx;
use super::embeddings::{self as embed, Op};
use super::errors::{self, Dialect};
use crate::config::RouteConfig;

/// `POST /v1/chat/completions` on the default route.
pub async fn chat(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    chat::serve(ctx, &route, req).await
}

/// `POST /v1/embeddings` on the default route.
pub async fn embeddings(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    embed::serve(ctx, &route, req, Op::Embeddings).await
}

/// `POST /v1/rerank` on the default route.
pub async fn rerank(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    embed::serve(ctx, &route, req, Op::Rerank).await
}

/// `GET /v1/models` on the default route.
pub async fn models(Extension(ctx): Extension<RequestCtx>) -> Response {
    let route = ctx.rt.default_route().clone();
    models_on(&ctx, &route)
}

/// Everything else: the API under a route prefix, or a 404.
pub async fn prefixed_or_not_found(
    Extension(mut ctx): Extension<RequestCtx>,
    req: Request<Body>,
) -> Response {
    let req = match super::passthrough::dispatch(ctx.clone(), req).await {
        Ok(resp) => return resp,
        Err(req) => req,
    };
    let path = req.uri().path().to_owned();
    let route = ctx
        .rt
        .route_for_path(&path)
        .map(|(r, rest)| (r.clone(), rest.to_owned()));
    if let Some((route, rest)) = route {
        match (req.method(), rest.as_str()) {
            (&Method::POST, "/v1/chat/completions") => return chat::serve(ctx, &route, req).await,
            (&Method::POST, "/v1/embeddings") => {
                return embed::serve(ctx, &route, req, Op::Embeddings).await;
            }
            (&Method::POST, "/v1/rerank") => {
                return embed::serve(ctx, &route, req, Op::Rerank).await;
            }
            (&Method::GET, "/v1/models") => return models_on(&ctx, &route),
            (_, "/v1/chat/completions" | "/v1/embeddings" | "/v1/rerank" | "/v1/models") => {
                let e = Error::new(
                    ErrorKind::MethodNotAllowed,
                    "Method not allowed for this path.",
                );
                return errors::respond(&e, Dialect::OpenAi, &ctx.record);
            }
            _ => match super::surfaces::prefixed(ctx, &route, &rest, req).await {
                Ok(resp) => return resp,
                Err((c, _)) => ctx = c,
            },
        }
    }
    let e = Error::new(
        ErrorKind::NotFound,
        format!("Unknown path `{path}`. The OpenAI API is served under /v1/."),
    );
    errors::respond(&e, Dialect::OpenAi, &ctx.record)
}

fn models_on(ctx: &RequestCtx, route: &RouteConfig) -> Response {
    ctx.record.update(|r| {
        r.meta.route.clone_from(&route.name);
        r.meta.endpoint = "models".to_owned();
    });
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let listed = ctx.rt.models.listed().iter().filter(|(name, _)| {
        route.pinned_model.as_ref().is_none_or(|p| p == name)
            && route
                .allowed_models
                .as_ref()
                .is_none_or(|a| a.iter().any(|m| crate::routing::pattern_matches(m, name)))
    });
    let list = ModelList::new(listed.map(|(n, p)| (n.as_str(), p.as_str())), created);
    ctx.record.finish_ok();
    let body = serde_json::to_vec(&list).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
