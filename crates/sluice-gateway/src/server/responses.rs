//! The OpenAI Responses API: `POST /v1/responses` (streamed and not),
//! `GET /v1/responses/{id}` and `DELETE /v1/responses/{id}`, on the default
//! route and under every route prefix. Errors are rendered in OpenAI's shape.
//!
//! Every request goes through [`pipeline::chat`] with the client's body
//! attached. OpenAI and Azure OpenAI targets receive it unchanged (model
//! patched), `previous_response_id` included, and their answer comes back
//! untouched. For any other target the request is translated to chat and the
//! answer to a Response object or Responses stream events; Sluice then keeps
//! the conversation itself (`ResponseStore`, `server.responses.retention`)
//! so a later `previous_response_id` can continue it, unless the request
//! says `store: false`. What a chat provider cannot honour is refused with a
//! 400 (see `sluice_protocol::openai::responses`).
//!
//! [`stream`] writes the two kinds of streams and stores finished
//! responses; [`stored`] serves `GET` and `DELETE` on stored ones.

mod stored;
mod stream;

pub use stored::{delete, retrieve};

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use serde_json::Value;
use sluice_protocol::json::Patch;
use sluice_protocol::openai::chat::{ChatResponse, Message};
use sluice_protocol::openai::request::ParsedRequest;
use sluice_protocol::openai::responses::events::ResponsesEvents;
use sluice_protocol::openai::responses::history::{assistant_of, expand_input};
use sluice_protocol::openai::responses::reply::Output;
use sluice_protocol::openai::responses::request::prepare;
use sluice_protocol::openai::responses::{Echo, parse_responses};
use sluice_protocol::{Error, ErrorKind};
use sluice_store::{ResponseStore, StoredResponse};

use super::answer::Served;
use super::chat::begin;
use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::events::{self, NativeFrames};
use super::{body, meta, surfaces};
use crate::config::RouteConfig;
use crate::exec::Job;
use crate::pipeline;
use crate::provider::{ChatInput, ChatReply, NativeApi, NativeBody};
use crate::routing::apply_route_policy;
use crate::tokens;
use stream::{Keep, ResponsesFrames, StoringNative};

/// The store Responses handlers use, shared with every request.
pub type Store = Arc<dyn ResponseStore>;

/// Serves one `POST /v1/responses` on `route`.
pub async fn serve(
    ctx: RequestCtx,
    route: &RouteConfig,
    req: Request<Body>,
    store: Store,
) -> Response {
    match run(&ctx, route, req, store).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The stored entry of `previous`, if the request names one.
async fn lookup(
    store: &Store,
    previous: Option<&str>,
) -> Result<Option<Arc<StoredResponse>>, Error> {
    let Some(id) = previous else {
        return Ok(None);
    };
    match store.get(id).await {
        Ok(Some(s)) => Ok(Some(s)),
        Ok(None) => Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "Previous response with id '{id}' not found. Sluice keeps the responses it \
                 translated for server.responses.retention; responses served by OpenAI are \
                 continued by OpenAI itself."
            ),
        )
        .with_param("previous_response_id")),
        Err(e) => Err(Error::new(
            ErrorKind::Overloaded,
            format!("the response store is unavailable: {e}"),
        )),
    }
}

/// The earlier turns of a stored entry.
fn turns(stored: Option<&StoredResponse>) -> Result<Vec<Message>, Error> {
    stored.map_or(Ok(Vec::new()), |s| {
        serde_json::from_str(&s.conversation)
            .map_err(|e| Error::internal(format!("a stored conversation could not be read: {e}")))
    })
}

/// The request for OpenAI when it continues a response only Sluice has:
/// the earlier turns become input items, `previous_response_id` goes.
fn expanded(parsed: &ParsedRequest, history: &[Message]) -> Result<ParsedRequest, Error> {
    let input = expand_input(history, parsed.object.get("input"))?;
    let input = serde_json::to_vec(&input)
        .map_err(|e| Error::internal(format!("cannot encode a request: {e}")))?;
    let body = parsed.object.write(&[
        Patch::Set("input", &input),
        Patch::Remove("previous_response_id"),
    ]);
    parse_responses(Bytes::from(body))
}

