//! What the gateway has observed about each target: requests in flight,
//! latency and error moving averages, and the circuit breaker.
//!
//! One [`TargetStats`] per target identity lives in the [`StatsRegistry`],
//! which belongs to the gateway and survives config reloads: a reload that
//! keeps a target keeps its breaker state and averages. The hot path holds
//! an `Arc<TargetStats>` resolved at build time, so it never looks up a map.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::breaker::{Breaker, State};
use crate::config::routing::BreakerConfig;

/// An exponentially weighted moving average whose weight decays with time,
/// so a target that stops receiving traffic drifts back to neutral.
#[derive(Debug, Clone, Copy)]
pub struct Ewma {
    value: f64,
    at: Option<Instant>,
    samples: u64,
}

impl Ewma {
    const fn new() -> Self {
        Self {
            value: 0.0,
            at: None,
            samples: 0,
        }
    }

    /// Adds a sample; `alpha` is its weight, `half_life` how fast the old
    /// value fades with time.
    fn add(&mut self, sample: f64, alpha: f64, now: Instant, half_life: Duration) {
        if self.samples == 0 {
            self.value = sample;
        } else {
            let decayed = self.decayed(now, half_life, sample);
            self.value = decayed + alpha * (sample - decayed);
        }
        self.at = Some(now);
        self.samples += 1;
    }

    /// The value at `now`, pulled toward `neutral` by elapsed time.
    fn decayed(&self, now: Instant, half_life: Duration, neutral: f64) -> f64 {
        let Some(at) = self.at else { return neutral };
        if half_life.is_zero() {
            return self.value;
        }
        let dt = now.saturating_duration_since(at).as_secs_f64();
        let keep = 0.5f64.powf(dt / half_life.as_secs_f64());
        neutral + (self.value - neutral) * keep
    }
}

#[derive(Debug)]
struct Averages {
    ttft_ms: Ewma,
    total_ms: Ewma,
    errors: Ewma,
}

/// Observations about one target.
#[derive(Debug)]
pub struct TargetStats {
    id: String,
    in_flight: AtomicI64,
    averages: Mutex<Averages>,
    breaker: Mutex<Breaker>,
}

/// A snapshot for status pages and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsView {
    pub id: String,
    pub in_flight: i64,
    pub ttft_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub error_rate: f64,
    pub breaker: &'static str,
}

const ALPHA: f64 = 0.2;

impl TargetStats {
    fn new(id: String, breaker: BreakerConfig) -> Self {
        Self {
            id,
            in_flight: AtomicI64::new(0),
            averages: Mutex::new(Averages {
                ttft_ms: Ewma::new(),
                total_ms: Ewma::new(),
                errors: Ewma::new(),
            }),
            breaker: Mutex::new(Breaker::new(breaker)),
        }
    }

