//! Cohere v2 upstream: `POST {base_url}/v2/chat`, `/v2/embed` and
//! `/v2/rerank`, with `Authorization: Bearer <key>`.
//!
//! Translation is in `sluice_protocol::cohere`; this file only does HTTP.
//! Runs once per upstream attempt.

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use serde::Serialize;
use sluice_protocol::cohere::convert::{from_cohere, to_cohere};
use sluice_protocol::cohere::embed::{
    EmbedResponse, from_cohere_embed, meta_usage, to_cohere_embed, wants_base64,
};
use sluice_protocol::cohere::error::from_response;
use sluice_protocol::cohere::rerank::{
    RerankResponse, from_cohere_rerank, parse_request, to_cohere_rerank,
};
use sluice_protocol::cohere::stream::CohereStream;
use sluice_protocol::cohere::wire::ChatResponse;
use sluice_protocol::openai::embeddings::EmbeddingsRequest;
use sluice_protocol::{Error, ErrorKind};

use super::http::{self, MAX_RESPONSE_BYTES};
use super::keys::KeyRing;
use super::translate::{self, completion, drive, now};
use super::{
    ChatCall, ChatOutput, ChatReply, Completion, EmbedInput, Provider, ProviderKind, RerankInput,
};
use crate::config::ProviderConfig;

/// A provider speaking Cohere's v2 API.
#[derive(Debug)]
pub struct CohereProvider {
    name: String,
    client: reqwest::Client,
    base_url: String,
    keys: KeyRing,
    headers: HeaderMap,
}

impl CohereProvider {
    /// Builds the client from its config.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, Error> {
        Ok(Self {
            name: cfg.name.clone(),
            client: http::client(&cfg.timeouts)?,
            base_url: cfg.base_url.clone(),
            keys: KeyRing::new(cfg.keys.clone()),
            headers: http::static_headers(&cfg.headers)?,
        })
    }

    /// POSTs `body` as JSON to `{base_url}{path}`; maps a non-2xx answer.
    async fn post(
        &self,
        path: &str,
        body: &impl Serialize,
        accept: &'static str,
    ) -> Result<reqwest::Response, Error> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
        let mut rb = self
            .client
            .post(format!("{}{path}", self.base_url))
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept)
            .body(Bytes::from(body));
        if let Some(key) = self.keys.pick() {
            rb = rb.header(
                AUTHORIZATION,
                http::sensitive(&format!("Bearer {}", key.expose()))?,
            );
        }
        let resp = http::send(rb, &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, from_response).await);
        }
        Ok(resp)
    }

    /// Reads and parses a JSON answer.
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
    ) -> Result<T, Error> {
        let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
        translate::parse(&body, &self.name)
    }

    /// Checks that a streaming request got an event stream. Otherwise the
    /// body is read: Cohere's error if it is one, else a protocol error.
    async fn expect_sse(&self, resp: reqwest::Response) -> Result<reqwest::Response, Error> {
        let is_sse = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        if is_sse {
            return Ok(resp);
        }
        let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
        let is_error = serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|v| v.get("message").is_some_and(serde_json::Value::is_string));
        let err = if is_error {
            from_response(500, &body)
        } else {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!(
                    "upstream `{}` did not answer with an event stream",
                    self.name
                ),
            )
        };
        Err(err.with_provider(&self.name))
    }
}

fn json_body(value: &impl Serialize) -> Result<Bytes, Error> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::internal(format!("cannot encode a response: {e}")))
}

#[async_trait]
impl Provider for CohereProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Cohere
    }

    async fn passthrough_auth(
        &self,
        _req: &super::PassthroughRequest<'_>,
    ) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, Error> {
        self.keys.bearer()
    }

    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        let req = call.input.typed()?;
        let translated = to_cohere(req, call.upstream_model)?;
        let model = call.upstream_model;
        let reply = if call.input.head().stream {
            let resp = self
                .post("/v2/chat", &translated.value, "text/event-stream")
                .await?;
            let resp = self.expect_sse(resp).await?;
            ChatReply::Stream(drive(
                http::sse_events(resp, self.name.clone()),
                CohereStream::new(model, now()),
                self.name.clone(),
            ))
        } else {
            let resp = self
                .post("/v2/chat", &translated.value, "application/json")
                .await?;
            let parsed: ChatResponse = self.json(resp).await?;
            let answer =
                from_cohere(parsed, model, now()).map_err(|e| e.with_provider(&self.name))?;
            ChatReply::Complete(completion(&answer)?)
        };
        Ok(ChatOutput {
            reply,
            dropped: translated.dropped,
            native: None,
        })
    }

    async fn embeddings(
        &self,
        input: &EmbedInput,
        upstream_model: &str,
    ) -> Result<Completion, Error> {
        let req: EmbeddingsRequest = serde_json::from_slice(input.parsed.object.body())
            .map_err(|e| Error::invalid(format!("invalid embeddings request: {e}")))?;
        let base64 = wants_base64(&req)?;
        let translated = to_cohere_embed(&req, upstream_model)?;

        let resp = self
            .post("/v2/embed", &translated.value, "application/json")
            .await?;
        let parsed: EmbedResponse = self.json(resp).await?;
        let usage = meta_usage(parsed.meta.as_ref());
        let answer = from_cohere_embed(parsed, upstream_model, base64)
            .map_err(|e| e.with_provider(&self.name))?;
        Ok(Completion {
            body: json_body(&answer)?,
            usage,
            model: Some(upstream_model.to_owned()),
            dropped: translated.dropped,
        })
    }

    async fn rerank(&self, input: &RerankInput, upstream_model: &str) -> Result<Completion, Error> {
        let req = parse_request(input.parsed.object.body())?;
        let translated = to_cohere_rerank(&req, upstream_model)?;
        let resp = self
            .post("/v2/rerank", &translated, "application/json")
            .await?;
        let parsed: RerankResponse = self.json(resp).await?;
        let usage = parsed.usage();
        let answer = from_cohere_rerank(parsed, &req);
        Ok(Completion {
            body: json_body(&answer)?,
            usage,
            model: Some(upstream_model.to_owned()),
            dropped: Vec::new(),
        })
    }
}
