//! Gemini upstreams, on two hosts:
//! - AI Studio (`type: gemini`): `POST {base_url}/v1beta/models/{model}:generateContent`
//!   (`:streamGenerateContent?alt=sse` to stream, `:batchEmbedContents` for
//!   embeddings), API key in `x-goog-api-key`;
//! - Vertex AI (`type: vertex`): `POST {base_url}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
//!   (and `:streamGenerateContent?alt=sse`, `:predict` for embeddings), with a
//!   bearer token from a service account ([`auth`]).
//!
//! Translation is in `sluice_protocol::gemini`; this file only does HTTP.

mod auth;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::Serialize;
use sluice_protocol::Usage;
use sluice_protocol::gemini::convert::{from_gemini, to_gemini};
use sluice_protocol::gemini::embed::{
    from_batch_embed, from_predict, to_batch_embed, to_predict, wants_base64,
};
use sluice_protocol::gemini::error::from_response;
use sluice_protocol::gemini::stream::GeminiStream;
use sluice_protocol::gemini::wire::{BatchEmbedResponse, GenerateContentResponse, PredictResponse};
use sluice_protocol::openai::embeddings::EmbeddingsRequest;
use sluice_protocol::{Error, UsageSource};

use self::auth::Auth;
use super::http::{self, MAX_RESPONSE_BYTES};
use super::keys::KeyRing;
use super::translate::{self, completion, drive, now};
use super::{ChatCall, ChatOutput, ChatReply, Completion, EmbedInput, Provider, ProviderKind};
use crate::config::ProviderConfig;

/// A provider speaking Gemini's `generateContent`, on AI Studio or Vertex AI.
#[derive(Debug)]
pub struct GeminiProvider {
    name: String,
    kind: ProviderKind,
    client: reqwest::Client,
    /// Everything before `/{model}:{method}`.
    models_url: String,
    auth: Auth,
    headers: HeaderMap,
}

impl GeminiProvider {
    /// Builds the client from its config. For Vertex this reads the
    /// service-account key file.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, Error> {
        let (models_url, auth) = match cfg.kind {
            ProviderKind::Vertex => {
                let v = cfg.vertex.as_ref().ok_or_else(|| {
                    Error::internal(format!(
                        "provider `{}` of type `vertex` has no project settings",
                        cfg.name
                    ))
                })?;
                (
                    format!(
                        "{}/v1/projects/{}/locations/{}/publishers/google/models",
                        cfg.base_url, v.project, v.location
                    ),
                    Auth::service_account(&v.credentials_file)?,
                )
            }
            _ => (
                format!("{}/v1beta/models", cfg.base_url),
                Auth::ApiKey(KeyRing::new(cfg.keys.clone())),
            ),
        };
        Ok(Self {
            name: cfg.name.clone(),
            kind: cfg.kind,
            client: http::client(&cfg.timeouts)?,
            models_url,
            auth,
            headers: http::static_headers(&cfg.headers)?,
        })
    }

    fn is_vertex(&self) -> bool {
        self.kind == ProviderKind::Vertex
    }

    /// `{models_url}/{model}:{method}`, refusing model names that would
    /// change the path.
    fn url(&self, model: &str, method: &str) -> Result<String, Error> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        let valid = !model.is_empty()
            && !model.starts_with('.')
            && model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '@'));
        if !valid {
            return Err(
                Error::invalid(format!("`{model}` is not a valid Gemini model name"))
                    .with_param("model"),
            );
        }
        Ok(format!("{}/{model}:{method}", self.models_url))
    }

    async fn post(&self, url: String, body: &impl Serialize) -> Result<reqwest::Response, Error> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
        let rb = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Bytes::from(body));
        let rb = self.auth.apply(rb, &self.name).await?;
        let resp = http::send(rb, &self.name).await?;
        if !resp.status().is_success() {
            return Err(http::error_response(resp, &self.name, from_response).await);
        }
        Ok(resp)
    }
}

#[async_trait]
impl Provider for GeminiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        self.kind
    }

    async fn passthrough_auth(
        &self,
        _req: &super::PassthroughRequest<'_>,
    ) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, Error> {
        Ok(self.auth.header(&self.name).await?.into_iter().collect())
    }

    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error> {
        let req = call.input.typed()?;
        let translated = to_gemini(req)?;
        let model = call.upstream_model;
        let reply = if call.input.head().stream {
            let url = self.url(model, "streamGenerateContent?alt=sse")?;
            let resp = self.post(url, &translated.value).await?;
            let resp = http::expect_event_stream(resp, &self.name, from_response).await?;
            let machine = GeminiStream::new(now(), model, req.n.unwrap_or(1));
            ChatReply::Stream(drive(
                http::sse_events(resp, self.name.clone()),
                machine,
                self.name.clone(),
            ))
        } else {
            let url = self.url(model, "generateContent")?;
            let resp = self.post(url, &translated.value).await?;
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let parsed: GenerateContentResponse = translate::parse(&body, &self.name)?;
            let answer =
                from_gemini(parsed, now(), model).map_err(|e| e.with_provider(&self.name))?;
            ChatReply::Complete(completion(&answer)?)
        };
        Ok(ChatOutput {
            reply,
            dropped: translated.dropped,
            native: None,
        })
    }

    async fn embeddings(&self, input: &EmbedInput, model: &str) -> Result<Completion, Error> {
        let req: EmbeddingsRequest = serde_json::from_slice(input.parsed.object.body())
            .map_err(|e| Error::invalid(format!("invalid embeddings request: {e}")))?;
        let base64 = wants_base64(&req)?;
        let estimate = || {
            let texts = req.input.texts().unwrap_or_default();
            texts.iter().map(|t| crate::tokens::count(t)).sum::<u64>()
        };
        let dropped;
        let (answer, usage) = if self.is_vertex() {
            let translated = to_predict(&req)?;
            dropped = translated.dropped;
            let body = translated.value;
            let resp = self.post(self.url(model, "predict")?, &body).await?;
            let bytes = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let parsed: PredictResponse = translate::parse(&bytes, &self.name)?;
            let (mut answer, counted) = from_predict(&parsed, model, base64);
            let source = if counted {
                UsageSource::Provider
            } else {
                answer.usage.prompt_tokens = estimate();
                answer.usage.total_tokens = answer.usage.prompt_tokens;
                UsageSource::Estimated
            };
            let tokens = answer.usage.prompt_tokens;
            (answer, (tokens, source))
        } else {
            let translated = to_batch_embed(&req, model.strip_prefix("models/").unwrap_or(model))?;
            dropped = translated.dropped;
            let body = translated.value;
            let resp = self
                .post(self.url(model, "batchEmbedContents")?, &body)
                .await?;
            let bytes = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let parsed: BatchEmbedResponse = translate::parse(&bytes, &self.name)?;
            // AI Studio reports no token counts for embeddings.
            let tokens = estimate();
            (
                from_batch_embed(&parsed, model, base64, tokens),
                (tokens, UsageSource::Estimated),
            )
        };
        let body = serde_json::to_vec(&answer)
            .map_err(|e| Error::internal(format!("cannot encode a response: {e}")))?;
        Ok(Completion {
            body: Bytes::from(body),
            usage: Some(Usage {
                prompt_tokens: usage.0,
                source: usage.1,
                ..Usage::default()
            }),
            model: Some(model.to_owned()),
            dropped,
        })
    }
}
