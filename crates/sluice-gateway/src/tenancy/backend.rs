//! Where rate-limit and budget counters live: Redis when configured, with
//! this process's memory as the fallback.
//!
//! Without Redis, every counter is in memory (one instance). With Redis,
//! every reservation is one atomic script call there. When Redis fails or
//! is slower than `store.redis_timeout`, the backend marks it down and:
//! - rate limits fall back to per-instance counters in memory (each
//!   instance then enforces the full limit on its own traffic);
//! - budgets fail closed: a request that has a budget to reserve is refused
//!   with 503, since spend cannot be checked;
//! - `/readyz` reports `degraded`.
//!
//! A background probe pings Redis every second while it is down (and
//! connects it if it was unreachable at start-up); the first answer brings
//! it back. Requests never wait on a Redis known to be down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use sluice_protocol::{Error, ErrorKind};
use sluice_store::counters::memory::MemoryCounters;
use sluice_store::counters::redis::RedisCounters;
use sluice_store::counters::{Adjustment, Charge, CounterError, Counters, Reservation};

use crate::config::secret::Secret;

/// How often a down Redis is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Where a reservation was made, so it settles in the same place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Local,
    Shared,
}

/// Counter health, for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterHealth {
    /// In memory only (no Redis configured).
    Local,
    /// Redis configured and answering.
    Shared,
    /// Redis configured but down: limits per instance, budgets refused.
    Degraded,
}

/// The counter backend.
pub struct CounterBackend {
    local: MemoryCounters,
    shared: ArcSwapOption<RedisCounters>,
    configured: bool,
    up: AtomicBool,
}

impl std::fmt::Debug for CounterBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterBackend")
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

fn down_error() -> Error {
    Error::new(
        ErrorKind::Overloaded,
        "Budgets cannot be checked right now (the shared counter store is unreachable), so \
         requests with a budget are refused rather than risk overspending. Retry shortly.",
    )
    .with_retry_after(Duration::from_secs(1))
}

impl CounterBackend {
    /// Starts the backend; with `redis`, tries to connect and keeps probing
    /// in the background.
    pub async fn start(redis: Option<Secret>, timeout: Duration) -> Arc<Self> {
        let this = Arc::new(Self {
            local: MemoryCounters::default(),
            shared: ArcSwapOption::empty(),
            configured: redis.is_some(),
            up: AtomicBool::new(false),
        });
        if let Some(url) = redis {
            this.probe(url.expose(), timeout).await;
            let weak = Arc::downgrade(&this);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PROBE_EVERY).await;
                    let Some(b) = weak.upgrade() else { return };
                    if !b.up.load(Ordering::Relaxed) {
                        b.probe(url.expose(), timeout).await;
                    }
                }
            });
        }
        this
    }

    async fn probe(&self, url: &str, timeout: Duration) {
        let current = self.shared.load_full();
        let ok = match current {
            Some(r) => r.ping().await,
            None => match RedisCounters::connect(url, timeout).await {
                Ok(r) => {
                    let ok = r.ping().await;
                    self.shared.store(Some(Arc::new(r)));
                    ok
                }
                Err(e) => {
                    tracing::debug!(error = %e, "Redis still unreachable");
                    false
                }
            },
        };
        if ok && !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis counters are up: limits and budgets are shared");
        }
    }

    fn mark_down(&self, e: &CounterError) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                error = %e,
                "Redis counters are down: rate limits fall back to this instance, budgets are refused"
            );
        }
    }

    fn shared_if_up(&self) -> Option<Arc<RedisCounters>> {
        if self.up.load(Ordering::Relaxed) {
            self.shared.load_full()
        } else {
            None
        }
    }

    /// Current health.
    pub fn health(&self) -> CounterHealth {
        match (self.configured, self.up.load(Ordering::Relaxed)) {
            (false, _) => CounterHealth::Local,
            (true, true) => CounterHealth::Shared,
            (true, false) => CounterHealth::Degraded,
        }
    }

    /// Reserves `charges` (all or none). `has_budget`: some charge is a
    /// budget, which must not fall back to local counters.
    pub async fn reserve(
        &self,
        charges: &[Charge],
        has_budget: bool,
    ) -> Result<(Reservation, Placement), Error> {
        if let Some(r) = self.shared_if_up() {
            match r.reserve(charges).await {
                Ok(res) => return Ok((res, Placement::Shared)),
                Err(e) => self.mark_down(&e),
            }
        }
        if self.configured && has_budget {
            return Err(down_error());
        }
        self.local
            .reserve(charges)
            .await
            .map(|r| (r, Placement::Local))
            .map_err(|e| Error::internal(e.to_string()))
    }

    /// Settles a reservation where it was made. Failures are logged: the
    /// counter then keeps the reservation until its window passes.
    pub async fn adjust(&self, placement: Placement, adjustments: &[Adjustment]) {
        let result = match placement {
            Placement::Local => self.local.adjust(adjustments).await,
            Placement::Shared => match self.shared.load_full() {
                Some(r) => r.adjust(adjustments).await,
                None => Ok(()),
            },
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not settle a reservation");
            if placement == Placement::Shared {
                self.mark_down(&e);
            }
        }
    }

    /// Seeds a fixed bucket unless it exists, where reservations go now.
    pub async fn seed(&self, key: &str, bucket: u64, ttl_ms: u64, value: f64) -> Result<(), Error> {
        let result = match self.shared_if_up() {
            Some(r) => r.seed(key, bucket, ttl_ms, value).await,
            None if self.configured => return Err(down_error()),
            None => self.local.seed(key, bucket, ttl_ms, value).await,
        };
        result.map_err(|e| {
            self.mark_down(&e);
            down_error()
        })
    }

    /// The current value of a fixed bucket (for usage reports).
    pub async fn read(&self, key: &str, bucket: u64) -> Option<f64> {
        match self.shared_if_up() {
            Some(r) => r.read(key, bucket).await.ok(),
            None if self.configured => None,
            None => self.local.read(key, bucket).await.ok(),
        }
    }
}
