//! Where request records go.
//!
//! A [`RecordSink`] receives batches from the gateway's ledger writer, which
//! runs in the background. Implementations must be idempotent on
//! `request_id`: the writer may retry a batch after a failure.

use async_trait::async_trait;

use crate::RequestRecord;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend is unreachable or refused the write.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The data could not be encoded.
    #[error("could not encode record: {0}")]
    Encode(#[from] serde_json::Error),
    /// A unique name or key is already taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
}

/// A destination for request records.
#[async_trait]
pub trait RecordSink: Send + Sync + 'static {
    /// Writes a batch. Called from the ledger's background task only.
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError>;
}

/// Writes each record as one structured log event (`target: sluice::request`).
///
/// With `full_json` the event carries the whole record as JSON in its
/// `record` field, which the JSON log formatter writes out as one line whose
/// fields are the record's; without it, a one-line summary for humans.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink {
    /// Attach the full record as JSON.
    pub full_json: bool,
}

/// The tracing target request records are logged under.
pub const RECORD_TARGET: &str = "sluice::request";

#[async_trait]
impl RecordSink for LogSink {
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        for r in records {
            let usage = r.usage.unwrap_or_default();
            if self.full_json {
                let json = serde_json::to_string(r)?;
                tracing::info!(target: RECORD_TARGET, record = %json, "request");
            } else {
                tracing::info!(
                    target: RECORD_TARGET,
                    request_id = %r.request_id,
                    status = r.status,
                    outcome = r.outcome.as_str(),
                    model = r.meta.request_model.as_deref().unwrap_or("-"),
                    provider = r.meta.provider_name.as_deref().unwrap_or("-"),
                    prompt_tokens = usage.prompt_tokens,
                    completion_tokens = usage.completion_tokens,
                    latency_ms = format_args!("{:.1}", r.latency_ms),
                    "request"
                );
            }
        }
        Ok(())
    }
}

/// Keeps records in memory; for tests and the demo.
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    records: std::sync::Arc<parking_lot::Mutex<Vec<RequestRecord>>>,
}

impl MemorySink {
    /// Every record written so far.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.lock().clone()
    }
}

#[async_trait]
impl RecordSink for MemorySink {
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        self.records.lock().extend_from_slice(records);
        Ok(())
    }
}
