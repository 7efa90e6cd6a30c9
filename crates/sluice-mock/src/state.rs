//! What the mock remembers: every request it received, how each response
//! ended, and the scripted behaviour queue.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::behavior::Behavior;

/// One received request, as tests see it at `GET /__mock/requests`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names lowercased; values as received.
    pub headers: Vec<(String, String)>,
    /// The body as JSON when it parses, else as a string.
    pub body: serde_json::Value,
    /// How the response ended: `completed`, `disconnected`, or `pending`.
    pub outcome: String,
    /// Usage the mock reported for this request, if any.
    pub usage: Option<serde_json::Value>,
}

impl Received {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted step: a behaviour for the next request matching `model`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Only requests for this model take the step (any model when unset).
    #[serde(default)]
    pub model: Option<String>,
    #[serde(flatten)]
    pub behavior: Behavior,
}

/// Shared state of one mock server.
#[derive(Debug, Default, Clone)]
pub struct MockState {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seq: AtomicU64,
    log: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Step>>,
}

impl MockState {
    /// Logs a request; returns its sequence number.
    pub fn log(&self, mut r: Received) -> u64 {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
        r.seq = seq;
        self.inner.log.lock().push(r);
        seq
    }

    /// Updates how request `seq` ended.
    pub fn set_outcome(&self, seq: u64, outcome: &str) {
        if let Some(r) = self.inner.log.lock().iter_mut().find(|r| r.seq == seq) {
            r.outcome = outcome.to_owned();
        }
    }

    /// Records the usage reported for request `seq`.
    pub fn set_usage(&self, seq: u64, usage: serde_json::Value) {
        if let Some(r) = self.inner.log.lock().iter_mut().find(|r| r.seq == seq) {
            r.usage = Some(usage);
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.inner.log.lock().clone()
    }

    /// Forgets requests and script.
    pub fn reset(&self) {
        self.inner.log.lock().clear();
        self.inner.script.lock().clear();
    }

    /// Appends scripted steps.
    pub fn push_script(&self, steps: impl IntoIterator<Item = Step>) {
        self.inner.script.lock().extend(steps);
    }

    /// Takes the next step that applies to `model`.
    pub fn next_step(&self, model: Option<&str>) -> Option<Behavior> {
        let mut q = self.inner.script.lock();
        let idx = q
            .iter()
            .position(|s| s.model.is_none() || s.model.as_deref() == model)?;
        q.remove(idx).map(|s| s.behavior)
    }
}
