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
}

/// A destination for request records.
#[async_trait]
pub trait RecordSink: Send + Sync + 'static {
    /// Writes a batch. Called from the ledger's background task only.
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError>;
}

/// Writes each record as one structured log event (`target: sluice::request`).
///
/// With `--log-format json` the event is one JSON line whose fields are the
/// record's (see the binary's log formatter); with text logs it is a one-line
/// summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

/// The tracing target request records are logged under.
pub const RECORD_TARGET: &str = "sluice::request";

#[async_trait]
impl RecordSink for LogSink {
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        for r in records {
            let json = serde_json::to_string(r)?;
            tracing::info!(
                target: RECORD_TARGET,
                record = %json,
                request_id = %r.request_id,
                status = r.status,
                outcome = r.outcome.as_str(),
                model = r.meta.request_model.as_deref().unwrap_or("-"),
                provider = r.meta.provider_name.as_deref().unwrap_or("-"),
                prompt_tokens = r.usage.map_or(0, |u| u.prompt_tokens),
                completion_tokens = r.usage.map_or(0, |u| u.completion_tokens),
                latency_ms = r.latency_ms,
                "request"
            );
        }
        Ok(())
    }
}
