//! Response cache storage: opaque entries under opaque keys, with a TTL.
//!
//! The gateway's cache policy (`sluice_gateway::cache`) decides what to
//! store and computes the keys (hashes that already include the tenant
//! scope); this module only keeps bytes. Read on every request the cache
//! applies to, written once per complete upstream answer.
//!
//! Implementations: [`memory::MemoryCache`] (one instance, bounded in bytes,
//! the default) and [`redis::RedisCache`] (shared by several instances).

pub mod memory;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use memory::MemoryCache;
pub use redis::RedisCache;

use crate::StoreError;

/// Where cached responses live.
#[async_trait]
pub trait CacheStore: Send + Sync + 'static {
    /// The entry under `key`, unless it is missing or expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;

    /// Keeps `value` under `key` for `ttl`, replacing any earlier entry.
    async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError>;

    /// Removes `key` (a no-op when it is absent).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}