async fn run(
    ctx: &RequestCtx,
    route: &RouteConfig,
    req: Request<Body>,
    store: Store,
) -> Result<Response, Error> {
    let record = &ctx.record;
    let (parts, body) = req.into_parts();
    let metadata = begin(ctx, route, "responses", &parts)?;
    let bytes = body::read_for(ctx, body).await?;
    let parsed = parse_responses(bytes)?;
    let head = parsed.head.clone();
    record.update(|r| {
        r.meta.request_model = Some(head.model.clone());
        r.stream = head.stream;
    });
    let model = apply_route_policy(route, &head.model)?;
    if model != head.model {
        record.update(|r| r.meta.request_model = Some(model.to_owned()));
    }
    let previous: Option<String> = parsed
        .object
        .get_as::<Option<String>>("previous_response_id")
        .map_err(|_| {
            Error::invalid("'previous_response_id' must be a string")
                .with_param("previous_response_id")
        })?
        .flatten();
    let user: Option<String> = parsed
        .object
        .get_as::<Option<String>>("user")
        .ok()
        .flatten()
        .flatten();
    let stored = lookup(&store, previous.as_deref()).await;
    let history = match &stored {
        Ok(s) => turns(s.as_deref()),
        Err(e) => Err(e.clone()),
    };
    let prepared = match &history {
        _ if surfaces::all_native(&ctx.rt, model, NativeApi::OpenAiResponses) => {
            Err(surfaces::not_translated())
        }
        Ok(h) => prepare(parsed.object.body(), h.clone()),
        Err(e) => Err(e.clone()),
    };
    // OpenAI does not know a response Sluice translated: it gets the turns.
    let parsed = match (&stored, &history) {
        (Ok(Some(s)), Ok(h)) if s.provider.is_none() => expanded(&parsed, h)?,
        _ => parsed,
    };
    let (canonical, state) = match prepared {
        Ok(p) => (Ok(p.chat), Some((p.echo, p.conversation, p.dropped))),
        Err(e) => (Err(e), None),
    };
    let native = NativeBody {
        api: NativeApi::OpenAiResponses,
        request: parsed,
        headers: Vec::new(),
    };
    let input = Arc::new(ChatInput::native(native, canonical)?);
    // A group with non-OpenAI targets: keep OpenAI's answers too, so a later
    // turn served by another provider can continue them.
    let mixed = ctx.rt.models.lookup(model).is_ok_and(|(g, _)| {
        g.targets
            .iter()
            .any(|t| !t.provider.speaks(NativeApi::OpenAiResponses))
    });
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), user.as_deref()),
        record,
        model,
        prompt_tokens: &|| tokens::prompt_of(&input),
    };
    let answer = pipeline::chat(&job, &input).await?;
    let native = answer.value.native == Some(NativeApi::OpenAiResponses);
    let mut dropped = Vec::new();
    if !native && let Some((_, _, d)) = &state {
        dropped.extend(d.iter().cloned());
        dropped.extend(answer.value.dropped.iter().cloned());
    }
    let served = Served::note(ctx, &answer, &dropped);
    let retention = ctx.rt.config.server.responses.retention;
    let keep = |echo: &Echo, conversation: Vec<Message>, provider: Option<String>| {
        echo.store().then(|| Keep {
            store: store.clone(),
            conversation,
            retention,
            provider,
        })
    };
    let reply = answer.value.reply;
    if native {
        let keep = match state {
            Some((echo, conversation, _)) if mixed => {
                keep(&echo, conversation, Some(answer.provider.name().to_owned()))
            }
            _ => None,
        };
        return Ok(match reply {
            ChatReply::Complete(c) => {
                let usage = c
                    .usage
                    .unwrap_or_else(|| tokens::estimated(tokens::prompt_of(&input), 0));
                record.update(|r| {
                    r.usage = Some(usage);
                    r.meta.response_model = c.model.clone();
                });
                if let Some(k) = keep
                    && let Ok(v) = serde_json::from_slice::<Value>(&c.body)
                    && let Some(id) = v.get("id").and_then(Value::as_str)
                {
                    k.put(id, assistant_of(&v), &v).await;
                }
                record.finish_ok();
                served.json(c.body)
            }
            ChatReply::Stream(s) => served.event_stream(events::body(
                s,
                StoringNative {
                    inner: NativeFrames::new(NativeApi::OpenAiResponses, true),
                    keep,
                    held: None,
                },
                record.clone(),
                input.clone(),
            )),
        });
    }
    // A translated answer: the chat form existed, so `state` is set.
    let (echo, conversation, _) =
        state.ok_or_else(|| Error::internal("a translated response without its request"))?;
    let id = format!("resp_{}", uuid::Uuid::now_v7().simple());
    let keep = keep(&echo, conversation, None);
    let created_at = now();
    Ok(match reply {
        ChatReply::Complete(c) => {
            let resp: ChatResponse = serde_json::from_slice(&c.body).map_err(|e| {
                Error::new(
                    ErrorKind::UpstreamProtocol,
                    format!("the provider's answer could not be read: {e}"),
                )
            })?;
            let out = Output::of(&resp);
            let object = out.response(&id, created_at, &echo);
            if let Some(k) = keep {
                k.put(&id, out.assistant(), &object).await;
            }
            let usage = c.usage.unwrap_or_else(|| {
                tokens::estimated(tokens::prompt_of(&input), tokens::completion_body(&c.body))
            });
            record.update(|r| {
                r.usage = Some(usage);
                r.meta.response_model = c.model.clone();
            });
            record.finish_ok();
            served.json(Bytes::from(serde_json::to_vec(&object).unwrap_or_default()))
        }
        ChatReply::Stream(s) => served.event_stream(events::body(
            s,
            ResponsesFrames {
                events: ResponsesEvents::new(&id, created_at, echo),
                id,
                keep,
            },
            record.clone(),
            input.clone(),
        )),
    })
}
