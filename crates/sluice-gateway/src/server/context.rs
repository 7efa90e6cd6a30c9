//! The outermost layer: request id, config snapshot and request record.
//!
//! Runs first on every API request. Writes the [`RequestCtx`] extension,
//! which every handler reads; adds `x-sluice-request-id` to every response,
//! with any headers policies left on the record (rate-limit headers).
//! Responses with a fixed-size body that no handler finished (axum's own
//! rejections, the 404 fallback) are finished here from their status; a
//! streaming body finishes its record itself when the stream ends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use sluice_protocol::{Error, ErrorKind};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use super::REQUEST_ID_HEADER;
use crate::record::RecordHandle;
use crate::state::{Gateway, Runtime};
use crate::tenancy::Identity;
use crate::traces::context as trace;

/// The W3C trace context header.
const TRACEPARENT: &str = "traceparent";

/// What every handler gets: the config snapshot, the record and the
/// caller (set by the auth layer; `None` on an open gateway).
#[derive(Clone)]
pub struct RequestCtx {
    pub rt: Arc<Runtime>,
    pub record: RecordHandle,
    pub identity: Option<Arc<Identity>>,
}

/// Layer creating the [`RequestCtx`] of each request.
#[derive(Clone)]
pub struct RecordLayer {
    gw: Arc<Gateway>,
}

impl RecordLayer {
    /// A layer over `gw`.
    pub fn new(gw: Arc<Gateway>) -> Self {
        Self { gw }
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = RecordService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RecordService {
            inner,
            gw: self.gw.clone(),
        }
    }
}

/// See [`RecordLayer`].
#[derive(Clone)]
pub struct RecordService<S> {
    inner: S,
    gw: Arc<Gateway>,
}

impl<S, B> Service<Request<Body>> for RecordService<S>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
{
    type Response = Response<B>;
    type Error = Infallible;
    type Future = RecordFuture<TaskLocalFuture<Arc<str>, S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let record = RecordHandle::start(
            self.gw.ledger().clone(),
            req.method().as_str(),
            req.uri().path(),
        );
        let incoming = req
            .headers()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(trace::parse);
        let trace_id = incoming
            .as_ref()
            .map_or_else(trace::new_trace_id, |p| p.trace_id.clone());
        let span_id = trace::new_span_id();
        let traceparent: Arc<str> = trace::format(&trace_id, &span_id).into();
        record.update(|r| {
            r.trace_id = Some(trace_id);
            r.span_id = Some(span_id);
            r.parent_span_id = incoming.map(|p| p.span_id);
        });
        req.extensions_mut().insert(RequestCtx {
            rt: self.gw.snapshot(),
            record: record.clone(),
            identity: None,
        });
        RecordFuture {
            inner: trace::CURRENT.scope(traceparent.clone(), self.inner.call(req)),
            record: Some(record),
            traceparent,
        }
    }
}

pin_project! {
    /// Future of [`RecordService`].
    pub struct RecordFuture<F> {
        #[pin]
        inner: F,
        record: Option<RecordHandle>,
        traceparent: Arc<str>,
    }
}

impl<F, B> Future for RecordFuture<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: http_body::Body,
{
    type Output = Result<Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut resp) = std::task::ready!(this.inner.poll(cx));
        if let Some(record) = this.record.take() {
            if let Ok(v) = HeaderValue::from_str(record.id()) {
                resp.headers_mut().insert(REQUEST_ID_HEADER, v);
            }
            if let Ok(v) = HeaderValue::from_str(this.traceparent) {
                resp.headers_mut().insert(TRACEPARENT, v);
            }
            resp.headers_mut().extend(record.take_headers());
            let status = resp.status().as_u16();
            record.update(|r| r.status = status);
            if !record.is_finished() && resp.body().size_hint().exact().is_some() {
                if status < 400 {
                    record.finish_ok();
                } else {
                    record.finish_err(&Error::new(kind_for_status(status), "rejected"), false);
                }
            }
        }
        Poll::Ready(Ok(resp))
    }
}

fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        405 => ErrorKind::MethodNotAllowed,
        413 => ErrorKind::PayloadTooLarge,
        429 => ErrorKind::RateLimited,
        503 => ErrorKind::Overloaded,
        400..=499 => ErrorKind::InvalidRequest,
        _ => ErrorKind::Internal,
    }
}
