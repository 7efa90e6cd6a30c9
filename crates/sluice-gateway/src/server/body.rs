//! Reading a request body under the configured size limit.
//!
//! A declared `Content-Length` over the limit is refused before a byte is
//! read; a chunked body is counted as it arrives and refused as soon as it
//! crosses the limit, so an oversized body is never buffered whole. A body
//! that does not arrive within `server.body_read_timeout` (a slow-loris
//! client) gets 408.

use axum::body::Body;
use bytes::Bytes;
use http_body::Body as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use sluice_protocol::{Error, ErrorKind};

/// Reads a request's body under the configured limit, and arms payload
/// capture when payload logging is configured anywhere.
pub async fn read_for(ctx: &super::RequestCtx, body: Body) -> Result<Bytes, Error> {
    let cfg = &ctx.rt.config;
    let timeout = cfg.server.listener.body_read_timeout;
    let bytes = tokio::time::timeout(timeout, read(body, cfg.server.max_body_bytes))
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::RequestTimeout,
                format!(
                    "The request body did not arrive within {}s (server.body_read_timeout).",
                    timeout.as_secs()
                ),
            )
        })??;
    let p = &cfg.ledger.payloads;
    if p.enabled || !p.routes.is_empty() || !p.keys.is_empty() {
        ctx.record.arm_capture(p.clone(), bytes.clone());
    }
    Ok(bytes)
}

/// Reads `body`, at most `limit` bytes.
pub async fn read(body: Body, limit: usize) -> Result<Bytes, Error> {
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit)),
        Err(e) => Err(Error::invalid(format!(
            "could not read the request body: {e}"
        ))),
    }
}

fn too_large(limit: usize) -> Error {
    Error::new(
        ErrorKind::PayloadTooLarge,
        format!(
            "The request body is larger than this gateway's limit of {limit} bytes \
             (server.max_body_size)."
        ),
    )
}
