//! In-process counters: one instance's limits and budgets, and the local
//! fallback when Redis is unreachable.
//!
//! Buckets live in a sharded map; a reservation locks the shards it touches
//! in a fixed order, so concurrent reservations are atomic with respect to
//! each other. Expired buckets are purged as the map grows.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{
    Adjustment, Charge, CounterError, Counters, Reservation, Slot, Window, sliding_used,
    sliding_wait_ms,
};

const SHARDS: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    value: f64,
    expires_ms: u64,
}

/// Counters in this process's memory.
#[derive(Debug)]
pub struct MemoryCounters {
    shards: Vec<Mutex<HashMap<(String, u64), Bucket>>>,
    clock: fn() -> u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::with_clock(now_ms)
    }
}

impl MemoryCounters {
    /// Counters reading time from `clock` (milliseconds; tests pass their own).
    pub fn with_clock(clock: fn() -> u64) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            clock,
        }
    }

    fn shard_of(key: &str) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() as usize) % SHARDS
    }

    fn get(map: &HashMap<(String, u64), Bucket>, key: &str, bucket: u64, now: u64) -> f64 {
        map.get(&(key.to_owned(), bucket))
            .filter(|b| b.expires_ms > now)
            .map_or(0.0, |b| b.value)
    }

    fn purge(map: &mut HashMap<(String, u64), Bucket>, now: u64) {
        if map.len() > 4096 {
            map.retain(|_, b| b.expires_ms > now);
        }
    }
}

#[async_trait]
impl Counters for MemoryCounters {
    async fn reserve(&self, charges: &[Charge]) -> Result<Reservation, CounterError> {
        let now = (self.clock)();
        let mut shard_ids: Vec<usize> = charges.iter().map(|c| Self::shard_of(&c.key)).collect();
        shard_ids.sort_unstable();
        shard_ids.dedup();
        let mut guards: Vec<(
            usize,
            parking_lot::MutexGuard<'_, HashMap<(String, u64), Bucket>>,
        )> = shard_ids
            .iter()
            .map(|&i| (i, self.shards[i].lock()))
            .collect();
        let mut slots = Vec::with_capacity(charges.len());
        let mut allowed = true;
        let mut retry_after_ms = 0u64;
        for c in charges {
            let s = Self::shard_of(&c.key);
            let Some((_, map)) = guards.iter().find(|(i, _)| *i == s) else {
                return Err(CounterError("shard not locked".into()));
            };
            let (used, bucket, reset_ms, wait) = match c.window {
                Window::Sliding { ms } => {
                    let b = now / ms;
                    let cur = Self::get(map, &c.key, b, now);
                    let prev = if b > 0 {
                        Self::get(map, &c.key, b - 1, now)
                    } else {
                        0.0
                    };
                    let used = sliding_used(cur, prev, now, ms);
                    let wait = sliding_wait_ms(cur, prev, c.floor, c.limit, now, ms);
                    (used, b, ms - now % ms, wait)
                }
                Window::Fixed { id, ttl_ms } => {
                    let used = Self::get(map, &c.key, id, now);
                    (used, id, ttl_ms, ttl_ms)
                }
            };
            if used + c.floor > c.limit + 1e-9 {
                allowed = false;
                retry_after_ms = retry_after_ms.max(wait);
            }
            slots.push(Slot {
                used,
                remaining: (c.limit - used).max(0.0),
                reset_ms,
                bucket,
                charged: 0.0,
            });
        }
        if allowed {
            for (c, slot) in charges.iter().zip(slots.iter_mut()) {
                let s = Self::shard_of(&c.key);
                let ttl = match c.window {
                    Window::Sliding { ms } => 2 * ms,
                    Window::Fixed { ttl_ms, .. } => ttl_ms,
                };
                if let Some((_, map)) = guards.iter_mut().find(|(i, _)| *i == s) {
                    Self::purge(map, now);
                    let e = map.entry((c.key.clone(), slot.bucket)).or_insert(Bucket {
                        value: 0.0,
                        expires_ms: now + ttl,
                    });
                    if e.expires_ms <= now {
                        e.value = 0.0;
                    }
                    slot.charged = c.reserved(slot.used);
                    e.value += slot.charged;
                    e.expires_ms = e.expires_ms.max(now + ttl);
                }
                slot.used += slot.charged;
                slot.remaining = (c.limit - slot.used).max(0.0);
            }
        }
        Ok(Reservation {
            allowed,
            slots,
            retry_after_ms,
        })
    }

