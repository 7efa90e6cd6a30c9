//! Conversation state for the Responses API's `previous_response_id`, for
//! providers that keep none themselves.
//!
//! When a Responses request is translated to chat for a provider other than
//! OpenAI (which stores responses itself), the gateway keeps each response's
//! conversation under the response id, for a retention period, so the next
//! request can continue it. Written once when a response completes (before
//! its last byte reaches the client, so a client that continues at once finds
//! it), read once per request that names a `previous_response_id`.
//!
//! [`ResponseStore`] is the narrow trait; [`MemoryResponseStore`] keeps
//! entries in process memory, bounded in bytes, oldest evicted first. SQLite
//! and Postgres implementations hang off the same trait.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::StoreError;

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The conversation through this response's output: a JSON array of
    /// OpenAI chat messages, without the request's `instructions`.
    pub conversation: String,
    /// The Response object as returned to the client (JSON).
    pub response: String,
    /// The provider that keeps this response itself (an `openai` or `azure`
    /// provider that answered it), so a request to it may name the id as
    /// is; `None` when only Sluice has it (it translated the request).
    pub provider: Option<String>,
}

impl StoredResponse {
    /// Approximate memory held by the entry.
    pub fn size(&self) -> usize {
        self.conversation.len() + self.response.len()
    }
}

/// Where responses are kept for `previous_response_id`.
#[async_trait]
pub trait ResponseStore: Send + Sync + 'static {
    /// Keeps `response` under `id` for `ttl`, replacing any earlier entry.
    async fn put(
        &self,
        id: &str,
        response: StoredResponse,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// The entry under `id`, unless it is missing or expired.
    async fn get(&self, id: &str) -> Result<Option<Arc<StoredResponse>>, StoreError>;

    /// Removes `id`; whether it was there (and not expired).
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
}

/// Default bound on the memory held by [`MemoryResponseStore`]: 256 MiB.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

struct Entry {
    value: Arc<StoredResponse>,
    expires: Instant,
    /// Insertion number, to tell a live entry from a stale queue slot.
    seq: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Insertion order: `(id, seq)`, oldest first.
    order: VecDeque<(String, u64)>,
    bytes: usize,
    seq: u64,
}

impl Inner {
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let e = self.map.remove(id)?;
        self.bytes = self.bytes.saturating_sub(e.value.size() + id.len());
        Some(e)
    }

    /// Drops the oldest entries while over `max` bytes, and expired ones
    /// at the front of the queue.
    fn evict(&mut self, max: usize, now: Instant) {
        while let Some((id, seq)) = self.order.front() {
            let live = self.map.get(id).filter(|e| e.seq == *seq);
            let drop = match live {
                None => true,
                Some(e) => self.bytes > max || e.expires <= now,
            };
            if !drop {
                break;
            }
            if let Some((id, seq)) = self.order.pop_front()
                && self.map.get(&id).is_some_and(|e| e.seq == seq)
            {
                self.remove(&id);
            }
        }
    }
}

/// An in-process [`ResponseStore`]: lost on restart, bounded to `max_bytes`
/// (oldest entries evicted first), expired entries never returned.
pub struct MemoryResponseStore {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl std::fmt::Debug for MemoryResponseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.inner.lock();
        f.debug_struct("MemoryResponseStore")
            .field("entries", &g.map.len())
            .field("bytes", &g.bytes)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

impl Default for MemoryResponseStore {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

impl MemoryResponseStore {
    /// A store holding at most about `max_bytes` of conversations.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_bytes,
        }
    }

    /// Entries currently held (expired ones not yet evicted included).
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn put_at(&self, id: &str, response: StoredResponse, ttl: Duration, now: Instant) {
        let mut g = self.inner.lock();
        g.remove(id);
        g.seq += 1;
        let seq = g.seq;
        g.bytes += response.size() + id.len();
        g.map.insert(
            id.to_owned(),
            Entry {
                value: Arc::new(response),
                expires: now + ttl,
                seq,
            },
        );
        g.order.push_back((id.to_owned(), seq));
        let max = self.max_bytes;
        g.evict(max, now);
    }

    fn get_at(&self, id: &str, now: Instant) -> Option<Arc<StoredResponse>> {
        let g = self.inner.lock();
        g.map
            .get(id)
            .filter(|e| e.expires > now)
            .map(|e| e.value.clone())
    }
}

#[async_trait]
impl ResponseStore for MemoryResponseStore {
    async fn put(
        &self,
        id: &str,
        response: StoredResponse,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.put_at(id, response, ttl, Instant::now());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Arc<StoredResponse>>, StoreError> {
        Ok(self.get_at(id, Instant::now()))
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut g = self.inner.lock();
        Ok(g.remove(id).is_some_and(|e| e.expires > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> StoredResponse {
        StoredResponse {
            conversation: "c".repeat(n),
            response: String::new(),
            provider: None,
        }
    }

    #[test]
    fn expiry_and_replacement() {
        let s = MemoryResponseStore::new(1 << 20);
        let t0 = Instant::now();
        s.put_at("a", entry(3), Duration::from_secs(10), t0);
        assert_eq!(s.get_at("a", t0).unwrap().conversation, "ccc");
        assert!(s.get_at("a", t0 + Duration::from_secs(11)).is_none());
        s.put_at("a", entry(5), Duration::from_secs(60), t0);
        assert_eq!(
            s.get_at("a", t0 + Duration::from_secs(30)).unwrap().size(),
            5
        );
        assert_eq!(s.len(), 1);
        assert!(s.get_at("missing", t0).is_none());
    }

    #[test]
    fn oldest_are_evicted_over_the_byte_bound() {
        let s = MemoryResponseStore::new(100);
        let t0 = Instant::now();
        for i in 0..5 {
            s.put_at(&format!("r{i}"), entry(30), Duration::from_secs(60), t0);
        }
        assert!(s.get_at("r0", t0).is_none());
        assert!(s.get_at("r1", t0).is_none());
        assert!(s.get_at("r4", t0).is_some());
        assert!(s.inner.lock().bytes <= 100);
    }

    #[test]
    fn expired_entries_are_dropped_on_later_writes() {
        let s = MemoryResponseStore::new(1 << 20);
        let t0 = Instant::now();
        s.put_at("old", entry(1), Duration::from_secs(1), t0);
        s.put_at(
            "new",
            entry(1),
            Duration::from_secs(60),
            t0 + Duration::from_secs(5),
        );
        assert_eq!(s.len(), 1);
    }
}
