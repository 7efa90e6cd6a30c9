//! The ledger: request records leave the request path through a bounded
//! channel and are written in batches by background tasks, losing nothing.
//!
//! [`Ledger::submit`] never blocks and never awaits: it updates the
//! Prometheus counters (so `/metrics` and the ledger count the same
//! records) and queues the record for each sink. Each configured sink (the
//! log, the database, the trace exporter...) has its own channel and writer,
//! so a slow or failing sink never holds back another.
//!
//! A *durable* sink (the database) has a spool ([`spool`]): when a batch
//! write fails or takes longer than `write_timeout`, the sink is marked down
//! and batches go to the spool on disk until the replayer has written the
//! spool back, which marks it up again. A full spool is reported (the
//! `spool_full` flag, `/readyz`, `/metrics`) and the writer then waits for
//! the database, so the channel fills and further records are counted in
//! `overflowed` and logged as errors, never dropped silently.
//! [`LedgerTask::shutdown`] drains every channel (spooling what the
//! database cannot take) and returns.
//!
//! The dashboard's live tail [`subscribe`](Ledger::subscribe)s to a bounded
//! broadcast of submitted records. Nothing is cloned while nobody watches,
//! and a watcher that falls behind skips records instead of slowing the
//! request path.

pub mod retention;
pub mod spool;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sluice_store::{RecordSink, RequestRecord};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
pub use spool::Spool;

/// Records buffered between the request path and each writer.
const CHANNEL_CAPACITY: usize = 65_536;
/// Largest batch handed to a sink.
const BATCH: usize = 512;
/// Records held for live-tail watchers; a slower watcher skips ahead.
const TAIL_CAPACITY: usize = 256;

/// The sending side, cloned into every request's record.
#[derive(Clone)]
pub struct Ledger {
    tx: Arc<[mpsc::Sender<RequestRecord>]>,
    counters: Arc<Counters>,
    metrics: Arc<Metrics>,
    tail: tokio::sync::broadcast::Sender<Arc<RequestRecord>>,
}

/// What the ledger has done, for health and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub submitted: AtomicU64,
    /// Records written by the durable sink (directly or replayed).
    pub written: AtomicU64,
    /// Records refused because a channel was full.
    pub overflowed: AtomicU64,
    /// Records put in the spool.
    pub spooled: AtomicU64,
    /// Spooled records written back.
    pub replayed: AtomicU64,
    /// Spooled lines that could not be read back (torn writes).
    pub corrupt: AtomicU64,
    /// The durable sink is failing; records go to the spool.
    pub sink_down: AtomicBool,
    /// The spool reached its size limit.
    pub spool_full: AtomicBool,
    /// Bytes waiting in the spool.
    pub spool_bytes: AtomicU64,
}

impl Counters {
    /// `ok`, `spooling` (database down, records safe on disk) or
    /// `spool_full` (records may be refused).
    pub fn state(&self) -> &'static str {
        if self.spool_full.load(Ordering::Relaxed) {
            "spool_full"
        } else if self.sink_down.load(Ordering::Relaxed)
            || self.spool_bytes.load(Ordering::Relaxed) > 0
        {
            "spooling"
        } else {
            "ok"
        }
    }
}

/// One destination for records.
pub struct SinkSpec {
    pub sink: Arc<dyn RecordSink>,
    /// Spool settings for a sink that must lose nothing.
    pub durable: Option<Durable>,
}

impl SinkSpec {
    /// A sink with no spool (the log: it cannot fail).
    pub fn plain(sink: Arc<dyn RecordSink>) -> Self {
        Self {
            sink,
            durable: None,
        }
    }
}

/// How a durable sink spools.
#[derive(Debug, Clone)]
pub struct Durable {
    pub spool_dir: PathBuf,
    /// Largest spool, in bytes.
    pub max_bytes: u64,
    /// A batch write slower than this counts as failed and is spooled.
    pub write_timeout: Duration,
}

/// The writer tasks; [`shutdown`](Self::shutdown) drains and stops them.
pub struct LedgerTask {
    writers: Vec<JoinHandle<()>>,
    replayers: Vec<JoinHandle<()>>,
}

impl Ledger {
    /// Starts one plain writer per sink.
    pub fn start_many(sinks: Vec<Arc<dyn RecordSink>>) -> (Self, LedgerTask) {
        let writers = sinks
            .into_iter()
            .map(|s| (s, None, Duration::MAX))
            .collect();
        Self::spawn(writers, Arc::default())
    }

    /// Starts one writer per sink (and a replayer per durable one); every
    /// record goes to each. Fails only when a spool directory cannot be
    /// opened.
    pub fn start_with(
        sinks: Vec<SinkSpec>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Self, LedgerTask)> {
        let mut writers = Vec::with_capacity(sinks.len());
        for spec in sinks {
            match spec.durable {
                Some(d) => {
                    let spool = Spool::open(&d.spool_dir, d.max_bytes)?;
                    writers.push((spec.sink, Some(spool), d.write_timeout));
                }
                None => writers.push((spec.sink, None, Duration::MAX)),
            }
        }
        Ok(Self::spawn(writers, metrics))
    }

    fn spawn(
        writers: Vec<(Arc<dyn RecordSink>, Option<Spool>, Duration)>,
        metrics: Arc<Metrics>,
    ) -> (Self, LedgerTask) {
        let counters = Arc::new(Counters::default());
        let mut tx = Vec::with_capacity(writers.len());
        let mut handles = Vec::with_capacity(writers.len());
        let mut replayers = Vec::new();
        for (sink, spool, timeout) in writers {
            let (t, rx) = mpsc::channel(CHANNEL_CAPACITY);
            tx.push(t);
            let w = writer::Writer {
                sink,
                spool,
                timeout,
                counters: counters.clone(),
            };
            if let Some(spool) = &w.spool {
                counters.spool_bytes.store(spool.bytes(), Ordering::Relaxed);
                replayers.push(tokio::spawn(w.clone().replay()));
            }
            handles.push(tokio::spawn(w.run(rx)));
        }
        (
            Self {
                tx: tx.into(),
                counters,
                metrics,
                tail: tokio::sync::broadcast::Sender::new(TAIL_CAPACITY),
            },
            LedgerTask {
                writers: handles,
                replayers,
            },
        )
    }

    /// Counts and queues a record. Never blocks.
    pub fn submit(&self, record: RequestRecord) {
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        self.metrics.observe(&record);
        if self.tail.receiver_count() > 0 {
            // Lagging receivers skip; a send never waits.
            let _ = self.tail.send(Arc::new(record.clone()));
        }
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

    /// Records submitted from now on, for a live tail. A receiver that
    /// falls more than a few hundred records behind skips the missed ones.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<RequestRecord>> {
        self.tail.subscribe()
    }

    /// The ledger's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The Prometheus registry records are counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl LedgerTask {
    /// Writes (or spools) every queued record, then stops. Call after the
    /// last [`Ledger`] clone is dropped (the server has stopped).
    pub async fn shutdown(self) {
        // What is still spooled is replayed by the next process.
        for r in self.replayers {
            r.abort();
        }
        for handle in self.writers {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "ledger writer failed");
            }
        }
    }
}
