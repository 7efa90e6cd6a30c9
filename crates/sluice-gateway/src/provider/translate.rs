//! Plumbing shared by the adapters that translate (Anthropic, Gemini,
//! Bedrock, Cohere...): turning typed OpenAI values into the bytes the
//! response writer forwards, and driving a provider's stream translator
//! ([`StreamMachine`]) over the upstream's decoded events.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use sluice_protocol::openai::chat::{ChatChunk, ChatResponse};
use sluice_protocol::stream::StreamMachine;
use sluice_protocol::{Error, ErrorKind, Usage};

use super::{Chunk, ChunkStream, Completion};

/// Seconds since the Unix epoch, for `created` fields.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Serialises a translated chunk for the response writer.
pub fn chunk(c: &ChatChunk) -> Result<Chunk, Error> {
    let data = serde_json::to_vec(c)
        .map_err(|e| Error::internal(format!("cannot encode a chunk: {e}")))?;
    Ok(Chunk {
        data: Bytes::from(data),
        usage: c.usage.map(Usage::from),
        usage_only: c.choices.is_empty() && c.usage.is_some(),
    })
}

/// Serialises a translated response for the response writer.
pub fn completion(resp: &ChatResponse) -> Result<Completion, Error> {
    let body = serde_json::to_vec(resp)
        .map_err(|e| Error::internal(format!("cannot encode a response: {e}")))?;
    Ok(Completion {
        body: Bytes::from(body),
        usage: resp.usage.map(Usage::from),
        model: Some(resp.model.clone()),
        dropped: Vec::new(),
    })
}

/// Parses an upstream JSON body, or says which provider sent nonsense.
pub fn parse<T: DeserializeOwned>(body: &[u8], provider: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::UpstreamProtocol,
            format!("upstream `{provider}` sent a response that does not parse: {e}"),
        )
        .with_provider(provider)
    })
}

/// Drives `machine` over `events`, yielding OpenAI chunks. A transport error,
/// an error from the machine, or an early end yields one `Err` and ends.
pub fn drive<M, S>(events: S, machine: M, provider: String) -> ChunkStream
where
    M: StreamMachine,
    S: Stream<Item = Result<M::Event, Error>> + Send + 'static,
    M::Event: Send,
{
    struct St<M, S> {
        events: std::pin::Pin<Box<S>>,
        machine: M,
        queue: VecDeque<ChatChunk>,
        provider: String,
        ended: bool,
    }
    let st = St {
        events: Box::pin(events),
        machine,
        queue: VecDeque::new(),
        provider,
        ended: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(c) = st.queue.pop_front() {
                let item = chunk(&c);
                if item.is_err() {
                    st.ended = true;
                    st.queue.clear();
                }
                return Some((item, st));
            }
            if st.ended {
                return None;
            }
            let produced = match st.events.next().await {
                Some(Ok(ev)) => st.machine.on_event(ev),
                Some(Err(e)) => Err(e),
                None => {
                    st.ended = true;
                    st.machine.on_end()
                }
            };
            match produced {
                Ok(chunks) => st.queue.extend(chunks),
                Err(e) => {
                    st.ended = true;
                    return Some((Err(e.with_provider(&st.provider)), st));
                }
            }
        }
    })
    .boxed()
}
