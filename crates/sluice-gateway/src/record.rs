//! The record of one request, built while it runs and emitted exactly once.
//!
//! The outermost layer creates a [`RecordHandle`] for every request the
//! listener accepts and puts it in the request's extensions. Handlers and
//! services fill it in; a streaming response body keeps a clone until the
//! stream ends. When the last clone is dropped the record is finished and
//! handed to the ledger. A request whose outcome was never set (the client
//! went away first) is recorded as `client_cancelled`. Because emission
//! happens on drop, no path can forget it, and none can emit it twice.
//!
//! At that moment the cost is computed from the usage and the answering
//! target's price, then the finish hooks run (limit and budget settlement),
//! in the order they were added. Policies may also leave headers for the
//! outermost layer to add to the response ([`RecordHandle::add_header`]).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};
use parking_lot::Mutex;
use sluice_protocol::{Error, Usage};
use sluice_store::{Attempt, Outcome, RequestRecord};

use crate::config::observe::PayloadConfig;
use crate::ledger::Ledger;
use crate::payloads::Capture;
use crate::pricing::Price;

/// Runs once, with the finished record, before it goes to the ledger.
pub type FinishHook = Box<dyn FnOnce(&RequestRecord) + Send>;

/// Builds response headers when the response starts, from the usage and
/// cost known by then (a complete answer's; none yet for a stream).
pub type HeaderFn =
    Box<dyn FnOnce(Option<&Usage>, Option<f64>) -> Vec<(HeaderName, HeaderValue)> + Send>;

/// Shared, cheap handle on the record of one request.
#[derive(Clone)]
pub struct RecordHandle(Arc<Cell>);

struct Cell {
    id: Arc<str>,
    start: Instant,
    draft: Mutex<Draft>,
    ledger: Ledger,
}

struct Draft {
    record: RequestRecord,
    finished: bool,
    /// The answering target's price, for the cost.
    price: Option<Price>,
    hooks: Vec<FinishHook>,
    /// Headers policies want on the response.
    headers: Vec<(HeaderName, HeaderValue)>,
    header_fn: Option<HeaderFn>,
    /// Bodies captured for payload logging, when armed.
    capture: Option<Capture>,
}

impl RecordHandle {
    /// A new record for a request that just arrived.
    pub fn start(ledger: Ledger, method: &str, path: &str) -> Self {
        let id: Arc<str> = uuid::Uuid::now_v7().to_string().into();
        let started_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let record = RequestRecord::new(id.to_string(), started_at_ms, method, path);
        Self(Arc::new(Cell {
            id,
            start: Instant::now(),
            draft: Mutex::new(Draft {
                record,
                finished: false,
                price: None,
                hooks: Vec::new(),
                headers: Vec::new(),
                header_fn: None,
                capture: None,
            }),
            ledger,
        }))
    }

    /// A new record for a call made on behalf of this request (a guardrail
    /// transformer's LLM call): same ledger, caller and route, its own id,
    /// and `metadata.parent_request_id` pointing back here.
    pub fn child(&self, method: &str, path: &str) -> Self {
        let child = Self::start(self.0.ledger.clone(), method, path);
        let (identity, route) = self.read(|r| (r.identity.clone(), r.meta.route.clone()));
        let parent = self.id().to_owned();
        child.update(|r| {
            r.identity = identity;
            r.meta.route = route;
            r.metadata = Some(serde_json::json!({ "parent_request_id": parent }));
        });
        child
    }

    /// The request id (UUIDv7).
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// When the request arrived.
    pub fn started(&self) -> Instant {
        self.0.start
    }

    /// Time since the request arrived.
    pub fn elapsed(&self) -> Duration {
        self.0.start.elapsed()
    }

    /// Edits the record. Keep the closure short: it holds a lock.
    pub fn update(&self, f: impl FnOnce(&mut RequestRecord)) {
        f(&mut self.0.draft.lock().record);
    }

    /// Adds one upstream attempt.
    pub fn push_attempt(&self, mut attempt: Attempt) {
        let now = self.elapsed().as_secs_f64() * 1000.0;
        attempt
            .start_ms
            .get_or_insert((now - attempt.latency_ms).max(0.0));
        self.update(|r| r.attempts.push(attempt));
    }