    /// The target's identity (`provider/model`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone(), None)
    }

    /// Whether the breaker lets requests through (for planning).
    pub fn available(&self, now: Instant) -> bool {
        self.breaker.lock().available(now)
    }

    /// Claims a send slot from the breaker (the half-open probe included).
    pub fn try_acquire(&self, now: Instant) -> bool {
        self.breaker.lock().try_acquire(now)
    }

    /// The breaker's state.
    pub fn breaker_state(&self, now: Instant) -> State {
        self.breaker.lock().state(now)
    }

    /// Records a successful attempt.
    pub fn on_success(&self, ttft: Option<Duration>, total: Option<Duration>, half_life: Duration) {
        let now = Instant::now();
        self.breaker.lock().on_success();
        let mut a = self.averages.lock();
        a.errors.add(0.0, ALPHA, now, half_life);
        if let Some(t) = ttft {
            a.ttft_ms
                .add(t.as_secs_f64() * 1000.0, ALPHA, now, half_life);
        }
        if let Some(t) = total {
            a.total_ms
                .add(t.as_secs_f64() * 1000.0, ALPHA, now, half_life);
        }
    }

    /// Records an upstream failure.
    pub fn on_failure(&self, half_life: Duration) {
        let now = Instant::now();
        self.breaker.lock().on_failure(now);
        self.averages.lock().errors.add(1.0, ALPHA, now, half_life);
    }

    /// Gives back a half-open probe slot that was not used.
    pub fn release_probe(&self) {
        self.breaker.lock().release_probe();
    }

    /// Error rate (0..1), decayed toward zero over `half_life`.
    pub fn error_rate(&self, half_life: Duration) -> f64 {
        self.averages
            .lock()
            .errors
            .decayed(Instant::now(), half_life, 0.0)
    }

    /// Latency average: time to first token if any was seen, else total.
    pub fn latency_ms(&self, prefer_ttft: bool) -> Option<f64> {
        let a = self.averages.lock();
        let pick = |e: &Ewma| (e.samples > 0).then_some(e.value);
        if prefer_ttft {
            pick(&a.ttft_ms).or_else(|| pick(&a.total_ms))
        } else {
            pick(&a.total_ms).or_else(|| pick(&a.ttft_ms))
        }
    }

    /// A snapshot.
    pub fn view(&self) -> StatsView {
        let now = Instant::now();
        let a = self.averages.lock();
        StatsView {
            id: self.id.clone(),
            in_flight: self.in_flight(),
            ttft_ms: (a.ttft_ms.samples > 0).then_some(a.ttft_ms.value),
            total_ms: (a.total_ms.samples > 0).then_some(a.total_ms.value),
            error_rate: a.errors.decayed(now, Duration::from_secs(30), 0.0),
            breaker: self.breaker.lock().state(now).as_str(),
        }
    }
}

/// Decrements the in-flight count when dropped.
#[derive(Debug)]
pub struct InFlight(Arc<TargetStats>, Option<super::gate::Permit>);

impl InFlight {
    /// Also holds the provider's in-flight permit until the attempt ends
    /// (for a stream: until the stream ends).
    pub fn holding(mut self, permit: super::gate::Permit) -> Self {
        self.1 = Some(permit);
        self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every target's stats, kept across config reloads.
#[derive(Debug, Default)]
pub struct StatsRegistry {
    targets: Mutex<HashMap<String, Arc<TargetStats>>>,
    /// In-flight counts per provider name ([`super::gate`]).
    gates: Mutex<HashMap<String, Arc<super::gate::Gate>>>,
}

impl StatsRegistry {
    /// The stats for `id`, created with `breaker` settings if new.
    pub fn get(&self, id: &str, breaker: BreakerConfig) -> Arc<TargetStats> {
        self.targets
            .lock()
            .entry(id.to_owned())
            .or_insert_with(|| Arc::new(TargetStats::new(id.to_owned(), breaker)))
            .clone()
    }

    /// The in-flight gate of the provider `name`.
    pub fn gate(&self, name: &str) -> Arc<super::gate::Gate> {
        self.gates
            .lock()
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Snapshots of every target, sorted by id.
    pub fn views(&self) -> Vec<StatsView> {
        let mut v: Vec<StatsView> = self.targets.lock().values().map(|s| s.view()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn error_rate_decays_back_to_healthy() {
        let s = TargetStats::new("t".into(), BreakerConfig::default());
        let hl = Duration::from_secs(10);
        for _ in 0..10 {
            s.on_failure(hl);
        }
        assert!(s.error_rate(hl) > 0.8);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(s.error_rate(hl) < 0.15, "{}", s.error_rate(hl));
        for _ in 0..10 {
            s.on_success(None, Some(Duration::from_millis(5)), hl);
        }
        assert!(s.error_rate(hl) < 0.02);
    }

    #[test]
    fn in_flight_guard() {
        let s = Arc::new(TargetStats::new("t".into(), BreakerConfig::default()));
        let a = s.start();
        let b = s.start();
        assert_eq!(s.in_flight(), 2);
        drop(a);
        drop(b);
        assert_eq!(s.in_flight(), 0);
    }
}
