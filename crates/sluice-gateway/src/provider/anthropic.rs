//! Anthropic Messages upstream: `POST {base_url}/v1/messages` with
//! `x-api-key` and `anthropic-version`.
//!
//! Translation is in `sluice_protocol::anthropic`; this file only does HTTP.
//! A request that came in on the gateway's own `/v1/messages` is sent as the
//! client wrote it (only `model` replaced, the client's `anthropic-version`
//! and `anthropic-beta` headers forwarded) and answered with Anthropic's own
//! bytes: unknown fields, thinking signatures and `cache_control` survive.

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sluice_protocol::anthropic::convert::{from_anthropic, to_anthropic};
use sluice_protocol::anthropic::error::from_response;
use sluice_protocol::anthropic::stream::AnthropicStream;
use sluice_protocol::anthropic::wire::{API_VERSION, MessagesResponse};
use sluice_protocol::openai::chat::ResponseFormat;
use sluice_protocol::translate::unsupported;
use sluice_protocol::{Error, ErrorKind};

use super::http::{self, MAX_RESPONSE_BYTES};
use super::keys::KeyRing;
use super::translate::{self, completion, drive, now};
use super::{
    ChatCall, ChatOutput, ChatReply, Completion, EmbedInput, NativeApi, NativeBody,
    PassthroughRequest, Provider, ProviderKind, native,
};
use crate::config::ProviderConfig;

/// A provider speaking Anthropic Messages.
#[derive(Debug)]
pub struct AnthropicProvider {
    name: String,
    client: reqwest::Client,
    url: String,
    keys: KeyRing,
    headers: HeaderMap,
    default_max_tokens: u64,
}

impl AnthropicProvider {
    /// Builds the client from its config.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, Error> {
        let mut headers = http::static_headers(&cfg.headers)?;
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        Ok(Self {
            name: cfg.name.clone(),
            client: http::client(&cfg.timeouts)?,
            url: format!("{}/v1/messages", cfg.base_url),
            keys: KeyRing::new(cfg.keys.clone()),
            headers,
            default_max_tokens: cfg.default_max_tokens,
        })
    }
}

impl AnthropicProvider {
    /// A POST of `body` to `url` with the provider's headers, the client's
    /// forwarded ones and the key.
    fn post(
        &self,
        url: &str,
        body: Bytes,
        forwarded: &[(HeaderName, HeaderValue)],
    ) -> Result<reqwest::RequestBuilder, Error> {
        let mut headers = self.headers.clone();
        for (k, v) in forwarded {
            headers.insert(k.clone(), v.clone());
        }
        let mut rb = self
            .client
            .post(url)
            .headers(headers)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = self.keys.pick() {
            rb = rb.header(
                HeaderName::from_static("x-api-key"),
                http::sensitive(key.expose())?,
            );
        }
        Ok(rb)
    }

    /// The client's Messages request, sent as is with `model` replaced.
    async fn native(&self, n: &NativeBody, model: &str) -> Result<ChatOutput, Error> {
        let body = n
            .request
            .upstream_body(model, false)
            .map_or_else(|| n.request.object.body().clone(), Bytes::from);
        let resp = http::send(self.post(&self.url, body, &n.headers)?, &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, from_response).await);
        }
        let reply = if n.request.head.stream {
            let resp = http::expect_event_stream(resp, &self.name, from_response).await?;
            ChatReply::Stream(native::messages_stream(
                http::sse_events(resp, self.name.clone()),
                self.name.clone(),
            ))
        } else {
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let peek: MessagesPeek = translate::parse(&body, &self.name)?;
            ChatReply::Complete(Completion {
                usage: peek.usage.map(sluice_protocol::Usage::from),
                model: peek.model,
                body,
                dropped: Vec::new(),
            })
        };
        Ok(ChatOutput {
            reply,
            dropped: Vec::new(),
            native: Some(NativeApi::AnthropicMessages),
        })
    }
}

/// What the gateway reads from a passed-through Messages response.
#[derive(serde::Deserialize)]
struct MessagesPeek {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<sluice_protocol::anthropic::wire::Usage>,
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn speaks(&self, api: NativeApi) -> bool {
        api == NativeApi::AnthropicMessages
    }

    async fn count_tokens(
        &self,
        request: &NativeBody,
        upstream_model: &str,
    ) -> Option<Result<Completion, Error>> {
        let body = request
            .request
            .upstream_body(upstream_model, false)
            .map_or_else(|| request.request.object.body().clone(), Bytes::from);
        let url = format!("{}/count_tokens", self.url);
        let run = async {
            let resp = http::send(self.post(&url, body, &request.headers)?, &self.name).await?;
            if !resp.status().is_success() {
                return Err(http::error_response(resp, &self.name, from_response).await);
            }
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            Ok(Completion {
                body,
                usage: None,
                model: None,
                dropped: Vec::new(),
            })
        };
        Some(run.await)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        if let Some(n) = call.input.native_body()
            && n.api == NativeApi::AnthropicMessages
        {
            return self.native(n, call.upstream_model).await;
        }
        let req = call.input.typed()?;
        let translated = to_anthropic(req, call.upstream_model, self.default_max_tokens)?;
        let json_mode = matches!(
            req.response_format,
            Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
        );
        let body = serde_json::to_vec(&translated.value)
            .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
        let rb = self.post(&self.url, Bytes::from(body), &[])?;
        let resp = http::send(rb, &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, from_response).await);
        }
        let reply = if call.input.head().stream {
            let resp = http::expect_event_stream(resp, &self.name, from_response).await?;
            let machine = AnthropicStream::new(now(), json_mode);
            ChatReply::Stream(drive(
                http::sse_events(resp, self.name.clone()),
                machine,
                self.name.clone(),
            ))
        } else {
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let parsed: MessagesResponse = translate::parse(&body, &self.name)?;
            ChatReply::Complete(completion(&from_anthropic(parsed, now(), json_mode))?)
        };
        Ok(ChatOutput {
            reply,
            dropped: translated.dropped,
            native: None,
        })
    }

    async fn probe(&self) -> Option<Result<(), Error>> {
        let url = self.url.replace("/v1/messages", "/v1/models");
        let mut rb = self.client.get(url).headers(self.headers.clone());
        if let Some(key) = self.keys.pick()
            && let Ok(v) = http::sensitive(key.expose())
        {
            rb = rb.header(HeaderName::from_static("x-api-key"), v);
        }
        Some(match http::send(rb, &self.name).await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(http::error_response(r, &self.name, from_response).await),
            Err(e) => Err(e),
        })
    }

    async fn passthrough_auth(
        &self,
        _req: &PassthroughRequest<'_>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        match self.keys.pick() {
            Some(key) => Ok(vec![(
                HeaderName::from_static("x-api-key"),
                http::sensitive(key.expose())?,
            )]),
            None => Ok(Vec::new()),
        }
    }

    async fn embeddings(&self, _input: &EmbedInput, _model: &str) -> Result<Completion, Error> {
        Err(
            unsupported("Anthropic", "embeddings", "Anthropic has no embeddings API")
                .with_kind(ErrorKind::UnsupportedParam)
                .with_provider(&self.name),
        )
    }
}