    /// Sets usage (replacing any earlier value).
    pub fn set_usage(&self, usage: Usage) {
        self.update(|r| r.usage = Some(usage));
    }

    /// Reads the record. Keep the closure short: it holds a lock.
    pub fn read<T>(&self, f: impl FnOnce(&RequestRecord) -> T) -> T {
        f(&self.0.draft.lock().record)
    }

    /// Sets the price the cost is computed at (the answering target's).
    pub fn set_price(&self, price: Option<Price>) {
        self.0.draft.lock().price = price;
    }

    /// Adds a hook run with the finished record.
    pub fn on_finish(&self, hook: FinishHook) {
        self.0.draft.lock().hooks.push(hook);
    }

    /// Adds (or replaces) a response header.
    pub fn add_header(&self, name: HeaderName, value: HeaderValue) {
        let mut d = self.0.draft.lock();
        d.headers.retain(|(n, _)| *n != name);
        d.headers.push((name, value));
    }

    /// Sets the function building more response headers (replacing any).
    pub fn set_header_fn(&self, f: HeaderFn) {
        self.0.draft.lock().header_fn = Some(f);
    }

    /// Takes the headers left for the response.
    pub fn take_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let (mut headers, f, usage, cost) = {
            let mut d = self.0.draft.lock();
            let usage = d.record.usage;
            let cost = d.record.cost_usd.or_else(|| Some(d.price?.cost(&usage?)));
            (
                std::mem::take(&mut d.headers),
                d.header_fn.take(),
                usage,
                cost,
            )
        };
        if let Some(f) = f {
            headers.extend(f(usage.as_ref(), cost));
        }
        headers
    }

    /// Starts capturing bodies for payload logging (the request's now).
    pub fn arm_capture(&self, cfg: PayloadConfig, request: bytes::Bytes) {
        self.0.draft.lock().capture = Some(Capture::new(cfg, request));
    }

    /// Whether bodies are being captured.
    pub fn capturing(&self) -> bool {
        self.0.draft.lock().capture.is_some()
    }

    /// Adds response bytes to the capture, if armed.
    pub fn capture_response(&self, chunk: &[u8]) {
        if let Some(c) = self.0.draft.lock().capture.as_mut() {
            c.push_response(chunk);
        }
    }

    /// Whether the outcome has been decided.
    pub fn is_finished(&self) -> bool {
        self.0.draft.lock().finished
    }

    /// Marks the request as successfully completed.
    pub fn finish_ok(&self) {
        self.finish(Outcome::Ok, None);
    }

    /// Marks the request as failed with `err`; `after_first_byte` when part
    /// of a stream had already reached the client.
    pub fn finish_err(&self, err: &Error, after_first_byte: bool) {
        self.finish(Outcome::from_error(err.kind(), after_first_byte), Some(err));
    }

    fn finish(&self, outcome: Outcome, err: Option<&Error>) {
        let latency = self.elapsed();
        let mut d = self.0.draft.lock();
        if d.finished {
            return;
        }
        d.finished = true;
        d.record.outcome = outcome;
        d.record.latency_ms = ms(latency);
        if let Some(e) = err {
            d.record.error = Some(e.kind().as_str().to_owned());
            d.record.error_message = Some(e.message().to_owned());
        }
    }
}

/// Milliseconds as a float, for records.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Drop for Cell {
    fn drop(&mut self) {
        let d = self.draft.get_mut();
        if !d.finished {
            d.record.outcome = Outcome::ClientCancelled;
            d.record.latency_ms = ms(self.start.elapsed());
        }
        if d.record.cost_usd.is_none()
            && let (Some(price), Some(usage)) = (d.price, d.record.usage)
        {
            d.record.cost_usd = Some(price.cost(&usage));
        }
        if let Some(c) = d.capture.take() {
            let r = &d.record;
            let payload = c.finish(&r.meta.route, r.identity.key_id.as_deref());
            d.record.payload = payload;
        }
        let record = std::mem::replace(&mut d.record, RequestRecord::new(String::new(), 0, "", ""));
        for hook in d.hooks.drain(..) {
            hook(&record);
        }
        self.ledger.submit(record);
    }
}
