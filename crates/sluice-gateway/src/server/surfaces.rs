//! Entry points of the surfaces beyond chat: Anthropic Messages
//! (`/v1/messages`, `/v1/messages/count_tokens`), the Responses API
//! (`/v1/responses`, `/v1/responses/{id}`) and legacy completions
//! (`/v1/completions`), on the default route ([`app`] mounts them) and under
//! route prefixes ([`prefixed`], called by the fallback).
//!
//! The handlers here only pick the route; [`super::messages`],
//! [`super::responses`] and [`super::completions`] do the work.

use axum::body::Body;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{Method, Request};
use sluice_protocol::{Error, ErrorKind};

use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::responses::Store;
use super::{completions, messages, responses};
use crate::config::RouteConfig;
use crate::provider::NativeApi;
use crate::state::Runtime;

/// The routes of these surfaces on the default route.
pub fn app() -> Router {
    Router::new()
        .route(
            "/v1/messages",
            post(messages).fallback(errors::anthropic_method_not_allowed),
        )
        .route(
            "/v1/messages/count_tokens",
            post(count_tokens).fallback(errors::anthropic_method_not_allowed),
        )
        .route("/v1/completions", post(completions))
        .route("/v1/responses", post(create_response))
        .route(
            "/v1/responses/{id}",
            get(retrieve_response).delete(delete_response),
        )
}

async fn messages(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    messages::serve(ctx, &route, req).await
}

async fn count_tokens(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    messages::serve_count(ctx, &route, req).await
}

async fn completions(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    completions::serve(ctx, &route, req).await
}

async fn create_response(
    Extension(ctx): Extension<RequestCtx>,
    Extension(store): Extension<Store>,
    req: Request<Body>,
) -> Response {
    let route = ctx.rt.default_route().clone();
    responses::serve(ctx, &route, req, store).await
}

async fn retrieve_response(
    Extension(ctx): Extension<RequestCtx>,
    Extension(store): Extension<Store>,
    Path(id): Path<String>,
    req: Request<Body>,
) -> Response {
    let route = ctx.rt.default_route().clone();
    responses::retrieve(ctx, &route, req, &id, store).await
}

async fn delete_response(
    Extension(ctx): Extension<RequestCtx>,
    Extension(store): Extension<Store>,
    Path(id): Path<String>,
    req: Request<Body>,
) -> Response {
    let route = ctx.rt.default_route().clone();
    responses::delete(ctx, &route, req, &id, store).await
}

/// Serves `rest` (the path after a route prefix) if it belongs to one of
/// these surfaces; gives the request back otherwise.
pub async fn prefixed(
    ctx: RequestCtx,
    route: &RouteConfig,
    rest: &str,
    req: Request<Body>,
) -> Result<Response, (RequestCtx, Request<Body>)> {
    let store = req.extensions().get::<Store>().cloned();
    let method = req.method().clone();
    match (&method, rest) {
        (&Method::POST, "/v1/messages") => Ok(messages::serve(ctx, route, req).await),
        (&Method::POST, "/v1/messages/count_tokens") => {
            Ok(messages::serve_count(ctx, route, req).await)
        }
        (_, "/v1/messages" | "/v1/messages/count_tokens") => {
            let e = Error::new(
                ErrorKind::MethodNotAllowed,
                "Method not allowed for this path.",
            );
            Ok(errors::respond(&e, Dialect::Anthropic, &ctx.record))
        }
        (&Method::POST, "/v1/completions") => Ok(completions::serve(ctx, route, req).await),
        (&Method::POST, "/v1/responses") => match store {
            Some(s) => Ok(responses::serve(ctx, route, req, s).await),
            None => Err((ctx, req)),
        },
        (_, "/v1/completions" | "/v1/responses") => {
            let e = Error::new(
                ErrorKind::MethodNotAllowed,
                "Method not allowed for this path.",
            );
            Ok(errors::respond(&e, Dialect::OpenAi, &ctx.record))
        }
        _ => {
            let Some(id) = rest
                .strip_prefix("/v1/responses/")
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map(str::to_owned)
            else {
                return Err((ctx, req));
            };
            let Some(store) = store else {
                return Err((ctx, req));
            };
            Ok(match method {
                Method::GET => responses::retrieve(ctx, route, req, &id, store).await,
                Method::DELETE => responses::delete(ctx, route, req, &id, store).await,
                _ => {
                    let e = Error::new(
                        ErrorKind::MethodNotAllowed,
                        "Method not allowed for this path.",
                    );
                    errors::respond(&e, Dialect::OpenAi, &ctx.record)
                }
            })
        }
    }
}

/// Whether every target `model` can reach speaks `api` natively: its group's
/// targets all do and it has no model fallbacks. Then no chat translation is
/// needed, and the surfaces skip building it (the hot path of, say, Claude
/// clients on an Anthropic-only model).
pub fn all_native(rt: &Runtime, model: &str, api: NativeApi) -> bool {
    rt.models.lookup(model).is_ok_and(|(g, _)| {
        g.policy.fallback_context_window.is_none()
            && g.policy.fallback_content_filter.is_none()
            && g.targets.iter().all(|t| t.provider.speaks(api))
    })
}

/// The chat form a surface skipped because no target needs it
/// ([`all_native`]); never shown to a client.
pub fn not_translated() -> Error {
    Error::internal("the request was not translated: every target speaks the client's API")
}
