//! Resolving presented keys to identities, fast.
//!
//! On every request the presented key is hashed (SHA-256) and looked up in
//! an in-memory cache; on a miss, in the key store, by hash. The stored hash
//! is compared with the presented key's in constant time. Found keys are
//! cached for `auth.cache_ttl` (default 5 s): that is how long a revocation
//! or an edit made on another instance takes to be seen (on this instance,
//! admin changes invalidate the cache at once). Unknown keys are cached for
//! one second, so a key created on another instance works within a second.
//!
//! Open and closed mode: with `auth.mode: auto`, requests need no key until
//! the first key exists; whether one exists is refreshed every two seconds
//! and immediately after a key is created here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::sync::Cache;
use sluice_protocol::{Error, ErrorKind};
use sluice_store::KeyStore;
use sluice_store::keys::hash_key;

use super::identity::Identity;
use crate::config::tenancy::{AuthConfig, AuthMode};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The key directory.
pub struct Directory {
    store: Arc<dyn KeyStore>,
    /// Found keys, with the generation they were cached in.
    found: Cache<String, (u64, Arc<Identity>)>,
    missing: Cache<String, u64>,
    /// Bumped by [`Directory::invalidate`]: entries from an older
    /// generation are ignored, even one a lookup that started before the
    /// change inserts after it.
    generation: std::sync::atomic::AtomicU64,
    /// Cached key expiry, to refuse expired keys between refreshes.
    expiry: Cache<String, Option<i64>>,
    keys_exist: AtomicBool,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

fn unauthorized(msg: &str) -> Error {
    Error::new(ErrorKind::Unauthorized, msg.to_owned())
}

impl Directory {
    /// A directory over `store`, caching found keys for `ttl`.
    pub fn new(store: Arc<dyn KeyStore>, ttl: Duration) -> Self {
        Self {
            store,
            found: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            missing: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(1))
                .build(),
            expiry: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            keys_exist: AtomicBool::new(false),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether any active key exists (as last refreshed).
    pub fn keys_exist(&self) -> bool {
        self.keys_exist.load(Ordering::Relaxed)
    }

    /// Re-reads whether any active key exists.
    pub async fn refresh(&self) {
        match self.store.any_active_key(now_ms()).await {
            Ok(exists) => self.keys_exist.store(exists, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, "cannot check whether keys exist; keeping the last answer")
            }
        }
    }

    /// Forgets every cached lookup (after an admin change on this instance).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.found.invalidate_all();
        self.missing.invalidate_all();
        self.expiry.invalidate_all();
    }

    /// Marks that a key exists now (after creating one here).
    pub fn note_key_created(&self) {
        self.keys_exist.store(true, Ordering::Relaxed);
        self.missing.invalidate_all();
    }

    /// The identity for a request presenting `key` (if any) under `cfg`.
    /// `Ok(None)`: the gateway is open and no valid key was presented.
    pub async fn authenticate(
        &self,
        key: Option<&str>,
        cfg: &AuthConfig,
    ) -> Result<Option<Arc<Identity>>, Error> {
        let required = match cfg.mode {
            AuthMode::Open => return Ok(None),
            AuthMode::Required => true,
            AuthMode::Auto => self.keys_exist(),
        };
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return if required {
                Err(unauthorized(
                    "This gateway needs an API key: send your Sluice key as `Authorization: Bearer sk-sluice-...` (or `x-api-key`, or `x-sluice-key`).",
                ))
            } else {
                Ok(None)
            };
        };
        match self.lookup(key).await? {
            Some(identity) => Ok(Some(identity)),
            None if required => Err(unauthorized("Invalid, expired or revoked API key.")),
            None => Ok(None),
        }
    }

    async fn lookup(&self, key: &str) -> Result<Option<Arc<Identity>>, Error> {
        let hash = hash_key(key);
        let generation = self.generation.load(Ordering::Acquire);
        if let Some((_, id)) = self.found.get(&hash).filter(|(g, _)| *g == generation) {
            let expired = self
                .expiry
                .get(&hash)
                .flatten()
                .is_some_and(|e| e <= now_ms());
            return Ok((!expired).then_some(id));
        }
        if self.missing.get(&hash) == Some(generation) {
            return Ok(None);
        }
        let resolved = self.store.resolve(&hash).await.map_err(|e| {
            Error::new(
                ErrorKind::Overloaded,
                format!("the key store is unavailable, so the key cannot be checked: {e}"),
            )
        })?;
        match resolved {
            Some(r) if r.key.accepts(key, now_ms()) => {
                let identity = Arc::new(Identity::from_resolved(&r));
                // A rotated-out key works until its grace period ends.
                let until = if hash == r.key.hash {
                    r.key.expires_at
                } else {
                    match (r.key.expires_at, r.key.previous_expires_at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    }
                };
                self.expiry.insert(hash.clone(), until);
                self.found.insert(hash, (generation, identity.clone()));
                Ok(Some(identity))
            }
            _ => {
                self.missing.insert(hash, generation);
                Ok(None)
            }
        }
    }
}