    async fn adjust(&self, adjustments: &[Adjustment]) -> Result<(), CounterError> {
        let now = (self.clock)();
        for a in adjustments {
            let mut map = self.shards[Self::shard_of(&a.key)].lock();
            let e = map.entry((a.key.clone(), a.bucket)).or_insert(Bucket {
                value: 0.0,
                expires_ms: now + a.ttl_ms,
            });
            e.value = (e.value + a.delta).max(0.0);
        }
        Ok(())
    }

    async fn seed(
        &self,
        key: &str,
        bucket: u64,
        ttl_ms: u64,
        value: f64,
    ) -> Result<(), CounterError> {
        let now = (self.clock)();
        let mut map = self.shards[Self::shard_of(key)].lock();
        map.entry((key.to_owned(), bucket)).or_insert(Bucket {
            value,
            expires_ms: now + ttl_ms,
        });
        Ok(())
    }

    async fn read(&self, key: &str, bucket: u64) -> Result<f64, CounterError> {
        let now = (self.clock)();
        let map = self.shards[Self::shard_of(key)].lock();
        Ok(Self::get(&map, key, bucket, now))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn charge(key: &str, limit: f64, amount: f64) -> Charge {
        Charge::exact(key.into(), limit, Window::Sliding { ms: 60_000 }, amount)
    }

    #[tokio::test]
    async fn all_or_nothing() {
        let c = MemoryCounters::default();
        let r = c
            .reserve(&[charge("a", 10.0, 6.0), charge("b", 5.0, 3.0)])
            .await
            .unwrap();
        assert!(r.allowed);
        // b would overflow: neither a nor b is charged.
        let r = c
            .reserve(&[charge("a", 10.0, 3.0), charge("b", 5.0, 3.0)])
            .await
            .unwrap();
        assert!(!r.allowed);
        assert!(r.retry_after_ms > 0);
        let r = c.reserve(&[charge("a", 10.0, 4.0)]).await.unwrap();
        assert!(r.allowed, "a was not charged by the refused reservation");
        assert_eq!(r.slots[0].remaining, 0.0);
    }

    #[tokio::test]
    async fn concurrent_reservations_never_overshoot() {
        let c = Arc::new(MemoryCounters::default());
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move {
                    c.reserve(&[charge("budget", 10.0, 1.0)])
                        .await
                        .unwrap()
                        .allowed
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap() {
                ok += 1;
            }
        }
        assert_eq!(ok, 10);
    }

    #[tokio::test]
    async fn an_estimate_larger_than_the_room_takes_the_rest() {
        let c = MemoryCounters::default();
        let big = Charge {
            floor: 10.0,
            ..charge("t", 100.0, 1000.0)
        };
        let r = c.reserve(std::slice::from_ref(&big)).await.unwrap();
        assert!(r.allowed);
        assert_eq!(r.slots[0].charged, 100.0);
        assert_eq!(r.slots[0].remaining, 0.0);
        let r = c.reserve(&[big]).await.unwrap();
        assert!(!r.allowed, "the floor no longer fits");
        assert_eq!(r.slots[0].charged, 0.0);
    }

    #[tokio::test]
    async fn settle_and_seed() {
        let c = MemoryCounters::default();
        let ch = Charge::exact(
            "k".into(),
            100.0,
            Window::Fixed {
                id: 7,
                ttl_ms: 1000,
            },
            50.0,
        );
        let r = c.reserve(std::slice::from_ref(&ch)).await.unwrap();
        c.adjust(&[Adjustment {
            key: "k".into(),
            bucket: r.slots[0].bucket,
            ttl_ms: 1000,
            delta: -30.0,
        }])
        .await
        .unwrap();
        assert_eq!(c.read("k", 7).await.unwrap(), 20.0);
        c.seed("k", 7, 1000, 99.0).await.unwrap();
        assert_eq!(
            c.read("k", 7).await.unwrap(),
            20.0,
            "seed does not overwrite"
        );
        c.seed("k", 8, 1000, 99.0).await.unwrap();
        assert_eq!(c.read("k", 8).await.unwrap(), 99.0);
    }
}
