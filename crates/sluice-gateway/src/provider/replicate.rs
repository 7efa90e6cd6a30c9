//! Replicate upstream: one prediction per chat request, with
//! `Authorization: Bearer <token>`.
//!
//! - Create: `POST {base_url}/models/{owner}/{name}/predictions`,
//!   `POST {base_url}/predictions` (with `version`) or
//!   `POST {base_url}/deployments/{owner}/{name}/predictions`, chosen from
//!   the upstream model name.
//! - Not streamed: the create call carries `Prefer: wait=N` (N = the total
//!   timeout minus a second, at most 60). If the prediction is not finished
//!   when it returns, `urls.get` is polled (250 ms, 500 ms, then every
//!   second) until it succeeds, fails or is canceled; the executor's total
//!   deadline bounds the whole call.
//! - Streamed: created with `"stream": true`, then `GET urls.stream`
//!   (`Accept: text/event-stream`). After the `done` event the finished
//!   prediction is fetched once for its token counts (usage). A model
//!   without a stream URL is polled and its output sent as one chunk.
//! - Abandoned predictions (deadline passed, client gone, stream broken)
//!   are canceled with `POST urls.cancel`. A prediction cannot be canceled
//!   while the create call itself is still waiting: its id is not known yet.
//!
//! Translation is in `sluice_protocol::replicate`; this file does HTTP.

mod calls;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sluice_protocol::openai::chat::ChatChunk;
use sluice_protocol::replicate::convert::{PredictionPlan, from_prediction, to_replicate};
use sluice_protocol::replicate::error::{canceled, from_failed, from_response};
use sluice_protocol::replicate::stream::ReplicateStream;
use sluice_protocol::replicate::wire::Prediction;
use sluice_protocol::sse::SseEvent;
use sluice_protocol::stream::StreamMachine;
use sluice_protocol::translate::unsupported;
use sluice_protocol::{Error, ErrorKind};

use self::calls::{Calls, CancelOnDrop, get_url};
use super::http::{self, MAX_RESPONSE_BYTES};
use super::keys::KeyRing;
use super::translate::{self, completion, now};
use super::{
    ChatCall, ChatOutput, ChatReply, ChunkStream, Completion, EmbedInput, Provider, ProviderKind,
};
use crate::config::ProviderConfig;

/// A provider speaking Replicate's predictions API.
#[derive(Debug)]
pub struct ReplicateProvider {
    name: String,
    client: reqwest::Client,
    base_url: String,
    base: Url,
    keys: KeyRing,
    headers: HeaderMap,
    /// Seconds for `Prefer: wait`.
    wait_secs: u64,
}

impl ReplicateProvider {
    /// Builds the client from its config.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, Error> {
        let base = Url::parse(&cfg.base_url)
            .map_err(|e| Error::internal(format!("invalid Replicate base_url: {e}")))?;
        Ok(Self {
            name: cfg.name.clone(),
            client: http::client(&cfg.timeouts)?,
            base_url: cfg.base_url.clone(),
            base,
            keys: KeyRing::new(cfg.keys.clone()),
            headers: http::static_headers(&cfg.headers)?,
            wait_secs: cfg.timeouts.total.as_secs().saturating_sub(1).clamp(1, 60),
        })
    }

    fn calls(&self) -> Result<Calls, Error> {
        let auth = self
            .keys
            .pick()
            .map(|k| http::sensitive(&format!("Bearer {}", k.expose())))
            .transpose()?;
        Ok(Calls {
            client: self.client.clone(),
            provider: self.name.clone(),
            headers: self.headers.clone(),
            auth,
            base: self.base.clone(),
        })
    }

    async fn create(
        &self,
        calls: &Calls,
        plan: &PredictionPlan,
        wait: bool,
    ) -> Result<Prediction, Error> {
        let body = serde_json::to_vec(&plan.body)
            .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
        let url = format!("{}/{}", self.base_url, plan.target.path());
        let mut rb = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Bytes::from(body));
        if let Some(auth) = &calls.auth {
            rb = rb.header(AUTHORIZATION, auth.clone());
        }
        if wait && let Ok(v) = HeaderValue::from_str(&format!("wait={}", self.wait_secs)) {
            rb = rb.header(HeaderName::from_static("prefer"), v);
        }
        let resp = http::send(rb, &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, from_response).await);
        }
        let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
        translate::parse(&body, &self.name)
    }
}

