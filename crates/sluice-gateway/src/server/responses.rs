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

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use serde_json::{Value, json};
use sluice_protocol::json::Patch;
use sluice_protocol::openai::chat::{ChatChunk, ChatResponse, Message};
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
use super::events::{self, Frames, NativeFrames, json_frame};
use super::{body, meta, surfaces};
use crate::config::RouteConfig;
use crate::exec::Job;
use crate::pipeline;
use crate::provider::{ChatInput, ChatReply, Chunk, NativeApi, NativeBody};
use crate::routing::apply_route_policy;
use crate::tokens;

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

/// What a response needs to be stored.
struct Keep {
    store: Store,
    conversation: Vec<Message>,
    retention: Duration,
    /// See [`StoredResponse::provider`].
    provider: Option<String>,
}

impl Keep {
    /// Stores the conversation with `assistant` appended, and `response`.
    /// A failure is logged: the answer itself is still good.
    async fn put(mut self, id: &str, assistant: Message, response: &Value) {
        self.conversation.push(assistant);
        let entry = match serde_json::to_string(&self.conversation) {
            Ok(conversation) => StoredResponse {
                conversation,
                response: response.to_string(),
                provider: self.provider,
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode a conversation to store");
                return;
            }
        };
        if let Err(e) = self.store.put(id, entry, self.retention).await {
            tracing::warn!(error = %e, response_id = id, "could not store a response");
        }
    }
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
    let bytes = body::read(body, ctx.rt.config.server.max_body_bytes).await?;
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

#[derive(serde::Deserialize)]
struct EventType<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

/// OpenAI's own events, passed through; with `keep`, the final
/// `response.completed` is held back until the conversation is stored.
struct StoringNative {
    inner: NativeFrames,
    keep: Option<Keep>,
    /// The held `response.completed` event: its frames and the response.
    held: Option<(Vec<Bytes>, Value)>,
}

#[async_trait]
impl Frames for StoringNative {
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error> {
        let frames = self.inner.chunk(chunk)?;
        if self.keep.is_some()
            && serde_json::from_slice::<EventType<'_>>(&chunk.data)
                .is_ok_and(|e| e.kind == "response.completed")
            && let Ok(v) = serde_json::from_slice::<Value>(&chunk.data)
            && let Some(r) = v.get("response")
        {
            self.held = Some((frames, r.clone()));
            return Ok(Vec::new());
        }
        Ok(frames)
    }

    async fn end(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        if let Some((frames, response)) = self.held.take() {
            if let Some(k) = self.keep.take()
                && let Some(id) = response.get("id").and_then(Value::as_str)
            {
                k.put(id, assistant_of(&response), &response).await;
            }
            out = frames;
        }
        out.extend(self.inner.end().await);
        out
    }

    fn error(&mut self, e: &Error) -> Bytes {
        self.inner.error(e)
    }
}

/// Chat chunks translated to Responses events; the conversation is stored
/// before the final event goes out.
struct ResponsesFrames {
    events: ResponsesEvents,
    id: String,
    keep: Option<Keep>,
}

fn named(events: Vec<Value>) -> Vec<Bytes> {
    events
        .iter()
        .map(|ev| json_frame(ev.get("type").and_then(Value::as_str), ev))
        .collect()
}

#[async_trait]
impl Frames for ResponsesFrames {
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error> {
        let c: ChatChunk = serde_json::from_slice(&chunk.data).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("the provider sent a stream chunk that could not be read: {e}"),
            )
        })?;
        Ok(named(self.events.on_chunk(&c)))
    }

    async fn end(&mut self) -> Vec<Bytes> {
        let events = self.events.finish();
        if let Some(k) = self.keep.take()
            && let Some(response) = events.last().and_then(|e| e.get("response"))
        {
            k.put(&self.id, self.events.output().assistant(), response)
                .await;
        }
        named(events)
    }

    fn error(&mut self, e: &Error) -> Bytes {
        let ev = self.events.error(e);
        json_frame(Some("error"), &ev)
    }
}

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
