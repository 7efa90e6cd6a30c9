//! The OpenAI wire family: OpenAI, Azure OpenAI, DeepSeek, Mistral, Groq,
//! Together, Fireworks, OpenRouter, xAI and local servers (Ollama, vLLM,
//! llama.cpp, LM Studio).
//!
//! No translation happens here: the client's bytes go upstream with at most
//! `model` and `stream_options` patched, and the upstream's bytes come back
//! untouched. Azure differs only in its URL (deployment path and
//! `api-version`) and its `api-key` header.
//!
//! Requests that came in on the legacy Completions API go to
//! `{base_url}/completions` unchanged on the servers that have it; Responses
//! API requests go to `{base_url}/responses` on OpenAI and Azure OpenAI
//! ([`Provider::speaks`]). Chat requests the gateway translated from another
//! API carry `max_tokens`, which OpenAI's reasoning models refuse: for OpenAI
//! and Azure it is sent as `max_completion_tokens`.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use sluice_protocol::json::Patch;
use sluice_protocol::openai::chat::WireUsage;
use sluice_protocol::openai::embeddings::EmbeddingsUsage;
use sluice_protocol::openai::error as wire_error;
use sluice_protocol::openai::stream::{ChunkKind, inspect};
use sluice_protocol::passthrough::ResponsesUsage;
use sluice_protocol::{Error, ErrorKind, Usage};

use super::http::{self, MAX_RESPONSE_BYTES};
use super::keys::KeyRing;
use super::{
    ChatCall, ChatOutput, ChatReply, Chunk, ChunkStream, Completion, EmbedInput, NativeApi,
    NativeBody, PassthroughRequest, Provider, ProviderKind, native,
};
use crate::config::ProviderConfig;

/// How Azure addresses models.
#[derive(Debug)]
enum Azure {
    /// `{base}/openai/deployments/{deployment}/{op}?api-version=...`
    Deployments { api_version: String },
    /// The v1 API: `{base}/openai/v1/{op}`, model in the body.
    V1,
}

/// A provider speaking the OpenAI wire format.
#[derive(Debug)]
pub struct OpenAiProvider {
    name: String,
    kind: ProviderKind,
    client: reqwest::Client,
    base_url: String,
    keys: KeyRing,
    headers: HeaderMap,
    azure: Option<Azure>,
}

