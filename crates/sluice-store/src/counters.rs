//! Counters for rate limits and budgets: all-or-nothing reservations over
//! several windows at once, settled later.
//!
//! A [`Charge`] asks to add `amount` to a counter if that keeps it within
//! `limit` over its window. Windows are sliding (the current and previous
//! window, the previous one weighted by how much of it still overlaps: the
//! standard sliding-window-counter approximation) or fixed (a caller-chosen
//! bucket, e.g. the current calendar month for a budget). [`Counters::reserve`]
//! checks every charge of a request and applies them all or none, so a
//! request never half-consumes its limits. [`Counters::adjust`] settles a
//! reservation to the real amount once the response is known.
//!
//! Implementations: [`memory::MemoryCounters`] (one instance) and
//! [`redis::RedisCounters`] (shared, one Lua script per reservation, using
//! the Redis server's clock).

pub mod memory;
pub mod redis;

use async_trait::async_trait;

/// The window a charge counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A sliding window of this many milliseconds.
    Sliding { ms: u64 },
    /// The fixed bucket `id`; the counter expires after `ttl_ms`.
    Fixed { id: u64, ttl_ms: u64 },
}

/// One counter a request wants to add to.
///
/// The charge is admitted when `floor` fits (`used + floor <= limit`); it
/// then reserves `amount`, or only the room left if that is less (but never
/// less than `floor`). A token reservation's floor is the part known for
/// sure (the prompt), its amount the estimate with the answer: a request
/// whose estimate is larger than what is left is not refused for that, it
/// takes the rest of the room, and settles to its real usage later.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Counter identity (rule and partition), e.g. `lim:key:abc:total_tokens:60`.
    pub key: String,
    pub limit: f64,
    pub window: Window,
    pub amount: f64,
    /// What must fit for the charge to be admitted (at most `amount`).
    pub floor: f64,
}

impl Charge {
    /// A charge of exactly `amount` (floor and amount equal).
    pub fn exact(key: String, limit: f64, window: Window, amount: f64) -> Self {
        Self {
            key,
            limit,
            window,
            amount,
            floor: amount,
        }
    }

    /// What this charge reserves when `used` is already counted.
    pub fn reserved(&self, used: f64) -> f64 {
        self.amount.min((self.limit - used).max(self.floor))
    }
}

/// What a charge looks like after a reservation attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// Usage counted in the window, this request's reservation included if
    /// it was allowed.
    pub used: f64,
    pub remaining: f64,
    /// Milliseconds until the window frees up (next bucket for sliding).
    pub reset_ms: u64,
    /// The bucket the amount went to, for settling.
    pub bucket: u64,
    /// What was reserved (0 when the reservation was refused).
    pub charged: f64,
}

/// The result of [`Counters::reserve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub allowed: bool,
    /// One per charge, in order.
    pub slots: Vec<Slot>,
    /// When denied: how long until the most constraining charge would fit.
    pub retry_after_ms: u64,
}

/// A settlement: add `delta` (may be negative) to a counter's bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustment {
    pub key: String,
    pub bucket: u64,
    /// TTL to keep the bucket alive for, milliseconds.
    pub ttl_ms: u64,
    pub delta: f64,
}

/// Counter store failure (the backend is unreachable or timed out).
#[derive(Debug, Clone, thiserror::Error)]
#[error("counter store unavailable: {0}")]
pub struct CounterError(pub String);

/// Where counters live.
#[async_trait]
pub trait Counters: Send + Sync + 'static {
    /// Checks every charge and, if all fit, adds all of them.
    async fn reserve(&self, charges: &[Charge]) -> Result<Reservation, CounterError>;
    /// Applies settlements.
    async fn adjust(&self, adjustments: &[Adjustment]) -> Result<(), CounterError>;
    /// Sets a fixed bucket's value unless it already exists (used to seed
    /// budgets from the ledger after a restart).
    async fn seed(
        &self,
        key: &str,
        bucket: u64,
        ttl_ms: u64,
        value: f64,
    ) -> Result<(), CounterError>;
    /// The current usage of a fixed bucket (0 when absent).
    async fn read(&self, key: &str, bucket: u64) -> Result<f64, CounterError>;
}

/// The sliding-window estimate: the current bucket plus the part of the
/// previous one that still overlaps the window.
pub fn sliding_used(current: f64, previous: f64, now_ms: u64, window_ms: u64) -> f64 {
    let into = (now_ms % window_ms) as f64 / window_ms as f64;
    current + previous * (1.0 - into)
}

/// How long until `amount` fits under `limit` in a sliding window, assuming
/// nothing else is added.
pub fn sliding_wait_ms(
    current: f64,
    previous: f64,
    amount: f64,
    limit: f64,
    now_ms: u64,
    window_ms: u64,
) -> u64 {
    let w = window_ms as f64;
    let into = (now_ms % window_ms) as f64;
    let room = limit - amount;
    if room < 0.0 {
        // Never fits; say "a full window".
        return window_ms;
    }
    // Within the current bucket: current + previous * (1 - t/w) <= room.
    if current <= room && previous > 0.0 {
        let t = w * (1.0 - (room - current) / previous);
        if t >= into && t <= w {
            return (t - into).ceil() as u64;
        }
    }
    // In the next bucket: current * (1 - t/w) <= room, t from its start.
    let to_next = w - into;
    if current <= room {
        return to_next as u64;
    }
    let t = w * (1.0 - room / current);
    (to_next + t).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_estimate_and_wait() {
        assert_eq!(sliding_used(10.0, 100.0, 30_000, 60_000), 60.0);
        // At the very start of a bucket all of the previous one counts.
        assert_eq!(sliding_used(0.0, 100.0, 60_000, 60_000), 100.0);
        // 100 used in the previous bucket, limit 100: 40 more fit once 40% of it slid out.
        let wait = sliding_wait_ms(0.0, 100.0, 40.0, 100.0, 0, 60_000);
        assert_eq!(wait, 24_000);
        // Current bucket full: wait into the next bucket.
        let wait = sliding_wait_ms(100.0, 0.0, 10.0, 100.0, 30_000, 60_000);
        assert_eq!(wait, 30_000 + 6_000);
    }
}
