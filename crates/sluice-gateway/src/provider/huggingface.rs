//! Hugging Face upstreams, with `Authorization: Bearer <HF token>`.
//!
//! - `task: chat` (default): the OpenAI-compatible messages API (the
//!   Inference Providers router, TGI's and Inference Endpoints'
//!   `/v1/chat/completions`). It is served by the OpenAI-wire provider
//!   unchanged: tools, images and JSON mode pass through as OpenAI fields.
//! - `task: text-generation`: models that only take `inputs`. The chat is
//!   rendered into a prompt (`sluice_protocol::huggingface`) and sent as
//!   `{"inputs", "parameters", "stream"}` to `POST {base_url}/models/{model}`
//!   (the serverless form; the default base is
//!   `https://router.huggingface.co/hf-inference`). A `base_url` ending in
//!   `/generate` selects TGI's native routes instead: `POST {base_url}` and,
//!   for streams, `POST {base_url}_stream` (one model per server, so the
//!   model name is not sent).
//!
//! Runs on every upstream attempt; translation is in `sluice_protocol`,
//! this file only does HTTP.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use sluice_protocol::huggingface::convert::{from_text_generation, to_text_generation};
use sluice_protocol::huggingface::error::from_response;
use sluice_protocol::huggingface::stream::TgiStream;
use sluice_protocol::huggingface::wire::GenerateResponse;
use sluice_protocol::translate::unsupported;
use sluice_protocol::{Error, ErrorKind};

use super::http::{self, MAX_RESPONSE_BYTES};
use super::keys::KeyRing;
use super::openai::OpenAiProvider;
use super::translate::{self, completion, drive, now};
use super::{ChatCall, ChatOutput, ChatReply, Completion, EmbedInput, Provider, ProviderKind};
use crate::config::{HfTask, ProviderConfig};

/// The serverless text-generation root used when `base_url` is the default
/// (the router's OpenAI-compatible `/v1`, which only serves chat).
pub const SERVERLESS_BASE: &str = "https://router.huggingface.co/hf-inference";

/// Builds the provider for the configured task.
pub fn build(cfg: &ProviderConfig) -> Result<Arc<dyn Provider>, Error> {
    Ok(match cfg.hf_task {
        HfTask::Chat => Arc::new(OpenAiProvider::new(cfg)?),
        HfTask::TextGeneration => Arc::new(TextGenerationProvider::new(cfg)?),
    })
}

/// Where generation requests go.
#[derive(Debug)]
enum Route {
    /// `POST {base}/models/{model}` with `stream` in the body.
    Serverless { base: String },
    /// TGI's `POST .../generate` and `POST .../generate_stream`.
    Tgi { generate: String },
}

/// A provider for Hugging Face models that only take `inputs`.
#[derive(Debug)]
pub struct TextGenerationProvider {
    name: String,
    client: reqwest::Client,
    route: Route,
    keys: KeyRing,
    headers: HeaderMap,
}

impl TextGenerationProvider {
    /// Builds the client from its config.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, Error> {
        let default = ProviderKind::Huggingface.default_base_url();
        let route = if default == Some(cfg.base_url.as_str()) {
            Route::Serverless {
                base: SERVERLESS_BASE.to_owned(),
            }
        } else if cfg.base_url.ends_with("/generate") {
            Route::Tgi {
                generate: cfg.base_url.clone(),
            }
        } else {
            Route::Serverless {
                base: cfg.base_url.clone(),
            }
        };
        Ok(Self {
            name: cfg.name.clone(),
            client: http::client(&cfg.timeouts)?,
            route,
            keys: KeyRing::new(cfg.keys.clone()),
            headers: http::static_headers(&cfg.headers)?,
        })
    }

    fn url(&self, model: &str, stream: bool) -> Result<String, Error> {
        match &self.route {
            Route::Tgi { generate } if stream => Ok(format!("{generate}_stream")),
            Route::Tgi { generate } => Ok(generate.clone()),
            Route::Serverless { base } => {
                let valid = !model.is_empty()
                    && model.split('/').all(|seg| {
                        !seg.is_empty()
                            && seg != "."
                            && seg != ".."
                            && seg
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    });
                if !valid {
                    return Err(Error::invalid(format!(
                        "`{model}` is not a Hugging Face model id (`org/name`)"
                    ))
                    .with_param("model"));
                }
                Ok(format!("{base}/models/{model}"))
            }
        }
    }
}

