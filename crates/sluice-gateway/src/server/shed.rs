//! Load shedding: at most `server.max_in_flight` requests are served at
//! once; the next one is refused at once with 503 `overloaded` and
//! `Retry-After: 1`, in the client's dialect, and recorded as `shed`.
//! Nothing is queued, so memory stays bounded under any overload.
//!
//! Runs inside the record layer (shed requests are recorded) and before
//! authentication (a flood costs no key lookups). A request counts until
//! its record is finished, which for a stream is when the stream ends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::Request;
use sluice_protocol::{Error, ErrorKind};
use tower::{Layer, Service};

use super::context::RequestCtx;
use super::errors;
use crate::metrics::Metrics;

/// Applies [`ShedService`].
#[derive(Clone)]
pub struct ShedLayer(Arc<Metrics>);

impl ShedLayer {
    /// Counts in-flight requests in `metrics.in_flight`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self(metrics)
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = ShedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ShedService {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// Refuses requests over the in-flight limit.
#[derive(Clone)]
pub struct ShedService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// Decrements the in-flight count when dropped.
struct Slot(Arc<Metrics>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S> Service<Request<Body>> for ShedService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let Some(ctx) = req.extensions().get::<RequestCtx>().cloned() else {
            return Box::pin(self.inner.call(req));
        };
        let limit = ctx.rt.config.server.max_in_flight;
        let before = self.metrics.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.metrics.clone());
        if before >= limit {
            drop(slot);
            let err = Error::new(
                ErrorKind::Overloaded,
                format!("Sluice is serving its limit of {limit} requests; retry shortly."),
            )
            .with_retry_after(Duration::from_secs(1));
            let dialect = errors::dialect_for(req.uri().path());
            return Box::pin(async move { Ok(errors::respond(&err, dialect, &ctx.record)) });
        }
        ctx.record.on_finish(Box::new(move |_| drop(slot)));
        Box::pin(self.inner.call(req))
    }
}
