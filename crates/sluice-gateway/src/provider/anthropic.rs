//! Anthropic Messages upstream: `POST {base_url}/v1/messages` with
//! `x-api-key` and `anthropic-version`.
//!
//! Translation is in `sluice_protocol::anthropic`; this file only does HTTP.

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
    ChatCall, ChatOutput, ChatReply, Completion, EmbedInput, PassthroughRequest, Provider,
    ProviderKind,
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

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        let req = call.input.typed()?;
        let translated = to_anthropic(req, call.upstream_model, self.default_max_tokens)?;
        let json_mode = matches!(
            req.response_format,
            Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
        );
        let body = serde_json::to_vec(&translated.value)
            .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
        let mut rb = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Bytes::from(body));
        if let Some(key) = self.keys.pick() {
            rb = rb.header(
                HeaderName::from_static("x-api-key"),
                http::sensitive(key.expose())?,
            );
        }
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
