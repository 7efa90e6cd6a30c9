//! Tenancy: who may call, and how much.
//!
//! One [`Tenancy`] per process, shared by every config snapshot. It owns
//! the SQL store (keys, consumers, teams, the ledger), the key
//! [`directory`] that authenticates requests, and the counters behind rate
//! limits and budgets ([`backend`]).
//!
//! On each request:
//! 1. the auth layer resolves the presented key to an [`Identity`]
//!    (`server::auth`);
//! 2. the pipeline calls [`Tenancy::admit`] once the model and the prompt are
//!    known: allowed models and routes are checked, then every limit and
//!    budget that applies is reserved at once ([`limiter`]);
//! 3. when the request's record is finished, the reservation settles to the
//!    real usage and cost ([`limiter::Ticket::settle`]), in the background.
//!
//! The admin API manages keys ([`manage`]), consumers and teams
//! ([`people`]) and reads [`usage`].
//!
//! `docs/tenancy.md` describes the behaviour users see.

pub mod backend;
pub mod directory;
pub mod headers;
pub mod identity;
pub mod limiter;
pub mod manage;
pub mod people;
pub mod period;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use sluice_store::{Db, KeyStore, StoreError};

pub use backend::CounterBackend;
pub use directory::Directory;
pub use identity::{Identity, Owner};

use crate::config::tenancy::{AuthConfig, Database, StoreConfig};

/// How often the directory re-reads whether any key exists.
const KEYS_EXIST_REFRESH: Duration = Duration::from_secs(2);

/// Process-wide tenancy state.
pub struct Tenancy {
    db: Db,
    directory: Directory,
    counters: Arc<CounterBackend>,
    /// Budget buckets already seeded from the ledger by this process.
    seeded: moka::sync::Cache<String, ()>,
    _refresh: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Tenancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenancy").finish_non_exhaustive()
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the store ({what}): {source}")]
pub struct OpenError {
    what: String,
    #[source]
    source: StoreError,
}

impl Tenancy {
    /// Opens the database (running migrations) and starts the counters. An
    /// unreachable Redis does not fail start-up: counters run degraded
    /// until it answers.
    pub async fn open(store: &StoreConfig, auth: &AuthConfig) -> Result<Arc<Self>, OpenError> {
        let db = match &store.database {
            Database::Sqlite(path) => Db::sqlite(path).await.map_err(|source| OpenError {
                what: format!("SQLite at {}", path.display()),
                source,
            })?,
            Database::Postgres(url) => {
                Db::postgres(url.expose())
                    .await
                    .map_err(|source| OpenError {
                        what: "PostgreSQL".to_owned(),
                        source,
                    })?
            }
        };
        let counters = CounterBackend::start(store.redis.clone(), store.redis_timeout).await;
        let keys: Arc<dyn KeyStore> = Arc::new(db.clone());
        let directory = Directory::new(keys, auth.cache_ttl);
        directory.refresh().await;
        Ok(Arc::new_cyclic(|weak: &std::sync::Weak<Self>| {
            let weak = weak.clone();
            let refresh = tokio::spawn(async move {
                let mut tick = tokio::time::interval(KEYS_EXIST_REFRESH);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(t) = weak.upgrade() else { return };
                    t.directory.refresh().await;
                }
            });
            Self {
                db,
                directory,
                counters,
                seeded: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(Duration::from_secs(86_400))
                    .build(),
                _refresh: refresh,
            }
        }))
    }

    /// The SQL store.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The key store (the SQL store).
    pub fn keys(&self) -> &dyn KeyStore {
        &self.db
    }

    /// The key directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The rate-limit and budget counters.
    pub fn counters(&self) -> &Arc<CounterBackend> {
        &self.counters
    }

    /// Whether the gateway currently accepts requests without a key.
    pub fn is_open(&self, auth: &AuthConfig) -> bool {
        use crate::config::tenancy::AuthMode;
        match auth.mode {
            AuthMode::Open => true,
            AuthMode::Required => false,
            AuthMode::Auto => !self.directory.keys_exist(),
        }
    }
}

impl Drop for Tenancy {
    fn drop(&mut self) {
        self._refresh.abort();
    }
}
