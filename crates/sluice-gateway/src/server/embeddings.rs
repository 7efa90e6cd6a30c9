//! `POST /v1/embeddings`: read, parse the head, apply the route's policy,
//! execute against the model's targets, answer.

use axum::body::Body;
use axum::response::Response;
use http::Request;
use sluice_protocol::Error;
use sluice_protocol::openai::request::parse_embeddings;

use super::answer::Served;
use super::chat::begin;
use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::{body, meta};
use crate::config::RouteConfig;
use crate::exec::{self, Job};
use crate::provider::EmbedInput;
use crate::routing::apply_route_policy;
use crate::tokens;

/// Serves one embeddings request on `route`.
pub async fn serve(ctx: RequestCtx, route: &RouteConfig, req: Request<Body>) -> Response {
    match run(&ctx, route, req).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

async fn run(ctx: &RequestCtx, route: &RouteConfig, req: Request<Body>) -> Result<Response, Error> {
    let record = &ctx.record;
    let (parts, body) = req.into_parts();
    let metadata = begin(ctx, route, "embeddings", &parts)?;
    let bytes = body::read(body, ctx.rt.config.server.max_body_bytes).await?;
    let parsed = parse_embeddings(bytes)?;
    record.update(|r| r.meta.request_model = Some(parsed.head.model.clone()));
    let model = apply_route_policy(route, &parsed.head.model)?.to_owned();
    let input = EmbedInput { parsed };
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), None),
        record,
        model: &model,
        prompt_tokens: &|| tokens::from_bytes(input.parsed.object.body().len()),
    };
    let answer = exec::embeddings(&job, &input).await?;
    let served = Served::note(ctx, &answer, &[]);
    let c = answer.value;
    let usage = c.usage.unwrap_or_else(|| {
        tokens::estimated(tokens::from_bytes(input.parsed.object.body().len()), 0)
    });
    record.update(|r| {
        r.usage = Some(usage);
        r.meta.response_model = c.model.clone();
    });
    record.finish_ok();
    Ok(served.json(c.body))
}
