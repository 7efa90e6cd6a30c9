//! A cached answer as stored, and its conversions: from a complete answer
//! (at once) or a stream (once it ended normally), and back to a
//! [`ChatOutput`] for replay on a hit.
//!
//! A replayed stream is the stored chunks, in order, as a chunk stream: the
//! handler renders them in the client's dialect exactly as it rendered the
//! original. Usage is marked with provenance `cache`. A complete OpenAI
//! chat answer can also be replayed as a stream ([`chunks`]).

mod chunks;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sluice_protocol::{Usage, UsageSource};

use crate::provider::{ChatOutput, ChatReply, Chunk, Completion, NativeApi};

/// One stored answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The provider that answered (its configured name).
    pub provider: String,
    pub upstream_model: String,
    /// The API the reply is in (`None`: OpenAI chat).
    pub native: Option<String>,
    pub dropped: Vec<String>,
    /// What the answer cost when it was made (the saving of a hit).
    pub cost_usd: Option<f64>,
    pub body: Stored,
}

/// The answer itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stored {
    Complete {
        body: String,
        usage: Option<Usage>,
        model: Option<String>,
    },
    Stream {
        chunks: Vec<StoredChunk>,
    },
}

/// One stored stream chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredChunk {
    pub data: String,
    pub usage: Option<Usage>,
    pub usage_only: bool,
}

impl StoredChunk {
    /// A chunk as the stream carried it; `None` when it is not UTF-8.
    pub fn of(c: &Chunk) -> Option<Self> {
        Some(Self {
            data: String::from_utf8(c.data.to_vec()).ok()?,
            usage: c.usage,
            usage_only: c.usage_only,
        })
    }
}

/// The API's name as stored.
pub fn native_name(api: Option<NativeApi>) -> Option<String> {
    api.map(|a| a.as_str().to_owned())
}

fn native_of(name: Option<&str>) -> Option<NativeApi> {
    match name? {
        "messages" => Some(NativeApi::AnthropicMessages),
        "responses" => Some(NativeApi::OpenAiResponses),
        "completions" => Some(NativeApi::OpenAiCompletions),
        _ => None,
    }
}

fn cached(u: Option<Usage>) -> Option<Usage> {
    u.map(|u| Usage {
        source: UsageSource::Cache,
        ..u
    })
}

impl Entry {
    /// The usage the answer reported.
    pub fn usage(&self) -> Option<Usage> {
        match &self.body {
            Stored::Complete { usage, .. } => *usage,
            Stored::Stream { chunks } => chunks.iter().rev().find_map(|c| c.usage),
        }
    }

    /// The entry in stream form, for a streaming request: itself when it
    /// was stored from a stream, a complete OpenAI chat answer cut into
    /// chunks, `None` for a complete answer in another API's format.
    pub fn into_stream(self) -> Option<Self> {
        let body = match &self.body {
            Stored::Stream { .. } => return Some(self),
            Stored::Complete { .. } if self.native.is_some() => return None,
            Stored::Complete { body, usage, .. } => chunks::of_completion(body, *usage)?,
        };
        Some(Self {
            body: Stored::Stream { chunks: body },
            ..self
        })
    }

    /// The answer to serve on a hit, usage marked as served from cache.
    pub fn replay(self) -> ChatOutput {
        let native = native_of(self.native.as_deref());
        let reply = match self.body {
            Stored::Complete { body, usage, model } => ChatReply::Complete(Completion {
                body: Bytes::from(body),
                usage: cached(usage),
                model,
                dropped: Vec::new(),
            }),
            Stored::Stream { chunks } => {
                let chunks: Vec<_> = chunks
                    .into_iter()
                    .map(|c| {
                        Ok(Chunk {
                            data: Bytes::from(c.data),
                            usage: cached(c.usage),
                            usage_only: c.usage_only,
                        })
                    })
                    .collect();
                ChatReply::Stream(futures_util::stream::iter(chunks).boxed())
            }
        };
        ChatOutput {
            reply,
            dropped: self.dropped,
            native,
        }
    }

    /// Encodes for the store.
    pub fn encode(&self) -> Option<Bytes> {
        serde_json::to_vec(self).ok().map(Bytes::from)
    }

    /// Decodes a stored entry; `None` when it is unreadable (an older
    /// format): treated as a miss.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}
