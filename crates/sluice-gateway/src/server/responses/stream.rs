//! The two ways a Responses stream is written, and how a finished response
//! is kept: [`ResponsesFrames`] translates chat chunks into Responses events
//! (for providers that only speak chat); [`StoringNative`] passes OpenAI's
//! own events through. Both store the conversation ([`Keep`]) before the
//! final event leaves, so a client that continues at once finds it.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;
use sluice_protocol::Error;
use sluice_protocol::ErrorKind;
use sluice_protocol::openai::chat::{ChatChunk, Message};
use sluice_protocol::openai::responses::events::ResponsesEvents;
use sluice_protocol::openai::responses::history::assistant_of;
use sluice_store::StoredResponse;

use super::Store;
use crate::provider::Chunk;
use crate::server::events::{Frames, NativeFrames, json_frame};

/// What a response needs to be stored.
pub struct Keep {
    pub store: Store,
    pub conversation: Vec<Message>,
    pub retention: Duration,
    /// See [`StoredResponse::provider`].
    pub provider: Option<String>,
}

impl Keep {
    /// Stores the conversation with `assistant` appended, and `response`.
    /// A failure is logged: the answer itself is still good.
    pub async fn put(mut self, id: &str, assistant: Message, response: &Value) {
        self.conversation.push(assistant);
        let entry = match serde_json::to_string(&self.conversation) {
            Ok(conversation) => StoredResponse {
                conversation,
                response: response.to_string(),
                provider: self.provider,
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode a conversation to store");
                return;
            }
        };
        if let Err(e) = self.store.put(id, entry, self.retention).await {
            tracing::warn!(error = %e, response_id = id, "could not store a response");
        }
    }
}

#[derive(serde::Deserialize)]
struct EventType<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

/// OpenAI's own events, passed through; with `keep`, the final
/// `response.completed` is held back until the conversation is stored.
pub struct StoringNative {
    pub inner: NativeFrames,
    pub keep: Option<Keep>,
    /// The held `response.completed` event: its frames and the response.
    pub held: Option<(Vec<Bytes>, Value)>,
}

#[async_trait]
impl Frames for StoringNative {
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error> {
        let frames = self.inner.chunk(chunk)?;
        if self.keep.is_some()
            && serde_json::from_slice::<EventType<'_>>(&chunk.data)
                .is_ok_and(|e| e.kind == "response.completed")
            && let Ok(v) = serde_json::from_slice::<Value>(&chunk.data)
            && let Some(r) = v.get("response")
        {
            self.held = Some((frames, r.clone()));
            return Ok(Vec::new());
        }
        Ok(frames)
    }

    async fn end(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        if let Some((frames, response)) = self.held.take() {
            if let Some(k) = self.keep.take()
                && let Some(id) = response.get("id").and_then(Value::as_str)
            {
                k.put(id, assistant_of(&response), &response).await;
            }
            out = frames;
        }
        out.extend(self.inner.end().await);
        out
    }

    fn error(&mut self, e: &Error) -> Bytes {
        self.inner.error(e)
    }
}

/// Chat chunks translated to Responses events; the conversation is stored
/// before the final event goes out.
pub struct ResponsesFrames {
    pub events: ResponsesEvents,
    pub id: String,
    pub keep: Option<Keep>,
}

fn named(events: Vec<Value>) -> Vec<Bytes> {
    events
        .iter()
        .map(|ev| json_frame(ev.get("type").and_then(Value::as_str), ev))
        .collect()
}

#[async_trait]
impl Frames for ResponsesFrames {
    fn chunk(&mut self, chunk: &Chunk) -> Result<Vec<Bytes>, Error> {
        let c: ChatChunk = serde_json::from_slice(&chunk.data).map_err(|e| {
            Error::new(
                ErrorKind::UpstreamProtocol,
                format!("the provider sent a stream chunk that could not be read: {e}"),
            )
        })?;
        Ok(named(self.events.on_chunk(&c)))
    }

    async fn end(&mut self) -> Vec<Bytes> {
        let events = self.events.finish();
        if let Some(k) = self.keep.take()
            && let Some(response) = events.last().and_then(|e| e.get("response"))
        {
            k.put(&self.id, self.events.output().assistant(), response)
                .await;
        }
        named(events)
    }

    fn error(&mut self, e: &Error) -> Bytes {
        let ev = self.events.error(e);
        json_frame(Some("error"), &ev)
    }
}