impl OpenAiProvider {
    /// Builds the client from its config.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, Error> {
        let headers = http::static_headers(&cfg.headers)?;
        let azure = (cfg.kind == ProviderKind::Azure).then(|| {
            let v = cfg.api_version.clone().unwrap_or_default();
            if v == "v1" || cfg.base_url.ends_with("/openai/v1") {
                Azure::V1
            } else {
                Azure::Deployments { api_version: v }
            }
        });
        let base_url = match azure {
            Some(Azure::V1) if !cfg.base_url.ends_with("/openai/v1") => {
                format!("{}/openai/v1", cfg.base_url)
            }
            _ => cfg.base_url.clone(),
        };
        Ok(Self {
            name: cfg.name.clone(),
            kind: cfg.kind,
            client: http::client(&cfg.timeouts)?,
            base_url,
            keys: KeyRing::new(cfg.keys.clone()),
            headers,
            azure,
        })
    }

    fn url(&self, op: &str, model: &str) -> Result<String, Error> {
        match &self.azure {
            Some(Azure::Deployments { api_version }) => {
                if model.is_empty()
                    || !model
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                {
                    return Err(Error::invalid(format!(
                        "`{model}` is not a valid Azure deployment name"
                    ))
                    .with_param("model"));
                }
                Ok(format!(
                    "{}/openai/deployments/{model}/{op}?api-version={api_version}",
                    self.base_url
                ))
            }
            Some(Azure::V1) | None => Ok(format!("{}/{op}", self.base_url)),
        }
    }

    fn post(&self, url: String, body: Bytes) -> reqwest::RequestBuilder {
        let mut rb = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some((name, value)) = self.credential() {
            rb = rb.header(name, value);
        }
        rb
    }

    /// The next key, as Azure's `api-key` header or a bearer token; `None`
    /// for keyless servers.
    fn credential(&self) -> Option<(HeaderName, HeaderValue)> {
        let key = self.keys.pick()?;
        let (name, value) = match self.azure {
            Some(_) => (HeaderName::from_static("api-key"), key.expose().to_owned()),
            None => (AUTHORIZATION, format!("Bearer {}", key.expose())),
        };
        http::sensitive(&value).ok().map(|v| (name, v))
    }

    /// Whether the upstream accepts `stream_options.include_usage`.
    fn supports_stream_usage(&self) -> bool {
        !matches!(self.kind, ProviderKind::Mistral)
    }

    /// The Responses API URL: the model (or Azure deployment) is in the body.
    fn responses_url(&self) -> String {
        match &self.azure {
            Some(Azure::Deployments { api_version }) => {
                format!(
                    "{}/openai/responses?api-version={api_version}",
                    self.base_url
                )
            }
            Some(Azure::V1) | None => format!("{}/responses", self.base_url),
        }
    }

    /// A request in the client's own API, sent as is (model patched).
    async fn native(&self, n: &NativeBody, model: &str) -> Result<ChatOutput, Error> {
        let stream = n.request.head.stream;
        let (url, want_usage) = match n.api {
            NativeApi::OpenAiCompletions => (
                self.url("completions", model)?,
                self.supports_stream_usage(),
            ),
            _ => (self.responses_url(), false),
        };
        let body = n
            .request
            .upstream_body(model, want_usage)
            .map_or_else(|| n.request.object.body().clone(), Bytes::from);
        let resp = http::send(self.post(url, body), &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, wire_error::from_response).await);
        }
        let reply = if stream {
            let resp =
                http::expect_event_stream(resp, &self.name, wire_error::from_response).await?;
            ChatReply::Stream(match n.api {
                NativeApi::OpenAiCompletions => chunk_stream(resp, self.name.clone()),
                _ => native::responses_stream(
                    http::sse_events(resp, self.name.clone()),
                    self.name.clone(),
                ),
            })
        } else {
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let (usage, model) = match n.api {
                NativeApi::OpenAiCompletions => {
                    let peek: CompletionPeek = self.peek(&body)?;
                    (peek.usage.map(Usage::from), peek.model)
                }
                _ => {
                    let peek: ResponsesPeek = self.peek(&body)?;
                    if let Some(err) = peek.error.filter(|v| !v.is_null()) {
                        let parts = wire_error::parts_from_value(&err);
                        return Err(wire_error::from_parts(500, parts).with_provider(&self.name));
                    }
                    (peek.usage.map(Usage::from), peek.model)
                }
            };
            ChatReply::Complete(Completion {
                usage,
                model,
                body,
                dropped: Vec::new(),
            })
        };
        Ok(ChatOutput {
            reply,
            dropped: Vec::new(),
            native: Some(n.api),
        })
    }

    fn peek<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(body).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("upstream `{}` sent invalid JSON: {e}", self.name),
            )
            .with_provider(&self.name)
        })
    }
}

