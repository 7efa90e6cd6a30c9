//! OpenAI's legacy Completions API: `POST /v1/completions` (streamed and
//! not), on the default route and under every route prefix.
//!
//! Through [`pipeline::chat`] like chat, with the client's body attached:
//! OpenAI-wire targets that have a completions endpoint receive it unchanged
//! (model patched, usage asked for on streams) and their answer comes back
//! untouched; for any other target the prompt becomes one user message and
//! the chat answer a `text_completion` (chunks included). Errors are rendered
//! in OpenAI's shape.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use sluice_protocol::openai::chat::{ChatChunk, ChatResponse};
use sluice_protocol::openai::completions::{
    CompletionChunks, from_chat, parse_completions, to_chat,
};
use sluice_protocol::{Error, ErrorKind, sse};

use super::answer::Served;
use super::chat::begin;
use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::events::{self, Frames, NativeFrames, json_frame};
use super::{body, meta, surfaces};
use crate::config::RouteConfig;
use crate::exec::Job;
use crate::pipeline;
use crate::provider::{ChatInput, ChatReply, Chunk, NativeApi, NativeBody};
use crate::routing::apply_route_policy;
use crate::tokens;

/// Serves one completions request on `route`.
pub async fn serve(ctx: RequestCtx, route: &RouteConfig, req: Request<Body>) -> Response {
    match run(&ctx, route, req).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

async fn run(ctx: &RequestCtx, route: &RouteConfig, req: Request<Body>) -> Result<Response, Error> {
    let record = &ctx.record;
    let (parts, body) = req.into_parts();
    let metadata = begin(ctx, route, "completions", &parts)?;
    let bytes = body::read_for(ctx, body).await?;
    let parsed = parse_completions(bytes)?;
    let head = parsed.head.clone();
    record.update(|r| {
        r.meta.request_model = Some(head.model.clone());
        r.stream = head.stream;
    });
    let model = apply_route_policy(route, &head.model)?;
    if model != head.model {
        record.update(|r| r.meta.request_model = Some(model.to_owned()));
    }
    let user: Option<String> = parsed
        .object
        .get_as::<Option<String>>("user")
        .ok()
        .flatten()
        .flatten();
    let (canonical, echo, translation_dropped) =
        if surfaces::all_native(&ctx.rt, model, NativeApi::OpenAiCompletions) {
            (Err(surfaces::not_translated()), None, Vec::new())
        } else {
            match to_chat(parsed.object.body()) {
                Ok(p) => (Ok(p.chat), p.echo, p.dropped),
                Err(e) => (Err(e), None, Vec::new()),
            }
        };
    let native = NativeBody {
        api: NativeApi::OpenAiCompletions,
        request: parsed,
        headers: Vec::new(),
    };
    let input = Arc::new(ChatInput::native(native, canonical)?);
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), user.as_deref()),
        record,
        model,
        prompt_tokens: &|| tokens::prompt_of(&input),
    };
    let answer = pipeline::chat(&job, &input).await?;
    let native = answer.value.native == Some(NativeApi::OpenAiCompletions);
    let mut dropped = Vec::new();
    if !native {
        dropped.extend(translation_dropped);
        dropped.extend(answer.value.dropped.iter().cloned());
    }
    let served = Served::note(ctx, &answer, &dropped);
    Ok(match answer.value.reply {
        ChatReply::Complete(c) => {
            let body = if native {
                c.body.clone()
            } else {
                let resp: ChatResponse = serde_json::from_slice(&c.body).map_err(|e| {
                    Error::new(
                        ErrorKind::UpstreamProtocol,
                        format!("the provider's answer could not be read: {e}"),
                    )
                })?;
                Bytes::from(
                    serde_json::to_vec(&from_chat(&resp, echo.as_deref())).unwrap_or_default(),
                )
            };
            let usage = c.usage.unwrap_or_else(|| {
                tokens::estimated(tokens::prompt_of(&input), tokens::from_bytes(c.body.len()))
            });
            record.update(|r| {
                r.usage = Some(usage);
                r.meta.response_model = c.model.clone();
            });
            record.finish_ok();
            served.json(body)
        }
        ChatReply::Stream(s) if native => served.event_stream(events::body(
            s,
            NativeFrames::new(NativeApi::OpenAiCompletions, head.include_usage),
            record.clone(),
            input.clone(),
        )),
        ChatReply::Stream(s) => served.event_stream(events::body(
            s,
            CompletionFrames {
                chunks: CompletionChunks::new(echo),
                client_usage: head.include_usage,
            },
            record.clone(),
            input.clone(),
        )),
    })
}

/// Chat chunks translated to `text_completion` chunks.
struct CompletionFrames {
    chunks: CompletionChunks,
    client_usage: bool,
}

#[async_trait]
impl Frames for CompletionFrames {
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error> {
        if chunk.usage_only && !self.client_usage {
            return Ok(Vec::new());
        }
        let c: ChatChunk = serde_json::from_slice(&chunk.data).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("the provider sent a stream chunk that could not be read: {e}"),
            )
        })?;
        Ok(self
            .chunks
            .on_chunk(&c)
            .map(|v| json_frame(None, &v))
            .into_iter()
            .collect())
    }

    async fn end(&mut self) -> Vec<Bytes> {
        vec![Bytes::from_static(sse::DONE)]
    }

    fn error(&mut self, e: &Error) -> Bytes {
        json_frame(None, &e.to_openai_json())
    }
}
