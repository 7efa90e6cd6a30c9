//! OpenTelemetry traces: W3C trace context on every request ([`context`])
//! and, when `traces.otlp_endpoint` is set, OTLP/HTTP export of each
//! request as spans ([`otlp`]).
//!
//! Export is a ledger sink ([`TraceSink`]): spans are built from finished
//! records, off the request path, and posted in batches. Traces are best
//! effort: a collector that fails or is slow loses that batch (logged and
//! counted), and never holds back the ledger.

pub mod context;
pub mod otlp;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sluice_store::{RecordSink, RequestRecord, StoreError};

use crate::config::observe::{OtlpProtocol, TracesConfig};

/// Posts spans to an OTLP/HTTP collector.
pub struct TraceSink {
    cfg: TracesConfig,
    client: reqwest::Client,
    /// Spans the collector accepted.
    pub exported: AtomicU64,
    /// Spans lost to collector failures.
    pub failed: AtomicU64,
}

impl TraceSink {
    /// A sink for `cfg`.
    pub fn new(cfg: TracesConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            cfg,
            client,
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }
}

#[async_trait]
impl RecordSink for TraceSink {
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        let spans: Vec<otlp::Span> = records.iter().flat_map(otlp::spans).collect();
        if spans.is_empty() {
            return Ok(());
        }
        let n = spans.len() as u64;
        let mut req = self.client.post(&self.cfg.url);
        req = match self.cfg.protocol {
            OtlpProtocol::Protobuf => req
                .header("content-type", "application/x-protobuf")
                .body(otlp::encode_proto(&self.cfg.service_name, &spans)),
            OtlpProtocol::Json => req.json(&otlp::encode_json(&self.cfg.service_name, &spans)),
        };
        for (name, value) in &self.cfg.headers {
            req = req.header(name.as_str(), value.expose());
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                self.exported.fetch_add(n, Ordering::Relaxed);
            }
            Ok(r) => {
                self.failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(
                    status = r.status().as_u16(),
                    spans = n,
                    "OTLP collector refused spans"
                );
            }
            Err(e) => {
                self.failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(error = %e.without_url(), spans = n, "OTLP export failed");
            }
        }
        Ok(())
    }
}
