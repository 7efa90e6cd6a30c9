//! Coalescing of concurrent identical misses.
//!
//! The first request to miss on a key becomes its leader and goes upstream;
//! the others with the same key, arriving while it runs, wait for the
//! leader's guard to drop (after its answer is stored, or after it failed)
//! and then look the key up again. A follower that still finds nothing (the
//! leader failed, or its answer was not storable) goes upstream itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::watch;

type Map = Arc<Mutex<HashMap<String, (u64, watch::Receiver<()>)>>>;

/// The keys being fetched upstream right now.
#[derive(Default)]
pub struct Inflight {
    map: Map,
    next: AtomicU64,
}

/// Held by the leader until its answer is stored (or abandoned).
pub struct Guard {
    map: Map,
    key: String,
    id: u64,
    _tx: watch::Sender<()>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut m = self.map.lock();
        if m.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            m.remove(&self.key);
        }
        // `_tx` drops after this: every follower wakes up.
    }
}

/// A request's role for one key.
pub enum Join {
    Leader(Guard),
    /// Wait with [`wait`], then look up again.
    Follower(watch::Receiver<()>),
}

impl Inflight {
    /// Joins the fetch of `key`, leading it if none is running.
    pub fn join(&self, key: &str) -> Join {
        let mut m = self.map.lock();
        if let Some((_, rx)) = m.get(key) {
            return Join::Follower(rx.clone());
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(());
        m.insert(key.to_owned(), (id, rx));
        Join::Leader(Guard {
            map: self.map.clone(),
            key: key.to_owned(),
            id,
            _tx: tx,
        })
    }
}

/// Waits until the leader is done (its guard dropped).
pub async fn wait(mut rx: watch::Receiver<()>) {
    // Nothing is ever sent: `changed` returns once the sender is dropped.
    while rx.changed().await.is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_then_followers_wake() {
        let f = Inflight::default();
        let Join::Leader(g) = f.join("k") else {
            panic!("first is the leader")
        };
        let Join::Follower(rx) = f.join("k") else {
            panic!("second follows")
        };
        assert!(matches!(f.join("other"), Join::Leader(_)));
        let waiter = tokio::spawn(wait(rx));
        drop(g);
        waiter.await.unwrap();
        assert!(matches!(f.join("k"), Join::Leader(_)));
    }
}
