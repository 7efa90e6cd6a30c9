//! AWS Bedrock upstream: `POST {base_url}/model/{modelId}/converse` and
//! `/converse-stream` (Titan embeddings: `/invoke`), signed with SigV4.
//!
//! The model id is percent-encoded as one path segment (`:` → `%3A`), the
//! form the service canonicalises. Translation is in
//! `sluice_protocol::bedrock`; the event-stream framing in
//! `sluice_protocol::eventstream`; this file only does HTTP.

mod events;
mod sign;

use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use sluice_protocol::bedrock::convert::{from_bedrock, is_json_mode, to_bedrock};
use sluice_protocol::bedrock::embed::{from_titan, to_titan};
use sluice_protocol::bedrock::encode_model_id;
use sluice_protocol::bedrock::stream::BedrockStream;
use sluice_protocol::bedrock::wire::{ConverseResponse, TitanEmbedResponse};
use sluice_protocol::openai::embeddings::EmbeddingsRequest;
use sluice_protocol::{Error, Usage};

use super::http::{self, MAX_RESPONSE_BYTES};
use super::translate::{self, completion, drive, now};
use super::{ChatCall, ChatOutput, ChatReply, Completion, EmbedInput, Provider, ProviderKind};
use crate::config::ProviderConfig;

/// A provider speaking Bedrock Converse.
#[derive(Debug)]
pub struct BedrockProvider {
    name: String,
    client: reqwest::Client,
    base_url: String,
    signer: sign::Signer,
    headers: HeaderMap,
    default_max_tokens: u64,
}

impl BedrockProvider {
    /// Builds the client from its config.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, Error> {
        let aws = cfg.aws.as_ref().ok_or_else(|| {
            Error::internal(format!(
                "provider `{}` of type bedrock has no AWS settings",
                cfg.name
            ))
        })?;
        Ok(Self {
            name: cfg.name.clone(),
            client: http::client(&cfg.timeouts)?,
            base_url: cfg.base_url.clone(),
            signer: sign::Signer::new(aws)?,
            headers: http::static_headers(&cfg.headers)?,
            default_max_tokens: cfg.default_max_tokens,
        })
    }

    /// A signed `POST {base}/model/{model}/{op}` with a JSON body.
    fn post(
        &self,
        model: &str,
        op: &str,
        body: Vec<u8>,
        accept: &str,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let url = format!("{}/model/{}/{op}", self.base_url, encode_model_id(model));
        let signed_headers = [("content-type", "application/json"), ("accept", accept)];
        let auth = self
            .signer
            .sign("POST", &url, &signed_headers, &body, SystemTime::now())?;
        let mut rb = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept);
        for (k, v) in auth {
            rb = rb.header(k, v);
        }
        Ok(rb.body(Bytes::from(body)))
    }
}

/// An OpenAI-style id from Bedrock's request id, else a fresh one.
fn completion_id(headers: &HeaderMap) -> String {
    let rid = headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    format!("chatcmpl-{rid}")
}

#[async_trait]
impl Provider for BedrockProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Bedrock
    }

    /// A fresh SigV4 signature over the forwarded request (a client's own
    /// signature cannot be reused: it covers the gateway's host and path).
    async fn passthrough_auth(
        &self,
        req: &super::PassthroughRequest<'_>,
    ) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, Error> {
        self.signer.sign(
            req.method,
            req.url,
            req.headers,
            req.body,
            SystemTime::now(),
        )
    }

    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        let req = call.input.typed()?;
        let translated = to_bedrock(req, call.upstream_model, self.default_max_tokens)?;
        let json_mode = is_json_mode(req);
        let body = serde_json::to_vec(&translated.value)
            .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
        let stream = call.input.head().stream;
        let (op, accept) = if stream {
            ("converse-stream", events::EVENT_STREAM)
        } else {
            ("converse", "application/json")
        };
        let rb = self.post(call.upstream_model, op, body, accept)?;
        let resp = http::send(rb, &self.name).await?;
        if !resp.status().is_success() {
            return Err(events::error_response(resp, &self.name).await);
        }
        let id = completion_id(resp.headers());
        let reply = if stream {
            let resp = events::expect_event_stream(resp, &self.name).await?;
            let machine = BedrockStream::new(&id, call.upstream_model, now(), json_mode);
            ChatReply::Stream(drive(
                events::messages(resp, self.name.clone()),
                machine,
                self.name.clone(),
            ))
        } else {
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let parsed: ConverseResponse = translate::parse(&body, &self.name)?;
            let out = from_bedrock(parsed, &id, call.upstream_model, now(), json_mode);
            ChatReply::Complete(completion(&out)?)
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
        let translated = to_titan(&req, upstream_model).map_err(|e| e.with_provider(&self.name))?;

        let mut results = Vec::with_capacity(translated.value.len());
        for one in &translated.value {
            let body = serde_json::to_vec(one)
                .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
            let rb = self.post(upstream_model, "invoke", body, "application/json")?;
            let resp = http::send(rb, &self.name).await?;
            if !resp.status().is_success() {
                return Err(events::error_response(resp, &self.name).await);
            }
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            results.push(translate::parse::<TitanEmbedResponse>(&body, &self.name)?);
        }
        let base64 = req.encoding_format.as_deref() == Some("base64");
        let out = from_titan(results, upstream_model, base64);
        let body = serde_json::to_vec(&out)
            .map_err(|e| Error::internal(format!("cannot encode a response: {e}")))?;
        Ok(Completion {
            body: Bytes::from(body),
            usage: Some(Usage {
                prompt_tokens: out.usage.prompt_tokens,
                ..Usage::default()
            }),
            model: Some(out.model),
            dropped: translated.dropped,
        })
    }
}
