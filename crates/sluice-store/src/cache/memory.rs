//! The in-process response cache: a moka cache bounded in bytes, each entry
//! with its own TTL. The default store; entries are lost on restart.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use moka::Expiry;
use moka::future::Cache;

use super::CacheStore;
use crate::StoreError;

/// Default bound on the in-process cache: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

struct PerEntry;

impl Expiry<String, Entry> for PerEntry {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Cached responses in process memory, evicted least-recently-used first
/// once `max_bytes` is reached.
#[derive(Clone)]
pub struct MemoryCache {
    inner: Cache<String, Entry>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.inner.entry_count())
            .finish()
    }
}

impl MemoryCache {
    /// A cache holding at most about `max_bytes` of keys and values.
    pub fn new(max_bytes: u64) -> Self {
        let inner = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, v: &Entry| {
                u32::try_from(k.len() + v.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntry)
            .build();
        Self { inner }
    }
}

#[async_trait]
impl CacheStore for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.inner.get(key).await.map(|e| e.value))
    }

    async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        self.inner
            .insert(key.to_owned(), Entry { value, ttl })
            .await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.invalidate(key).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_expires_and_deletes() {
        let c = MemoryCache::new(1024 * 1024);
        assert_eq!(c.get("a").await.unwrap(), None);
        c.put("a", Bytes::from_static(b"one"), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(c.get("a").await.unwrap().unwrap(), "one");
        c.put("b", Bytes::from_static(b"two"), Duration::from_millis(30))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(c.get("b").await.unwrap(), None);
        c.delete("a").await.unwrap();
        assert_eq!(c.get("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn is_bounded_in_bytes() {
        let c = MemoryCache::new(10_000);
        for i in 0..100 {
            c.put(
                &format!("k{i}"),
                Bytes::from(vec![0u8; 1000]),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        }
        c.inner.run_pending_tasks().await;
        assert!(
            c.inner.weighted_size() <= 10_000,
            "{}",
            c.inner.weighted_size()
        );
    }
}