#[async_trait]
impl Provider for ReplicateProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Replicate
    }

    async fn passthrough_auth(
        &self,
        _req: &super::PassthroughRequest<'_>,
    ) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, Error> {
        self.keys.bearer()
    }

    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        let req = call.input.typed()?;
        let stream = call.input.head().stream;
        let translated = to_replicate(req, call.upstream_model, stream)?;
        let plan = translated.value;
        let calls = self.calls()?;
        let created = self.create(&calls, &plan, !stream).await?;
        let mut guard = CancelOnDrop::new(&calls, &created);
        let stream_url = created.urls.as_ref().and_then(|u| u.stream.clone());
        let reply = match stream_url {
            Some(url) if stream && !created.is_terminal() => {
                let resp = calls.open_stream(&url).await?;
                let machine = ReplicateStream::new(
                    &created.id,
                    now(),
                    created.model.as_deref().unwrap_or(call.upstream_model),
                    plan.max_tokens,
                );
                let get = get_url(&created, &self.base);
                ChatReply::Stream(drive(resp, machine, calls, get, guard))
            }
            _ => {
                let done = calls
                    .wait(created)
                    .await
                    .map_err(|e| e.with_provider(&self.name))?;
                guard.disarm();
                if stream {
                    ChatReply::Stream(whole_as_stream(done, call.upstream_model, plan.max_tokens)?)
                } else {
                    let resp = from_prediction(done, now(), call.upstream_model, plan.max_tokens)
                        .map_err(|e| e.with_provider(&self.name))?;
                    ChatReply::Complete(completion(&resp)?)
                }
            }
        };
        Ok(ChatOutput {
            reply,
            dropped: translated.dropped,
            native: None,
        })
    }

    async fn embeddings(&self, _input: &EmbedInput, _model: &str) -> Result<Completion, Error> {
        Err(unsupported(
            "Replicate",
            "embeddings",
            "Sluice's Replicate adapter serves language models only",
        )
        .with_provider(&self.name))
    }
}

/// A finished prediction as a stream (models without a stream URL).
fn whole_as_stream(
    p: Prediction,
    model: &str,
    max_tokens: Option<u64>,
) -> Result<ChunkStream, Error> {
    match p.status.as_str() {
        "succeeded" => {}
        "failed" => return Err(from_failed(p.error.as_ref())),
        _ => return Err(canceled(&p.id)),
    }
    let mut m = ReplicateStream::new(
        &p.id,
        now(),
        p.model.as_deref().unwrap_or(model),
        max_tokens,
    );
    let text = sluice_protocol::replicate::convert::output_text(p.output.as_ref());
    let mut chunks: Vec<ChatChunk> = Vec::new();
    for (event, data) in [("output", text), ("done", "{}".to_owned())] {
        chunks.extend(m.on_event(SseEvent {
            event: Some(event.to_owned()),
            data: Bytes::from(data),
            id: None,
        })?);
    }
    chunks.extend(m.finish(p.metrics.as_ref()));
    let items: Vec<_> = chunks.iter().map(translate::chunk).collect();
    Ok(futures_util::stream::iter(items).boxed())
}

/// Drives a prediction's event stream. After `done`, fetches the finished
/// prediction for its token counts and emits the finish and usage chunks.
/// Dropping the stream before `done` cancels the prediction.
fn drive(
    resp: reqwest::Response,
    machine: ReplicateStream,
    calls: Calls,
    get: String,
    guard: CancelOnDrop,
) -> ChunkStream {
    struct St<S> {
        events: std::pin::Pin<Box<S>>,
        machine: ReplicateStream,
        calls: Calls,
        get: String,
        guard: CancelOnDrop,
        queue: std::collections::VecDeque<ChatChunk>,
        ended: bool,
    }
    let provider = calls.provider.clone();
    let st = St {
        events: Box::pin(http::sse_events(resp, provider)),
        machine,
        calls,
        get,
        guard,
        queue: std::collections::VecDeque::new(),
        ended: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(c) = st.queue.pop_front() {
                return Some((translate::chunk(&c), st));
            }
            if st.ended {
                return None;
            }
            let step = match st.events.next().await {
                Some(Ok(ev)) => st.machine.on_event(ev).inspect_err(|e| {
                    // An `error` or `done` event: the prediction is over. An
                    // event that does not parse says nothing about it.
                    if e.kind() != ErrorKind::UpstreamProtocol {
                        st.guard.disarm();
                    }
                }),
                Some(Err(e)) => Err(e),
                None => match st.machine.on_end() {
                    Ok(_) => {
                        st.guard.disarm();
                        st.ended = true;
                        let metrics = final_metrics(&st.calls, &st.get).await;
                        Ok(st.machine.finish(metrics.as_ref()))
                    }
                    Err(e) => Err(e),
                },
            };
            match step {
                Ok(chunks) => st.queue.extend(chunks),
                Err(e) => {
                    st.ended = true;
                    let e = e.with_provider(&st.calls.provider);
                    return Some((Err(e), st));
                }
            }
        }
    })
    .boxed()
}

/// The finished prediction's metrics, retried briefly while Replicate
/// still reports it running; `None` when they cannot be had (the gateway
/// then estimates usage).
async fn final_metrics(
    calls: &Calls,
    get: &str,
) -> Option<sluice_protocol::replicate::wire::Metrics> {
    for delay in [0u64, 100, 300] {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        match calls.get(get).await {
            Ok(p) if p.is_terminal() => return p.metrics,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(provider = %calls.provider, error = %e, "no usage for a Replicate stream");
                return None;
            }
        }
    }
    None
}