#[async_trait]
impl Provider for TextGenerationProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Huggingface
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
        let mut translated = to_text_generation(req, stream)?;
        if matches!(self.route, Route::Tgi { .. }) {
            translated.value.stream = None;
        }
        let url = self.url(call.upstream_model, stream)?;
        let body = serde_json::to_vec(&translated.value)
            .map_err(|e| Error::internal(format!("cannot encode request: {e}")))?;
        let mut rb = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Bytes::from(body));
        if stream {
            rb = rb.header(ACCEPT, "text/event-stream");
        }
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
        let id = format!("chatcmpl-hf-{}", uuid::Uuid::new_v4().simple());
        let reply = if stream {
            let resp = http::expect_event_stream(resp, &self.name, from_response).await?;
            let machine = TgiStream::new(&id, now(), call.upstream_model);
            ChatReply::Stream(drive(
                http::sse_events(resp, self.name.clone()),
                machine,
                self.name.clone(),
            ))
        } else {
            let body = http::read_body(resp, MAX_RESPONSE_BYTES, &self.name).await?;
            let parsed: GenerateResponse = translate::parse(&body, &self.name)?;
            let out = parsed.into_first().ok_or_else(|| {
                Error::new(
                    ErrorKind::UpstreamProtocol,
                    format!("upstream `{}` returned no generation", self.name),
                )
                .with_provider(&self.name)
            })?;
            ChatReply::Complete(completion(&from_text_generation(
                out,
                &id,
                now(),
                call.upstream_model,
            ))?)
        };
        Ok(ChatOutput {
            reply,
            dropped: translated.dropped,
            native: None,
        })
    }

    async fn embeddings(&self, _input: &EmbedInput, _model: &str) -> Result<Completion, Error> {
        Err(unsupported(
            "Hugging Face text-generation",
            "embeddings",
            "a text-generation model has no embeddings; configure a `task: chat` provider \
             pointing at an OpenAI-compatible embeddings server (e.g. TEI)",
        )
        .with_provider(&self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(base: &str) -> TextGenerationProvider {
        let mut cfg = ProviderConfig::new("hf", ProviderKind::Huggingface, base, Vec::new());
        cfg.hf_task = HfTask::TextGeneration;
        TextGenerationProvider::new(&cfg).unwrap()
    }

    #[test]
    fn routes() {
        let default = ProviderKind::Huggingface.default_base_url().unwrap();
        assert_eq!(
            provider(default)
                .url("openai-community/gpt2", false)
                .unwrap(),
            "https://router.huggingface.co/hf-inference/models/openai-community/gpt2"
        );
        let own = provider("https://x.endpoints.huggingface.cloud/generate");
        assert_eq!(
            own.url("ignored", false).unwrap(),
            "https://x.endpoints.huggingface.cloud/generate"
        );
        assert_eq!(
            own.url("ignored", true).unwrap(),
            "https://x.endpoints.huggingface.cloud/generate_stream"
        );
        let p = provider("https://api-inference.huggingface.co");
        assert_eq!(
            p.url("gpt2", true).unwrap(),
            "https://api-inference.huggingface.co/models/gpt2"
        );
        for bad in ["", "../x", "a//b", "a/b?c", "a b"] {
            assert_eq!(p.url(bad, false).unwrap_err().status(), 400, "{bad}");
        }
    }
}
