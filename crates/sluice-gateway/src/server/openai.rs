//! The OpenAI-compatible surface: `/v1/chat/completions`, `/v1/embeddings`,
//! `/v1/models`, plus `/v1/rerank` (in Cohere's rerank shape, which the
//! OpenAI API lacks), on the default route and under every route prefix.
//!
//! Each handler reads the body under the size limit, parses only what
//! routing needs, applies the route's model policy, resolves the targets and
//! hands the request to the executor. Errors are rendered once, in OpenAI's
//! shape ([`errors::respond`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, StatusCode, header};
use sluice_protocol::openai::models::ModelList;
use sluice_protocol::openai::request::{parse_chat, parse_embeddings, parse_rerank};
use sluice_protocol::{Error, ErrorKind};

use super::body;
use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::sse;
use crate::config::RouteConfig;
use crate::exec::{self, Answer};
use crate::provider::{ChatInput, ChatReply, EmbedInput, RerankInput};
use crate::record::ms;
use crate::routing::apply_route_policy;
use crate::tokens;

/// `POST /v1/chat/completions` on the default route.
pub async fn chat(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    chat_on(ctx, &route, req.into_body()).await
}

/// `POST /v1/embeddings` on the default route.
pub async fn embeddings(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    embeddings_on(ctx, &route, req.into_body()).await
}

/// `POST /v1/rerank` on the default route.
pub async fn rerank(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    let route = ctx.rt.default_route().clone();
    rerank_on(ctx, &route, req.into_body()).await
}

/// `GET /v1/models` on the default route.
pub async fn models(Extension(ctx): Extension<RequestCtx>) -> Response {
    let route = ctx.rt.default_route().clone();
    models_on(&ctx, &route)
}

/// Everything else: the API under a route prefix, or a 404.
pub async fn prefixed_or_not_found(
    Extension(ctx): Extension<RequestCtx>,
    req: Request<Body>,
) -> Response {
    let path = req.uri().path().to_owned();
    let route = ctx
        .rt
        .route_for_path(&path)
        .map(|(r, rest)| (r.clone(), rest.to_owned()));
    if let Some((route, rest)) = route {
        match (req.method(), rest.as_str()) {
            (&Method::POST, "/v1/chat/completions") => {
                return chat_on(ctx, &route, req.into_body()).await;
            }
            (&Method::POST, "/v1/embeddings") => {
                return embeddings_on(ctx, &route, req.into_body()).await;
            }
            (&Method::POST, "/v1/rerank") => {
                return rerank_on(ctx, &route, req.into_body()).await;
            }
            (&Method::GET, "/v1/models") => return models_on(&ctx, &route),
            (_, "/v1/chat/completions" | "/v1/embeddings" | "/v1/rerank" | "/v1/models") => {
                let e = Error::new(
                    ErrorKind::MethodNotAllowed,
                    "Method not allowed for this path.",
                );
                return errors::respond(&e, Dialect::OpenAi, &ctx.record);
            }
            _ => {}
        }
    }
    let e = Error::new(
        ErrorKind::NotFound,
        format!("Unknown path `{path}`. The OpenAI API is served under /v1/."),
    );
    errors::respond(&e, Dialect::OpenAi, &ctx.record)
}

