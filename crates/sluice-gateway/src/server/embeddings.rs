//! The JSON-in, JSON-out endpoints that are not chat: `POST /v1/embeddings`
//! and `POST /v1/rerank` (in Cohere's rerank shape, which the OpenAI API
//! lacks). Read, parse the head, apply the route's policy, execute against
//! the model's targets, answer.

use axum::body::Body;
use axum::response::Response;
use http::Request;
use sluice_protocol::Error;
use sluice_protocol::openai::request::{parse_embeddings, parse_rerank};

use super::answer::Served;
use super::chat::begin;
use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::{body, meta};
use crate::config::RouteConfig;
use crate::exec::Job;
use crate::pipeline;
use crate::provider::{EmbedInput, RerankInput};
use crate::routing::apply_route_policy;
use crate::tokens;

/// Which endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Embeddings,
    /// Usage is what the provider reports; for Cohere, billed search units
    /// count as prompt tokens.
    Rerank,
}

/// Serves one request of `op` on `route`.
pub async fn serve(ctx: RequestCtx, route: &RouteConfig, req: Request<Body>, op: Op) -> Response {
    match run(&ctx, route, req, op).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

async fn run(
    ctx: &RequestCtx,
    route: &RouteConfig,
    req: Request<Body>,
    op: Op,
) -> Result<Response, Error> {
    let record = &ctx.record;
    let (parts, body) = req.into_parts();
    let endpoint = match op {
        Op::Embeddings => "embeddings",
        Op::Rerank => "rerank",
    };
    let metadata = begin(ctx, route, endpoint, &parts)?;
    let bytes = body::read_for(ctx, body).await?;
    let bytes = super::select::apply(route, &parts, bytes)?;
    let parsed = match op {
        Op::Embeddings => parse_embeddings(bytes)?,
        Op::Rerank => parse_rerank(bytes)?,
    };
    record.update(|r| r.meta.request_model = Some(parsed.head.model.clone()));
    let model = apply_route_policy(route, &parsed.head.model)?.to_owned();
    let size = parsed.object.body().len();
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), None),
        record,
        model: &model,
        prompt_tokens: &|| tokens::from_bytes(size),
    };
    let answer = match op {
        Op::Embeddings => pipeline::embeddings(&job, &EmbedInput { parsed }).await?,
        Op::Rerank => pipeline::rerank(&job, &RerankInput { parsed }).await?,
    };
    let served = Served::note(ctx, &answer, &answer.value.dropped);
    let c = answer.value;
    let usage = match (c.usage, op) {
        (Some(u), _) => Some(u),
        (None, Op::Embeddings) => Some(tokens::estimated(tokens::from_bytes(size), 0)),
        (None, Op::Rerank) => None,
    };
    record.update(|r| {
        r.usage = usage;
        r.meta.response_model = c.model.clone();
    });
    record.finish_ok();
    Ok(served.json(c.body))
}
