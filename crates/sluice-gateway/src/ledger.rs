//! The ledger: request records leave the request path through a bounded
//! channel and are written in batches by one background task.
//!
//! [`Ledger::submit`] never blocks and never awaits. The writer drains up to
//! a batch at a time into the configured [`RecordSink`], retrying a failed
//! batch with backoff. [`LedgerTask::shutdown`] flushes what is queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sluice_store::{RecordSink, RequestRecord};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Records buffered between the request path and the writer.
const CHANNEL_CAPACITY: usize = 65_536;
/// Largest batch handed to the sink.
const BATCH: usize = 512;

/// The sending side, cloned into every request's record.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<RequestRecord>,
    counters: Arc<Counters>,
}

/// What the ledger has done, for health and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub submitted: AtomicU64,
    pub written: AtomicU64,
    /// Records refused because the channel was full.
    pub overflowed: AtomicU64,
}

/// The writer task; [`shutdown`](Self::shutdown) flushes and stops it.
pub struct LedgerTask {
    handle: JoinHandle<()>,
}

impl Ledger {
    /// Starts the writer on the current runtime.
    pub fn start(sink: Arc<dyn RecordSink>) -> (Self, LedgerTask) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let counters = Arc::new(Counters::default());
        let handle = tokio::spawn(writer(rx, sink, counters.clone()));
        (Self { tx, counters }, LedgerTask { handle })
    }

    /// Queues a record. Never blocks.
    pub fn submit(&self, record: RequestRecord) {
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.tx.try_send(record) {
            self.counters.overflowed.fetch_add(1, Ordering::Relaxed);
            let r = match e {
                mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
            };
            tracing::error!(request_id = %r.request_id, "ledger queue full or closed; record not queued");
        }
    }

    /// The ledger's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl LedgerTask {
    /// Waits for every queued record to be written. Call after the last
    /// [`Ledger`] clone is dropped (the server has stopped).
    pub async fn shutdown(self) {
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "ledger writer failed");
        }
    }
}

async fn writer(
    mut rx: mpsc::Receiver<RequestRecord>,
    sink: Arc<dyn RecordSink>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut backoff = Duration::from_millis(50);
        loop {
            match sink.write_batch(&batch).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, records = batch.len(), "ledger write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        counters
            .written
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
    }
}
