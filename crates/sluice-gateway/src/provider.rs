//! Upstream providers: one trait, one module per wire format.
//!
//! A provider turns a chat or embeddings request, already in Sluice's
//! canonical OpenAI form, into one HTTP call to its upstream and turns the
//! answer back into the canonical form. The translation itself is pure and
//! lives in `sluice-protocol`; the modules here only do HTTP around it.
//!
//! Deadlines, retries and fallbacks are not the provider's business: the
//! executor (`crate::exec`) wraps every call. Providers must not retry.
//!
//! [`build`] is the one place that matches on the wire format.

mod anthropic;
mod bedrock;
mod cohere;
mod gemini;
pub(crate) mod http;
mod huggingface;
mod keys;
mod kind;
mod native;
mod openai;
mod replicate;
mod translate;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use sluice_protocol::openai::chat::ChatRequest;
use sluice_protocol::openai::request::{ParsedRequest, RequestHead, parse_chat};
use sluice_protocol::{Error, ErrorKind, Usage};

pub use kind::{ProviderKind, Wire};

use crate::config::ProviderConfig;

/// A client API other than chat completions. A request that came in on one
/// carries its original body ([`NativeBody`]); a provider that speaks the
/// same API ([`Provider::speaks`]) sends that body upstream unchanged and
/// answers in the same API, every other provider serves the canonical chat
/// translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NativeApi {
    /// Anthropic Messages, `POST /v1/messages`.
    AnthropicMessages,
    /// The OpenAI Responses API, `POST /v1/responses`.
    OpenAiResponses,
    /// OpenAI's legacy Completions API, `POST /v1/completions`.
    OpenAiCompletions,
}

impl NativeApi {
    /// Short name for logs and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnthropicMessages => "messages",
            Self::OpenAiResponses => "responses",
            Self::OpenAiCompletions => "completions",
        }
    }
}

/// A client's request in its own API, for providers that speak it.
#[derive(Debug)]
pub struct NativeBody {
    pub api: NativeApi,
    /// The original bytes, with `model` and `stream` read.
    pub request: ParsedRequest,
    /// Client headers to forward to a provider of the same API (for
    /// Anthropic: `anthropic-version`, `anthropic-beta`).
    pub headers: Vec<(::http::HeaderName, ::http::HeaderValue)>,
}

/// A chat request as the client sent it, in OpenAI form.
///
/// Holds the original bytes with the few fields routing needs; the fully
/// typed form is parsed lazily, only by adapters that translate.
///
/// A request that came in on another API ([`ChatInput::native`]) also keeps
/// the client's own body. Its chat form is the gateway's translation, built
/// up front; when the request cannot be expressed in chat at all (say, an
/// Anthropic server tool), [`ChatInput::untranslatable`] says why, and the
/// executor refuses any target that would need the chat form.
#[derive(Debug)]
pub struct ChatInput {
    parsed: ParsedRequest,
    typed: OnceLock<Result<ChatRequest, Error>>,
    native: Option<NativeBody>,
    untranslatable: Option<Error>,
}

impl ChatInput {
    /// Wraps a parsed request.
    pub fn new(parsed: ParsedRequest) -> Self {
        Self {
            parsed,
            typed: OnceLock::new(),
            native: None,
            untranslatable: None,
        }
    }

    /// A request that came in on another API: `native` is the client's
    /// body, `canonical` its translation to chat or the reason there is none.
    pub fn native(
        native: NativeBody,
        canonical: Result<ChatRequest, Error>,
    ) -> Result<Self, Error> {
        let (body, typed, untranslatable) = match canonical {
            Ok(req) => {
                let body = serde_json::to_vec(&req)
                    .map_err(|e| Error::internal(format!("cannot encode a request: {e}")))?;
                (body, Ok(req), None)
            }
            Err(e) => {
                // Never sent: the executor refuses targets that would need it.
                let head = &native.request.head;
                let body = serde_json::to_vec(&serde_json::json!({
                    "model": head.model, "messages": [], "stream": head.stream,
                }))
                .map_err(|e| Error::internal(format!("cannot encode a request: {e}")))?;
                (body, Err(e.clone()), Some(e))
            }
        };
        Ok(Self {
            parsed: parse_chat(Bytes::from(body))?,
            typed: OnceLock::from(typed),
            native: Some(native),
            untranslatable,
        })
    }

    /// The client's own body, for a request that came in on another API.
    pub fn native_body(&self) -> Option<&NativeBody> {
        self.native.as_ref()
    }

    /// Why a request that came in on another API has no chat form.
    pub fn untranslatable(&self) -> Option<&Error> {
        self.untranslatable.as_ref()
    }

    /// Model, stream flag and usage option.
    pub fn head(&self) -> &RequestHead {
        &self.parsed.head
    }

    /// The original body and its top-level fields.
    pub fn raw(&self) -> &ParsedRequest {
        &self.parsed
    }

