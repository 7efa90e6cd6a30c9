//! The circuit breaker of one target.
//!
//! Closed: requests flow; consecutive upstream failures are counted.
//! After `failures` in a row the target is ejected (Open) for a cool-down
//! that doubles with each repeat ejection, up to `max_cooldown`. When the
//! cool-down ends the breaker is Half-open: exactly one request (the probe)
//! is let through; its success closes the breaker, its failure re-opens it
//! with a longer cool-down. Time is tokio's, so tests run with paused time.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::routing::BreakerConfig;

/// The breaker's state, as reported on admin and status pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// One target's breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    failures: u32,
    ejections: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            failures: 0,
            ejections: 0,
            open_until: None,
            probe_in_flight: false,
        }
    }

    /// The state at `now`.
    pub fn state(&self, now: Instant) -> State {
        match self.open_until {
            None => State::Closed,
            Some(until) if now < until => State::Open,
            Some(_) => State::HalfOpen,
        }
    }

    /// Whether a request may go to the target now, without taking the
    /// half-open probe slot (used when planning).
    pub fn available(&self, now: Instant) -> bool {
        match self.state(now) {
            State::Closed => true,
            State::Open => false,
            State::HalfOpen => !self.probe_in_flight,
        }
    }

    /// Claims the right to send a request now. In half-open state only one
    /// caller gets it until the probe reports back.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        match self.state(now) {
            State::Closed => true,
            State::Open => false,
            State::HalfOpen if self.probe_in_flight => false,
            State::HalfOpen => {
                self.probe_in_flight = true;
                true
            }
        }
    }

    /// Reports a success.
    pub fn on_success(&mut self) {
        self.failures = 0;
        self.open_until = None;
        self.probe_in_flight = false;
        self.ejections = self.ejections.saturating_sub(1);
    }

    /// Reports an upstream failure at `now`.
    pub fn on_failure(&mut self, now: Instant) {
        if self.cfg.failures == 0 {
            return;
        }
        let half_open = self.state(now) == State::HalfOpen;
        self.failures += 1;
        if half_open || self.failures >= self.cfg.failures {
            let factor = 2u32.saturating_pow(self.ejections.min(16));
            let cooldown = self
                .cfg
                .cooldown
                .saturating_mul(factor)
                .min(self.cfg.max_cooldown);
            self.open_until = Some(now + cooldown);
            self.ejections += 1;
            self.failures = 0;
            self.probe_in_flight = false;
        }
    }

    /// Releases a probe slot that was acquired but never used.
    pub fn release_probe(&mut self) {
        self.probe_in_flight = false;
    }

    /// Time left in the current ejection.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.open_until
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failures: 3,
            cooldown: Duration::from_secs(10),
            max_cooldown: Duration::from_secs(35),
            panic_threshold: 0.5,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_n_failures_and_closes_after_cooldown() {
        let mut b = Breaker::new(cfg());
        let now = Instant::now();
        b.on_failure(now);
        b.on_failure(now);
        assert_eq!(b.state(now), State::Closed);
        b.on_failure(now);
        assert_eq!(b.state(Instant::now()), State::Open);
        assert!(!b.try_acquire(Instant::now()));
        tokio::time::advance(Duration::from_secs(10)).await;
        let now = Instant::now();
        assert_eq!(b.state(now), State::HalfOpen);
        assert!(b.try_acquire(now), "one probe");
        assert!(!b.try_acquire(now), "only one probe");
        b.on_success();
        assert_eq!(b.state(Instant::now()), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn repeat_ejections_grow_up_to_the_cap() {
        let mut b = Breaker::new(cfg());
        for _ in 0..3 {
            b.on_failure(Instant::now());
        }
        assert_eq!(b.remaining(Instant::now()), Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.try_acquire(Instant::now()));
        b.on_failure(Instant::now()); // the probe fails
        assert_eq!(b.remaining(Instant::now()), Duration::from_secs(20));
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(b.try_acquire(Instant::now()));
        b.on_failure(Instant::now());
        assert_eq!(
            b.remaining(Instant::now()),
            Duration::from_secs(35),
            "capped"
        );
    }

    #[test]
    fn zero_failures_disables() {
        let mut c = cfg();
        c.failures = 0;
        let mut b = Breaker::new(c);
        for _ in 0..100 {
            b.on_failure(Instant::now());
        }
        assert_eq!(b.state(Instant::now()), State::Closed);
    }
}