/// Whether servers of this kind serve the legacy `POST /completions`.
fn has_completions(kind: ProviderKind) -> bool {
    !matches!(
        kind,
        ProviderKind::Groq | ProviderKind::Mistral | ProviderKind::Deepseek
    )
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn speaks(&self, api: NativeApi) -> bool {
        match api {
            NativeApi::OpenAiResponses => {
                matches!(self.kind, ProviderKind::Openai | ProviderKind::Azure)
            }
            NativeApi::OpenAiCompletions => has_completions(self.kind),
            NativeApi::AnthropicMessages => false,
        }
    }

    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        if let Some(n) = call.input.native_body()
            && self.speaks(n.api)
        {
            return self.native(n, call.upstream_model).await;
        }
        let raw = call.input.raw();
        let stream = raw.head.stream;
        // A chat request the gateway translated carries `max_tokens`;
        // OpenAI's reasoning models only take `max_completion_tokens`.
        let rename = call.input.native_body().is_some()
            && matches!(self.kind, ProviderKind::Openai | ProviderKind::Azure);
        let max_tokens = raw.object.get("max_tokens").filter(|_| rename);
        let extra: Vec<Patch<'_>> = match max_tokens {
            Some(v) => vec![
                Patch::Remove("max_tokens"),
                Patch::Set("max_completion_tokens", v.as_bytes()),
            ],
            None => Vec::new(),
        };
        let body = raw
            .upstream_body_with(call.upstream_model, self.supports_stream_usage(), &extra)
            .map_or_else(|| raw.object.body().clone(), Bytes::from);
        let url = self.url("chat/completions", call.upstream_model)?;
        let resp = http::send(self.post(url, body), &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, wire_error::from_response).await);
        }
        if stream {
            let resp =
                http::expect_event_stream(resp, &self.name, wire_error::from_response).await?;
            return Ok(ChatReply::Stream(chunk_stream(resp, self.name.clone())).into());
        }
        let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
        let peek: CompletionPeek = serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("upstream `{}` sent invalid JSON: {e}", self.name),
            )
            .with_provider(&self.name)
        })?;
        if let Some(err) = peek.error.filter(|v| !v.is_null()) {
            let parts = wire_error::parts_from_value(&err);
            return Err(wire_error::from_parts(500, parts).with_provider(&self.name));
        }
        Ok(ChatReply::Complete(Completion {
            usage: peek.usage.map(Usage::from),
            model: peek.model,
            body,
            dropped: Vec::new(),
        })
        .into())
    }

    async fn probe(&self) -> Option<Result<(), Error>> {
        let url = match &self.azure {
            Some(Azure::Deployments { api_version }) => {
                format!("{}/openai/models?api-version={api_version}", self.base_url)
            }
            _ => format!("{}/models", self.base_url),
        };
        let mut rb = self.client.get(url).headers(self.headers.clone());
        if let Some((name, value)) = self.credential() {
            rb = rb.header(name, value);
        }
        Some(match http::send(rb, &self.name).await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(http::error_response(r, &self.name, wire_error::from_response).await),
            Err(e) => Err(e),
        })
    }

    async fn passthrough_auth(
        &self,
        _req: &PassthroughRequest<'_>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        Ok(self.credential().into_iter().collect())
    }

    async fn embeddings(
        &self,
        input: &EmbedInput,
        upstream_model: &str,
    ) -> Result<Completion, Error> {
        let raw = &input.parsed;
        let body = raw
            .upstream_body(upstream_model, false)
            .map_or_else(|| raw.object.body().clone(), Bytes::from);
        let url = self.url("embeddings", upstream_model)?;
        let resp = http::send(self.post(url, body), &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, wire_error::from_response).await);
        }
        let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
        let peek: EmbeddingsPeek = serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("upstream `{}` sent invalid JSON: {e}", self.name),
            )
            .with_provider(&self.name)
        })?;
        Ok(Completion {
            usage: peek.usage.map(|u| Usage {
                prompt_tokens: u.prompt_tokens,
                ..Usage::default()
            }),
            model: peek.model,
            body,
            dropped: Vec::new(),
        })
    }
}

#[derive(Deserialize)]
struct CompletionPeek {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ResponsesPeek {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<ResponsesUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct EmbeddingsPeek {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<EmbeddingsUsage>,
}

/// Turns an OpenAI SSE body into chunks, passing each payload through.
///
/// The stream ends cleanly only at `[DONE]`. Servers that close the
/// connection after a chunk with a `finish_reason` but no `[DONE]` are
/// accepted; any other early close is a [`ErrorKind::StreamInterrupted`].
fn chunk_stream(resp: reqwest::Response, provider: String) -> ChunkStream {
    struct St<S> {
        events: S,
        provider: String,
        finished: bool,
        over: bool,
    }
    let st = St {
        events: Box::pin(http::sse_events(resp, provider.clone())),
        provider,
        finished: false,
        over: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.over {
            return None;
        }
        let item = match st.events.next().await {
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                st.over = true;
                return Some((Err(e.with_provider(&st.provider)), st));
            }
            None if st.finished => return None,
            None => {
                st.over = true;
                let e = Error::new(
                    ErrorKind::StreamInterrupted,
                    format!(
                        "upstream `{}` closed the stream before it finished",
                        st.provider
                    ),
                )
                .with_provider(&st.provider);
                return Some((Err(e), st));
            }
        };
        match inspect(&item.data) {
            Ok(ChunkKind::Done) => None,
            Ok(ChunkKind::Chunk {
                usage,
                usage_only,
                finished,
            }) => {
                st.finished |= finished;
                let chunk = Chunk {
                    data: item.data,
                    usage: usage.map(Usage::from),
                    usage_only,
                };
                Some((Ok(chunk), st))
            }
            Ok(ChunkKind::Error(e)) | Err(e) => {
                st.over = true;
                Some((Err(e.with_provider(&st.provider)), st))
            }
        }
    })
    .boxed()
}
