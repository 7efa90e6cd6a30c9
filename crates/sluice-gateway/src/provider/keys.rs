//! Several credentials for one provider, used in rotation.

use std::sync::atomic::{AtomicUsize, Ordering};

use sluice_protocol::Error;

use crate::config::Secret;

/// Keys handed out round-robin, one per upstream request.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<Secret>,
    next: AtomicUsize,
}

impl KeyRing {
    /// A ring over `keys` (may be empty for keyless local servers).
    pub fn new(keys: Vec<Secret>) -> Self {
        Self {
            keys,
            next: AtomicUsize::new(0),
        }
    }

    /// The next key as `Authorization: Bearer <key>` (the pass-through
    /// credential of bearer-key providers); empty when there is no key.
    pub fn bearer(
        &self,
    ) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, Error> {
        match self.pick() {
            Some(key) => Ok(vec![(
                reqwest::header::AUTHORIZATION,
                super::http::sensitive(&format!("Bearer {}", key.expose()))?,
            )]),
            None => Ok(Vec::new()),
        }
    }

    /// The next key, or `None` when the provider has none.
    pub fn pick(&self) -> Option<&Secret> {
        match self.keys.len() {
            0 => None,
            1 => self.keys.first(),
            n => self.keys.get(self.next.fetch_add(1, Ordering::Relaxed) % n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates() {
        let ring = KeyRing::new(vec![Secret::new("a"), Secret::new("b")]);
        let picked: Vec<_> = (0..4)
            .map(|_| ring.pick().unwrap().expose().to_owned())
            .collect();
        assert_eq!(picked, ["a", "b", "a", "b"]);
        assert!(KeyRing::new(Vec::new()).pick().is_none());
    }
}
