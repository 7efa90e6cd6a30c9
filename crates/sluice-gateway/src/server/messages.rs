//! The Anthropic Messages surface: `POST /v1/messages` (streamed and not)
//! and `POST /v1/messages/count_tokens`, on the default route and under
//! every route prefix. Errors are rendered in Anthropic's shape.
//!
//! A request is read and checked as the real API would (`model`,
//! `messages`, `max_tokens`), translated once to the canonical chat form and
//! handed to [`pipeline::chat`] with the client's own body attached, so it
//! gets the same routing, retries, fallbacks, limits and record as chat. An
//! Anthropic target sends the client's body as is and its answer comes back
//! untouched (thinking signatures, `cache_control`, unknown fields
//! included); any other target serves the chat form, and its answer is
//! translated to a Messages response or Messages stream events here.
//!
//! `count_tokens` is passed to the first Anthropic target; when the model is
//! served by another provider the gateway counts with its own tokenizer
//! (`o200k_base`, an estimate) and says so in `x-sluice-token-count`.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request};
use serde_json::{Value, json};
use sluice_protocol::anthropic::ingress::events::{
    MessagesEvents, error_event as anthropic_error, event_name,
};
use sluice_protocol::anthropic::ingress::{parse_messages, reply, to_chat};
use sluice_protocol::openai::chat::{ChatChunk, ChatResponse};
use sluice_protocol::{Error, ErrorKind};

use super::answer::Served;
use super::chat::begin;
use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::events::{self, Frames, NativeFrames, json_frame};
use super::{body, meta, surfaces};
use crate::config::RouteConfig;
use crate::exec::{Counted, Job};
use crate::pipeline;
use crate::provider::{ChatInput, ChatReply, Chunk, NativeApi, NativeBody};
use crate::routing::apply_route_policy;
use crate::tokens;

/// Client headers forwarded to an Anthropic upstream.
const FORWARDED: &[&str] = &["anthropic-version", "anthropic-beta"];

/// Serves one Messages request on `route`.
pub async fn serve(ctx: RequestCtx, route: &RouteConfig, req: Request<Body>) -> Response {
    match run(&ctx, route, req).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::Anthropic, &ctx.record),
    }
}

/// Serves one `count_tokens` request on `route`.
pub async fn serve_count(ctx: RequestCtx, route: &RouteConfig, req: Request<Body>) -> Response {
    match count(&ctx, route, req).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::Anthropic, &ctx.record),
    }
}

/// The client's Anthropic headers worth forwarding.
fn forwarded(parts: &Parts) -> Vec<(HeaderName, HeaderValue)> {
    FORWARDED
        .iter()
        .filter_map(|name| {
            let v = parts.headers.get(*name)?;
            Some((HeaderName::from_static(name), v.clone()))
        })
        .collect()
}

fn user_of(input: &NativeBody) -> Option<String> {
    input
        .request
        .object
        .get_as::<Value>("metadata")
        .ok()
        .flatten()
        .and_then(|m| m.get("user_id").and_then(Value::as_str).map(str::to_owned))
}

async fn run(ctx: &RequestCtx, route: &RouteConfig, req: Request<Body>) -> Result<Response, Error> {
    let record = &ctx.record;
    let (parts, body) = req.into_parts();
    let metadata = begin(ctx, route, "messages", &parts)?;
    let bytes = body::read_for(ctx, body).await?;
    let parsed = parse_messages(bytes)?;
    let head = parsed.head.clone();
    record.update(|r| {
        r.meta.request_model = Some(head.model.clone());
        r.stream = head.stream;
    });
    let model = apply_route_policy(route, &head.model)?;
    if model != head.model {
        record.update(|r| r.meta.request_model = Some(model.to_owned()));
    }
    let (canonical, translation_dropped) =
        if surfaces::all_native(&ctx.rt, model, NativeApi::AnthropicMessages) {
            (Err(surfaces::not_translated()), Vec::new())
        } else {
            match to_chat(parsed.object.body()) {
                Ok(t) => (Ok(t.value), t.dropped),
                Err(e) => (Err(e), Vec::new()),
            }
        };
    let native = NativeBody {
        api: NativeApi::AnthropicMessages,
        request: parsed,
        headers: forwarded(&parts),
    };
    let user = user_of(&native);
    let input = Arc::new(ChatInput::native(native, canonical)?);
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), user.as_deref()),
        record,
        model,
        prompt_tokens: &|| tokens::prompt_of(&input),
    };
    let answer = pipeline::chat(&job, &input).await?;
    let native = answer.value.native == Some(NativeApi::AnthropicMessages);
    let mut dropped = Vec::new();
    if !native {
        dropped.extend(translation_dropped);
        dropped.extend(answer.value.dropped.iter().cloned());
    }
    let served = Served::note(ctx, &answer, &dropped);
    Ok(match (native, answer.value.reply) {
        (true, ChatReply::Complete(c)) => {
            let usage = c
                .usage
                .unwrap_or_else(|| tokens::estimated(tokens::prompt_of(&input), 0));
            record.update(|r| {
                r.usage = Some(usage);
                r.meta.response_model = c.model.clone();
            });
            record.finish_ok();
            served.json(c.body)
        }
        (false, ChatReply::Complete(c)) => {
            let resp: ChatResponse = serde_json::from_slice(&c.body).map_err(|e| {
                Error::new(
                    ErrorKind::UpstreamProtocol,
                    format!("the provider's answer could not be read: {e}"),
                )
            })?;
            let usage = c.usage.unwrap_or_else(|| {
                tokens::estimated(tokens::prompt_of(&input), tokens::completion_body(&c.body))
            });
            record.update(|r| {
                r.usage = Some(usage);
                r.meta.response_model = c.model.clone();
            });
            let body = serde_json::to_vec(&reply::from_chat(resp))
                .map_err(|e| Error::internal(format!("cannot encode a response: {e}")))?;
            record.finish_ok();
            served.json(Bytes::from(body))
        }
        (true, ChatReply::Stream(s)) => served.event_stream(events::body(
            s,
            NativeFrames::new(NativeApi::AnthropicMessages, true),
            record.clone(),
            input.clone(),
        )),
        (false, ChatReply::Stream(s)) => served.event_stream(events::body(
            s,
            MessagesFrames(MessagesEvents::new()),
            record.clone(),
            input.clone(),
        )),
    })
}