    /// The fully typed request, parsed on first use.
    pub fn typed(&self) -> Result<&ChatRequest, Error> {
        self.typed
            .get_or_init(|| {
                serde_json::from_slice(self.parsed.object.body())
                    .map_err(|e| Error::invalid(format!("invalid chat completions request: {e}")))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// An embeddings request as the client sent it.
#[derive(Debug)]
pub struct EmbedInput {
    pub parsed: ParsedRequest,
}

/// A rerank request as the client sent it (Cohere's rerank shape).
#[derive(Debug)]
pub struct RerankInput {
    pub parsed: ParsedRequest,
}

/// One chat call against one target.
#[derive(Debug, Clone, Copy)]
pub struct ChatCall<'a> {
    pub input: &'a ChatInput,
    /// The model name to send upstream.
    pub upstream_model: &'a str,
}

/// A complete (non-streamed) answer, already in OpenAI JSON form.
#[derive(Debug, Clone)]
pub struct Completion {
    pub body: Bytes,
    pub usage: Option<Usage>,
    /// The model the upstream says answered.
    pub model: Option<String>,
    /// Request parameters the provider's format could not carry (for
    /// embeddings and rerank; chat reports them in [`ChatOutput`]).
    pub dropped: Vec<String>,
}

/// One chunk of a streamed answer, in OpenAI `chat.completion.chunk` form.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The chunk's JSON.
    pub data: Bytes,
    /// Usage, on the chunk that carries it.
    pub usage: Option<Usage>,
    /// A chunk with no choices that exists only to carry usage.
    pub usage_only: bool,
}

/// A stream of chunks. It ends (`None`) only after the upstream finished
/// normally; a broken upstream yields one `Err` and then ends.
pub type ChunkStream = BoxStream<'static, Result<Chunk, Error>>;

/// What a chat call produced.
pub enum ChatReply {
    Complete(Completion),
    Stream(ChunkStream),
}

/// A chat call's reply and what translation had to leave out.
#[derive(Debug)]
pub struct ChatOutput {
    pub reply: ChatReply,
    /// Request parameters the provider's format could not carry; reported
    /// in `x-sluice-dropped-params` and the request record.
    pub dropped: Vec<String>,
    /// `Some(api)` when the reply is in that API's own format (the native
    /// body was sent upstream as is): a complete body in that API's JSON,
    /// stream chunks carrying that API's event payloads. `None`: OpenAI chat.
    pub native: Option<NativeApi>,
}

impl From<ChatReply> for ChatOutput {
    fn from(reply: ChatReply) -> Self {
        Self {
            reply,
            dropped: Vec::new(),
            native: None,
        }
    }
}

impl std::fmt::Debug for ChatReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Complete(c) => f.debug_tuple("Complete").field(c).finish(),
            Self::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// A request of the provider's own API, forwarded by the pass-through
/// endpoints, as the credentials must cover it.
#[derive(Debug, Clone, Copy)]
pub struct PassthroughRequest<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// The full upstream URL, its path percent-encoded as it will be sent.
    pub url: &'a str,
    /// Headers that will be sent and that a signature may cover.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// An upstream LLM provider.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The configured name (`providers.<name>`).
    fn name(&self) -> &str;

    /// The provider type.
    fn kind(&self) -> ProviderKind;

    /// Sends a chat request; streams when the input asks for it.
    async fn chat(&self, call: ChatCall<'_>) -> Result<ChatOutput, Error>;

    /// Sends an embeddings request.
    async fn embeddings(
        &self,
        input: &EmbedInput,
        upstream_model: &str,
    ) -> Result<Completion, Error>;

    /// Whether this provider speaks `api` natively. When it does, [`chat`]
    /// must send an input's [`NativeBody`] of that API upstream as is (model
    /// patched) and answer with `native: Some(api)`. Default: no.
    ///
    /// [`chat`]: Provider::chat
    fn speaks(&self, _api: NativeApi) -> bool {
        false
    }

    /// Counts the input tokens of an Anthropic Messages request upstream
    /// (`POST /v1/messages/count_tokens`). `None` when the provider has no
    /// counting endpoint (the default); the gateway then estimates.
    async fn count_tokens(
        &self,
        _request: &NativeBody,
        _upstream_model: &str,
    ) -> Option<Result<Completion, Error>> {
        None
    }

    /// A cheap call that shows whether the upstream is reachable, for active
    /// health checks. `None` when the provider has no free call to make.
    async fn probe(&self) -> Option<Result<(), Error>> {
        None
    }

    /// The credential headers a pass-through request carries when the
    /// gateway holds the key (`crate::passthrough`), added the provider's
    /// way: a bearer key, `x-api-key`, `api-key`, `x-goog-api-key`, a Vertex
    /// access token or a fresh SigV4 signature. Empty for keyless servers.
    /// The default refuses: a provider must opt in.
    async fn passthrough_auth(
        &self,
        _req: &PassthroughRequest<'_>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        Err(Error::new(
            ErrorKind::UnsupportedParam,
            format!(
                "provider `{}` (type `{}`) cannot sign pass-through requests",
                self.name(),
                self.kind().as_str()
            ),
        )
        .with_provider(self.name()))
    }

    /// Sends a rerank request. The default refuses it with a 400: only
    /// providers with a rerank API (Cohere) override this.
    async fn rerank(
        &self,
        _input: &RerankInput,
        _upstream_model: &str,
    ) -> Result<Completion, Error> {
        Err(Error::new(
            ErrorKind::UnsupportedParam,
            format!(
                "rerank is not supported by provider `{}` (type `{}`)",
                self.name(),
                self.kind().as_str()
            ),
        )
        .with_param("model")
        .with_provider(self.name()))
    }
}

/// Builds the client for one configured provider.
pub fn build(cfg: &ProviderConfig) -> Result<Arc<dyn Provider>, Error> {
    Ok(match cfg.kind.wire() {
        Wire::OpenAi | Wire::Azure => Arc::new(openai::OpenAiProvider::new(cfg)?),
        Wire::Anthropic => Arc::new(anthropic::AnthropicProvider::new(cfg)?),
        Wire::Gemini | Wire::Vertex => Arc::new(gemini::GeminiProvider::new(cfg)?),
        Wire::Bedrock => Arc::new(bedrock::BedrockProvider::new(cfg)?),
        Wire::HuggingFace => huggingface::build(cfg)?,
        Wire::Replicate => Arc::new(replicate::ReplicateProvider::new(cfg)?),
        Wire::Cohere => Arc::new(cohere::CohereProvider::new(cfg)?),
    })
}
