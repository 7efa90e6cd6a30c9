//! The ledger: request records leave the request path through a bounded
//! channel and are written in batches by background tasks.
//!
//! [`Ledger::submit`] never blocks and never awaits. Each configured
//! [`RecordSink`] (the log, the database) has its own channel and writer, so
//! a slow or failing sink never holds back another. A writer drains up to a
//! batch at a time, retrying a failed batch with backoff.
//! [`LedgerTask::shutdown`] flushes what is queued.

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
    tx: Arc<[mpsc::Sender<RequestRecord>]>,
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
    handles: Vec<JoinHandle<()>>,
}

impl Ledger {
    /// Starts the writer on the current runtime.
    pub fn start(sink: Arc<dyn RecordSink>) -> (Self, LedgerTask) {
        Self::start_many(vec![sink])
    }

    /// Starts one writer per sink; every record goes to each.
    pub fn start_many(sinks: Vec<Arc<dyn RecordSink>>) -> (Self, LedgerTask) {
        let counters = Arc::new(Counters::default());
        let mut tx = Vec::with_capacity(sinks.len());
        let mut handles = Vec::with_capacity(sinks.len());
        for sink in sinks {
            let (t, rx) = mpsc::channel(CHANNEL_CAPACITY);
            tx.push(t);
            handles.push(tokio::spawn(writer(rx, sink, counters.clone())));
        }
        (
            Self {
                tx: tx.into(),
                counters,
            },
            LedgerTask { handles },
        )
    }

    /// Queues a record. Never blocks.
    pub fn submit(&self, record: RequestRecord) {
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        let Some((last, rest)) = self.tx.split_last() else {
            return;
        };
        for tx in rest {
            self.send(tx, record.clone());
        }
        self.send(last, record);
    }

    fn send(&self, tx: &mpsc::Sender<RequestRecord>, record: RequestRecord) {
        if let Err(e) = tx.try_send(record) {
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
        for handle in self.handles {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "ledger writer failed");
            }
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
