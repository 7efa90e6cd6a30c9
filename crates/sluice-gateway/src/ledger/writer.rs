//! A sink's writer and, for a durable sink, its replayer: the two
//! background tasks behind each ledger channel.
//!
//! The writer takes batches off the channel and writes them; for a durable
//! sink, a failed or slow write marks the sink down and the batch (and
//! every batch after it, without trying) goes to the spool. The replayer
//! wakes every half second, writes spooled segments back oldest first, and
//! marks the sink up again after its first success.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sluice_store::{RecordSink, RequestRecord};
use tokio::sync::mpsc;

use super::spool::{Spool, SpoolError};
use super::{BATCH, Counters};

/// How often the replayer looks at the spool; also the writer's wait while
/// the spool is full.
const TICK: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub(super) struct Writer {
    pub sink: Arc<dyn RecordSink>,
    pub spool: Option<Spool>,
    /// A write slower than this failed (durable sinks only).
    pub timeout: Duration,
    pub counters: Arc<Counters>,
}

impl Writer {
    /// Drains the channel until every sender is gone.
    pub async fn run(self, mut rx: mpsc::Receiver<RequestRecord>) {
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            match &self.spool {
                Some(spool) => self.deliver(spool, &batch).await,
                None => self.retry(&batch).await,
            }
            batch.clear();
        }
    }

    /// A plain sink: retry with backoff until it takes the batch.
    async fn retry(&self, batch: &[RequestRecord]) {
        let mut backoff = Duration::from_millis(50);
        while let Err(e) = self.sink.write_batch(batch).await {
            tracing::warn!(error = %e, records = batch.len(), "ledger write failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// A durable sink: write, or spool; with the spool full, wait.
    async fn deliver(&self, spool: &Spool, batch: &[RequestRecord]) {
        let n = batch.len() as u64;
        let c = &self.counters;
        loop {
            if !c.sink_down.load(Ordering::Relaxed) {
                match tokio::time::timeout(self.timeout, self.sink.write_batch(batch)).await {
                    Ok(Ok(())) => {
                        c.written.fetch_add(n, Ordering::Relaxed);
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "ledger database write failed; spooling")
                    }
                    Err(_) => tracing::warn!(
                        timeout_ms = self.timeout.as_millis() as u64,
                        "ledger database write too slow; spooling"
                    ),
                }
                c.sink_down.store(true, Ordering::Relaxed);
            }
            match spool.append(batch).await {
                Ok(()) => {
                    c.spooled.fetch_add(n, Ordering::Relaxed);
                    c.spool_bytes.store(spool.bytes(), Ordering::Relaxed);
                    return;
                }
                Err(SpoolError::Full(bytes)) => {
                    if !c.spool_full.swap(true, Ordering::Relaxed) {
                        tracing::error!(
                            bytes,
                            "ledger spool full: records wait in memory and are refused once the queue fills"
                        );
                    }
                }
                Err(e) => tracing::error!(error = %e, "ledger spool write failed"),
            }
            tokio::time::sleep(TICK).await;
            // Try the database again: it may be back.
            c.sink_down.store(false, Ordering::Relaxed);
        }
    }

    /// Writes the spool back while the process runs (aborted at shutdown).
    pub async fn replay(self) {
        let Some(spool) = self.spool.clone() else {
            return;
        };
        loop {
            tokio::time::sleep(TICK).await;
            loop {
                match spool.oldest().await {
                    Ok(Some(segment)) => {
                        if !self.replay_segment(&spool, segment).await {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the ledger spool");
                        break;
                    }
                }
            }
        }
    }

    /// Writes one segment and deletes it; false when the database failed.
    async fn replay_segment(&self, spool: &Spool, segment: super::spool::Segment) -> bool {
        let c = &self.counters;
        for chunk in segment.records.chunks(BATCH) {
            match tokio::time::timeout(self.timeout, self.sink.write_batch(chunk)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "spool replay failed; retrying later");
                    return false;
                }
                Err(_) => return false,
            }
        }
        if let Err(e) = spool.remove(&segment).await {
            tracing::error!(error = %e, "cannot delete a replayed spool segment");
            return false;
        }
        let n = segment.records.len() as u64;
        c.replayed.fetch_add(n, Ordering::Relaxed);
        c.written.fetch_add(n, Ordering::Relaxed);
        c.corrupt.fetch_add(segment.corrupt, Ordering::Relaxed);
        c.spool_bytes.store(spool.bytes(), Ordering::Relaxed);
        c.spool_full.store(false, Ordering::Relaxed);
        c.sink_down.store(false, Ordering::Relaxed);
        tracing::info!(
            records = n,
            "spooled ledger records written to the database"
        );
        true
    }
}
