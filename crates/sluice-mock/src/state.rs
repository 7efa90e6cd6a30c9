//! What the mock remembers: every request it received, how each response
//! ended, and the scripted behaviour queue.

use std::collections::{HashMap, VecDeque};
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

/// Most requests kept; older ones are forgotten first.
pub const LOG_CAPACITY: usize = 50_000;

#[derive(Debug, Default)]
struct Inner {
    seq: AtomicU64,
    log: Mutex<VecDeque<Received>>,
    script: Mutex<VecDeque<Step>>,
    /// When set, requests are not recorded (benchmarks).
    quiet: std::sync::atomic::AtomicBool,
    /// When set, requests without this key are refused.
    required_key: Mutex<Option<String>>,
    /// Access tokens the mock's OAuth2 token endpoint issued (Vertex).
    issued_tokens: Mutex<std::collections::HashSet<String>>,
    /// When set, Bedrock requests must carry a valid SigV4 signature.
    aws: Mutex<Option<crate::sigv4::AwsCredentials>>,
    /// Objects a format keeps between requests (Replicate predictions).
    objects: Mutex<HashMap<String, serde_json::Value>>,
}

impl MockState {
    /// A state that records nothing, for benchmarks.
    pub fn quiet() -> Self {
        let s = Self::default();
        s.inner.quiet.store(true, Ordering::Relaxed);
        s
    }

    /// Logs a request; returns its sequence number.
    pub fn log(&self, mut r: Received) -> u64 {
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if self.inner.quiet.load(Ordering::Relaxed) {
            return seq;
        }
        r.seq = seq;
        let mut log = self.inner.log.lock();
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(r);
        seq
    }

    fn with_entry(&self, seq: u64, f: impl FnOnce(&mut Received)) {
        let mut log = self.inner.log.lock();
        let Some(first) = log.front().map(|r| r.seq) else {
            return;
        };
        let idx = seq.checked_sub(first).and_then(|i| usize::try_from(i).ok());
        if let Some(r) = idx.and_then(|i| log.get_mut(i)).filter(|r| r.seq == seq) {
            f(r);
        } else if let Some(r) = log.iter_mut().find(|r| r.seq == seq) {
            f(r);
        }
    }

    /// Updates how request `seq` ended.
    pub fn set_outcome(&self, seq: u64, outcome: &str) {
        self.with_entry(seq, |r| r.outcome = outcome.to_owned());
    }

    /// Records the usage reported for request `seq`.
    pub fn set_usage(&self, seq: u64, usage: serde_json::Value) {
        self.with_entry(seq, |r| r.usage = Some(usage));
    }

    /// Every request received so far (the last [`LOG_CAPACITY`]).
    pub fn requests(&self) -> Vec<Received> {
        self.inner.log.lock().iter().cloned().collect()
    }

    /// Requires `key` on every request (or nothing, with `None`).
    pub fn set_required_key(&self, key: Option<String>) {
        *self.inner.required_key.lock() = key;
    }

    /// The key requests must carry, if any.
    pub fn required_key(&self) -> Option<String> {
        self.inner.required_key.lock().clone()
    }

    /// Issues a new access token (`mock-vertex-token-N`) and remembers it.
    pub fn issue_token(&self) -> String {
        let mut issued = self.inner.issued_tokens.lock();
        let token = format!("mock-vertex-token-{}", issued.len() + 1);
        issued.insert(token.clone());
        token
    }

    /// Whether `token` was issued by this mock.
    pub fn token_issued(&self, token: &str) -> bool {
        self.inner.issued_tokens.lock().contains(token)
    }

    /// Requires SigV4 signatures made with `creds` on Bedrock paths (or
    /// accepts any request, with `None`).
    pub fn set_aws_credentials(&self, creds: Option<crate::sigv4::AwsCredentials>) {
        *self.inner.aws.lock() = creds;
    }

    /// The credentials Bedrock requests must be signed with, if any.
    pub fn aws_credentials(&self) -> Option<crate::sigv4::AwsCredentials> {
        self.inner.aws.lock().clone()
    }

    /// Forgets requests, script and stored objects.
    pub fn reset(&self) {
        self.inner.log.lock().clear();
        self.inner.script.lock().clear();
        self.inner.objects.lock().clear();
    }

    /// Stores an object a format needs across requests (e.g. a Replicate
    /// prediction) under `id`. At most [`LOG_CAPACITY`] are kept.
    pub fn put_object(&self, id: &str, value: serde_json::Value) {
        let mut objects = self.inner.objects.lock();
        if objects.len() >= LOG_CAPACITY
            && let Some(old) = objects.keys().next().cloned()
        {
            objects.remove(&old);
        }
        objects.insert(id.to_owned(), value);
    }

    /// Runs `f` on the object stored under `id`, if any.
    pub fn with_object<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut serde_json::Value) -> R,
    ) -> Option<R> {
        self.inner.objects.lock().get_mut(id).map(f)
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
