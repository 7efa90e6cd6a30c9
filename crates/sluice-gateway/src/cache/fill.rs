//! The miss path: go upstream through the executor, and store the answer
//! once it is complete (a stream once it ended normally). Runs for a miss
//! or a refresh; the write happens in the background, and the coalescing
//! guard is released after it.

use std::sync::Arc;
use std::time::Duration;

use sluice_protocol::Error;
use sluice_store::CacheStore;

use super::entry::{self, Entry, Stored};
use super::inflight::Guard;
use super::{Cache, MAX_ENTRY_BYTES, key, mark, tee};
use crate::exec::{self, Answer, Job};
use crate::provider::{ChatInput, ChatOutput, ChatReply};

/// What storing a miss needs.
pub struct Miss {
    pub key: key::Key,
    pub ttl: Duration,
    pub status: &'static str,
    pub vector: Option<Vec<f32>>,
    pub guard: Option<Guard>,
}

impl Miss {
    pub fn new(key: key::Key, ttl: Duration, status: &'static str) -> Self {
        Self {
            key,
            ttl,
            status,
            vector: None,
            guard: None,
        }
    }
}

/// Goes upstream and stores what comes back complete.
pub async fn miss(
    job: &Job<'_>,
    input: &ChatInput,
    cache: &Arc<Cache>,
    store: Arc<dyn CacheStore>,
    m: Miss,
) -> Result<Answer<ChatOutput>, Error> {
    mark(job.record, m.status, None);
    let answer = exec::chat(job, input).await?;
    let Answer {
        value,
        provider,
        upstream_model,
        upstream_time,
        attempts,
        reason,
        price,
    } = answer;
    let ChatOutput {
        reply,
        dropped,
        native,
    } = value;
    let head = Entry {
        provider: provider.name().to_owned(),
        upstream_model: upstream_model.clone(),
        native: entry::native_name(native),
        dropped: dropped.clone(),
        cost_usd: None,
        body: Stored::Stream { chunks: Vec::new() },
    };
    let semantic = cache.semantic.clone();
    let save = move |mut e: Entry| {
        e.cost_usd = price.zip(e.usage()).map(|(p, u)| p.cost(&u));
        tokio::spawn(async move {
            if let Some(bytes) = e.encode().filter(|b| b.len() <= MAX_ENTRY_BYTES) {
                match store.put(&m.key.exact, bytes, m.ttl).await {
                    Ok(()) => {
                        if let (Some(index), Some(v)) = (semantic, m.vector) {
                            index.insert(m.key.partition, m.key.exact.clone(), v, m.ttl);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "response cache: not stored"),
                }
            }
            drop(m.guard);
        });
    };
    let reply = match reply {
        ChatReply::Complete(c) => {
            if let Ok(body) = String::from_utf8(c.body.to_vec()) {
                save(Entry {
                    body: Stored::Complete {
                        body,
                        usage: c.usage,
                        model: c.model.clone(),
                    },
                    ..head
                });
            }
            ChatReply::Complete(c)
        }
        ChatReply::Stream(s) => ChatReply::Stream(tee::tee(
            s,
            MAX_ENTRY_BYTES,
            Box::new(move |chunks| {
                save(Entry {
                    body: Stored::Stream { chunks },
                    ..head
                });
            }),
        )),
    };
    Ok(Answer {
        value: ChatOutput {
            reply,
            dropped,
            native,
        },
        provider,
        upstream_model,
        upstream_time,
        attempts,
        reason,
        price,
    })
}
