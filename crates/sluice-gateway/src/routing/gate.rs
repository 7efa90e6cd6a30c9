//! Per-upstream in-flight limits (`providers.<name>.max_in_flight`).
//!
//! One [`Gate`] per provider name counts the requests in flight to it,
//! across every model and target that uses the provider and across config
//! reloads (gates live in the [`super::stats::StatsRegistry`]). The executor
//! takes a [`Permit`] before an attempt; a full gate skips the target
//! without counting as a failure (the breaker is untouched), so the request
//! falls back to the next target, and a request whose every target is full
//! is shed with 503 at once. Never a queue: taking a permit is one atomic
//! add.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sluice_protocol::{Error, ErrorKind};

/// The in-flight count of one provider.
#[derive(Debug, Default)]
pub struct Gate {
    in_flight: AtomicUsize,
}

/// One request in flight through a gate; leaving drops the count.
#[derive(Debug)]
pub struct Permit(Arc<Gate>);

impl Gate {
    /// A permit if fewer than `limit` requests are in flight (always, with
    /// no limit).
    pub fn try_enter(self: &Arc<Self>, limit: Option<usize>) -> Option<Permit> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(self.clone());
        match limit {
            Some(max) if before >= max => None, // dropping the permit undoes the add
            _ => Some(permit),
        }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The error of a request whose every target's provider was full.
pub fn full(provider: &str, limit: usize) -> Error {
    Error::new(
        ErrorKind::Overloaded,
        format!(
            "The upstream `{provider}` is serving its limit of {limit} requests \
             (max_in_flight); retry shortly."
        ),
    )
    .with_provider(provider)
    .with_retry_after(std::time::Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gate_refuses_and_a_dropped_permit_frees_a_slot() {
        let g = Arc::new(Gate::default());
        let a = g.try_enter(Some(2)).unwrap();
        let _b = g.try_enter(Some(2)).unwrap();
        assert!(g.try_enter(Some(2)).is_none());
        assert_eq!(g.in_flight(), 2, "a refusal leaves no count behind");
        drop(a);
        assert!(g.try_enter(Some(2)).is_some());
        assert!(g.try_enter(None).is_some(), "no limit: always");
    }
}
