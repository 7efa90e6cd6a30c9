//! `POST /v1/chat/completions`: read, parse the head, apply the route's
//! policy, execute against the model's targets, answer (JSON or SSE).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::Request;
use http::request::Parts;
use serde_json::{Map, Value};
use sluice_protocol::Error;
use sluice_protocol::openai::request::parse_chat;

use super::answer::Served;
use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::{body, meta, sse};
use crate::config::RouteConfig;
use crate::exec::Job;
use crate::pipeline;
use crate::provider::{ChatInput, ChatReply};
use crate::routing::apply_route_policy;
use crate::tokens;

/// Serves one chat request on `route`.
pub async fn serve(ctx: RequestCtx, route: &RouteConfig, req: Request<Body>) -> Response {
    match run(&ctx, route, req).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

/// Records the route and endpoint and reads the client's metadata.
pub fn begin(
    ctx: &RequestCtx,
    route: &RouteConfig,
    endpoint: &str,
    parts: &Parts,
) -> Result<Option<Map<String, Value>>, Error> {
    ctx.record.update(|r| {
        r.meta.route.clone_from(&route.name);
        r.meta.endpoint = endpoint.to_owned();
    });
    let metadata = meta::metadata(&parts.headers)?;
    if let Some(m) = &metadata {
        ctx.record
            .update(|r| r.metadata = Some(Value::Object(m.clone())));
    }
    Ok(metadata)
}

async fn run(ctx: &RequestCtx, route: &RouteConfig, req: Request<Body>) -> Result<Response, Error> {
    let record = &ctx.record;
    let (parts, body) = req.into_parts();
    let metadata = begin(ctx, route, "chat", &parts)?;
    let bytes = body::read_for(ctx, body).await?;
    let bytes = super::select::apply(route, &parts, bytes)?;
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
    let user: Option<String> = parsed.object.get_as("user").ok().flatten();
    let input = Arc::new(ChatInput::new(parsed));
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), user.as_deref()),
        record,
        model,
        prompt_tokens: &|| tokens::prompt_of(&input),
    };
    let answer = pipeline::chat(&job, &input).await?;
    let served = Served::note(ctx, &answer, &answer.value.dropped);
    Ok(match answer.value.reply {
        ChatReply::Complete(c) => {
            let usage = c.usage.unwrap_or_else(|| {
                tokens::estimated(tokens::prompt_of(&input), tokens::completion_body(&c.body))
            });
            record.update(|r| {
                r.usage = Some(usage);
                r.meta.response_model = c.model.clone();
            });
            record.finish_ok();
            served.json(c.body)
        }
        ChatReply::Stream(stream) => {
            let body = sse::openai_body(stream, head.include_usage, record.clone(), input.clone());
            served.event_stream(body)
        }
    })
}