/// Chat chunks translated to Messages events.
struct MessagesFrames(MessagesEvents);

#[async_trait]
impl Frames for MessagesFrames {
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error> {
        let c: ChatChunk = serde_json::from_slice(&chunk.data).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("the provider sent a stream chunk that could not be read: {e}"),
            )
        })?;
        Ok(self
            .0
            .on_chunk(&c)
            .iter()
            .map(|ev| json_frame(Some(event_name(ev)), ev))
            .collect())
    }

    async fn end(&mut self) -> Vec<Bytes> {
        self.0
            .finish()
            .iter()
            .map(|ev| json_frame(Some(event_name(ev)), ev))
            .collect()
    }

    fn error(&mut self, e: &Error) -> Bytes {
        json_frame(Some("error"), &anthropic_error(e))
    }
}

async fn count(
    ctx: &RequestCtx,
    route: &RouteConfig,
    req: Request<Body>,
) -> Result<Response, Error> {
    let record = &ctx.record;
    let (parts, body) = req.into_parts();
    let metadata = begin(ctx, route, "count_tokens", &parts)?;
    let bytes = body::read_for(ctx, body).await?;
    let parsed = parse_count(bytes)?;
    let requested = parsed.head.model.clone();
    record.update(|r| r.meta.request_model = Some(requested.clone()));
    let model = apply_route_policy(route, &requested)?;
    if model != requested {
        record.update(|r| r.meta.request_model = Some(model.to_owned()));
    }
    let native = NativeBody {
        api: NativeApi::AnthropicMessages,
        request: parsed,
        headers: forwarded(&parts),
    };
    let size = native.request.object.body().len();
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), None),
        record,
        model,
        prompt_tokens: &|| 0,
    };
    let answer = pipeline::count_tokens(&job, &native).await?;
    let served = Served::note(ctx, &answer, &[]);
    let Counted(counted) = answer.value;
    record.finish_ok();
    Ok(match counted {
        Some(c) => served.json(c.body),
        None => {
            let n = estimate_count(native.request.object.body())
                .unwrap_or_else(|| tokens::from_bytes(size));
            let body = serde_json::to_vec(&json!({"input_tokens": n})).unwrap_or_default();
            let mut resp = served.json(Bytes::from(body));
            resp.headers_mut().insert(
                "x-sluice-token-count",
                HeaderValue::from_static("estimated"),
            );
            resp
        }
    })
}

/// `count_tokens` takes a Messages request without `max_tokens`.
fn parse_count(bytes: Bytes) -> Result<sluice_protocol::openai::request::ParsedRequest, Error> {
    let object = sluice_protocol::json::RawObject::parse(bytes)
        .map_err(|e| sluice_protocol::openai::request::invalid_json(&e))?;
    let model = match object.get_as::<Option<String>>("model") {
        Ok(Some(Some(m))) if !m.is_empty() => m,
        _ => return Err(Error::invalid("model: Field required").with_param("model")),
    };
    if !object.get("messages").is_some_and(|m| m.starts_with('[')) {
        return Err(Error::invalid("messages: Field required").with_param("messages"));
    }
    Ok(sluice_protocol::openai::request::ParsedRequest {
        object,
        head: sluice_protocol::openai::request::RequestHead {
            model,
            stream: false,
            include_usage: false,
        },
    })
}

/// The gateway's own count of a `count_tokens` request's input, through its
/// chat form (which needs a `max_tokens`, absent from these requests).
fn estimate_count(body: &[u8]) -> Option<u64> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    v.as_object_mut()?.insert("max_tokens".to_owned(), json!(1));
    let t = to_chat(&serde_json::to_vec(&v).ok()?).ok()?;
    Some(tokens::chat_prompt(&t.value))
}
