//! Cached responses shared by several gateway instances, in Redis.
//!
//! Entries are plain strings under `<prefix><key>` with a TTL (`SET .. PX`).
//! Every command is bounded by a timeout: a slow or dead Redis makes the
//! gateway treat the request as a miss (lookups) or skip storing (writes),
//! never fail the request.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::CacheStore;
use crate::StoreError;

/// Cached responses in Redis.
#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisCache {
    /// Connects to `url` (`redis://host:port/db`); keys get `prefix`. Every
    /// command is bounded by `timeout`; reconnection happens in the
    /// background.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            timeout * 4,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| StoreError::Unavailable("timed out connecting to Redis".into()))?
        .map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(unavailable),
            Err(_) => Err(StoreError::Unavailable(
                "Redis did not answer in time".into(),
            )),
        }
    }
}

#[async_trait]
impl CacheStore for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut conn = self.conn.clone();
        let k = format!("{}{key}", self.prefix);
        let v: Option<Vec<u8>> = self
            .bounded(redis::cmd("GET").arg(&k).query_async(&mut conn))
            .await?;
        Ok(v.map(Bytes::from))
    }

    async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let k = format!("{}{key}", self.prefix);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.bounded(
            redis::cmd("SET")
                .arg(&k)
                .arg(value.as_ref())
                .arg("PX")
                .arg(ms)
                .query_async::<()>(&mut conn),
        )
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let k = format!("{}{key}", self.prefix);
        self.bounded(redis::cmd("DEL").arg(&k).query_async::<()>(&mut conn))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the Redis at 127.0.0.1:6379; skipped when it is not there.
    #[tokio::test]
    async fn round_trips_with_ttl() {
        let prefix = format!("sluice-test-cache:{}:", uuid::Uuid::new_v4());
        let Ok(c) = RedisCache::connect(
            "redis://127.0.0.1:6379",
            &prefix,
            Duration::from_millis(500),
        )
        .await
        else {
            eprintln!("no Redis on 127.0.0.1:6379; skipped");
            return;
        };
        assert_eq!(c.get("a").await.unwrap(), None);
        c.put("a", Bytes::from_static(b"one"), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(c.get("a").await.unwrap().unwrap(), "one");
        c.put("b", Bytes::from_static(b"two"), Duration::from_millis(50))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(c.get("b").await.unwrap(), None);
        c.delete("a").await.unwrap();
        assert_eq!(c.get("a").await.unwrap(), None);
    }
}