async fn chat_on(ctx: RequestCtx, route: &RouteConfig, body: Body) -> Response {
    match chat_inner(&ctx, route, body).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

async fn chat_inner(ctx: &RequestCtx, route: &RouteConfig, body: Body) -> Result<Response, Error> {
    let record = &ctx.record;
    record.update(|r| {
        r.meta.route.clone_from(&route.name);
        r.meta.endpoint = "chat".to_owned();
    });
    let bytes = body::read(body, ctx.rt.config.server.max_body_bytes).await?;
    let parsed = parse_chat(bytes)?;
    let head = parsed.head.clone();
    record.update(|r| {
        r.meta.request_model = Some(head.model.clone());
        r.stream = head.stream;
    });
    let model = apply_route_policy(route, &head.model)?;
    if model != head.model {
        record.update(|r| r.meta.request_model = Some(model.to_owned()));
    }
    let targets = ctx.rt.models.resolve(model)?;
    let input = Arc::new(ChatInput::new(parsed));
    let answer = exec::chat(&input, &targets, record).await?;
    let overhead = record.elapsed().saturating_sub(answer.upstream_time);
    note_answer(ctx, &answer, overhead);
    let dropped = answer.value.dropped.join(",");
    if !dropped.is_empty() {
        record.update(|r| r.dropped_params.clone_from(&answer.value.dropped));
    }
    let mut resp = match answer.value.reply {
        ChatReply::Complete(c) => {
            let usage = c.usage.unwrap_or_else(|| {
                tokens::estimated(tokens::prompt_of(&input), tokens::completion_body(&c.body))
            });
            record.update(|r| {
                r.usage = Some(usage);
                r.meta.response_model = c.model.clone();
            });
            record.finish_ok();
            json_response(
                c.body,
                answer.provider.name(),
                &answer.upstream_model,
                overhead,
            )
        }
        ChatReply::Stream(stream) => {
            let body = sse::openai_body(stream, head.include_usage, record.clone(), input.clone());
            let mut resp = Response::new(body);
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            add_upstream_headers(
                &mut resp,
                answer.provider.name(),
                &answer.upstream_model,
                overhead,
            );
            resp
        }
    };
    if !dropped.is_empty()
        && let Ok(v) = HeaderValue::from_str(&dropped)
    {
        resp.headers_mut().insert("x-sluice-dropped-params", v);
    }
    Ok(resp)
}

async fn embeddings_on(ctx: RequestCtx, route: &RouteConfig, body: Body) -> Response {
    match embeddings_inner(&ctx, route, body).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

async fn embeddings_inner(
    ctx: &RequestCtx,
    route: &RouteConfig,
    body: Body,
) -> Result<Response, Error> {
    let record = &ctx.record;
    record.update(|r| {
        r.meta.route.clone_from(&route.name);
        r.meta.endpoint = "embeddings".to_owned();
    });
    let bytes = body::read(body, ctx.rt.config.server.max_body_bytes).await?;
    let parsed = parse_embeddings(bytes)?;
    record.update(|r| r.meta.request_model = Some(parsed.head.model.clone()));
    let model = apply_route_policy(route, &parsed.head.model)?.to_owned();
    let targets = ctx.rt.models.resolve(&model)?;
    let input = EmbedInput { parsed };
    let answer = exec::embeddings(&input, &targets, record).await?;
    let overhead = record.elapsed().saturating_sub(answer.upstream_time);
    note_answer(ctx, &answer, overhead);
    let c = &answer.value;
    record.update(|r| {
        r.usage = c.usage;
        r.meta.response_model = c.model.clone();
    });
    record.finish_ok();
    Ok(json_response(
        c.body.clone(),
        answer.provider.name(),
        &answer.upstream_model,
        overhead,
    ))
}

async fn rerank_on(ctx: RequestCtx, route: &RouteConfig, body: Body) -> Response {
    match rerank_inner(&ctx, route, body).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

/// Rerank usage is recorded as the provider reports it; for Cohere, billed
/// search units count as prompt tokens.
async fn rerank_inner(
    ctx: &RequestCtx,
    route: &RouteConfig,
    body: Body,
) -> Result<Response, Error> {
    let record = &ctx.record;
    record.update(|r| {
        r.meta.route.clone_from(&route.name);
        r.meta.endpoint = "rerank".to_owned();
    });
    let bytes = body::read(body, ctx.rt.config.server.max_body_bytes).await?;
    let parsed = parse_rerank(bytes)?;
    record.update(|r| r.meta.request_model = Some(parsed.head.model.clone()));
    let model = apply_route_policy(route, &parsed.head.model)?.to_owned();
    let targets = ctx.rt.models.resolve(&model)?;
    let input = RerankInput { parsed };
    let answer = exec::rerank(&input, &targets, record).await?;
    let overhead = record.elapsed().saturating_sub(answer.upstream_time);
    note_answer(ctx, &answer, overhead);
    let c = &answer.value;
    record.update(|r| {
        r.usage = c.usage;
        r.meta.response_model = c.model.clone();
    });
    record.finish_ok();
    Ok(json_response(
        c.body.clone(),
        answer.provider.name(),
        &answer.upstream_model,
        overhead,
    ))
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

fn note_answer<T>(ctx: &RequestCtx, answer: &Answer<T>, overhead: Duration) {
    ctx.record.update(|r| {
        r.meta.provider_name = Some(answer.provider.name().to_owned());
        r.meta.upstream_model = Some(answer.upstream_model.clone());
        r.gateway_ms = Some(ms(overhead));
    });
}

fn json_response(body: bytes::Bytes, provider: &str, model: &str, overhead: Duration) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_upstream_headers(&mut resp, provider, model, overhead);
    resp
}

/// `x-sluice-provider`, `x-sluice-model` and `x-sluice-overhead-ms`.
fn add_upstream_headers(resp: &mut Response, provider: &str, model: &str, overhead: Duration) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(provider) {
        h.insert("x-sluice-provider", v);
    }
    if let Ok(v) = HeaderValue::from_str(model) {
        h.insert("x-sluice-model", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", ms(overhead))) {
        h.insert("x-sluice-overhead-ms", v);
    }
}
