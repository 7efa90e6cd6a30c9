//! What every answered request tells the client about how it was served,
//! and records: the target that answered, the attempts, why that target
//! was chosen, the gateway's own added time and any dropped parameters.
//!
//! Headers: `x-sluice-provider`, `x-sluice-model` (upstream model used),
//! `x-sluice-attempts`, `x-sluice-route-reason`, `x-sluice-overhead-ms`,
//! `x-sluice-dropped-params`.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderName, HeaderValue, header};

use futures_util::StreamExt;

use super::context::RequestCtx;
use crate::exec::Answer;
use crate::record::RecordHandle;
use crate::record::ms;

/// The response headers describing how a request was served.
pub struct Served(Vec<(HeaderName, HeaderValue)>, Option<RecordHandle>);

impl Served {
    /// Records how `answer` was reached and prepares its headers.
    pub fn note<T>(ctx: &RequestCtx, answer: &Answer<T>, dropped: &[String]) -> Self {
        let overhead = ctx.record.elapsed().saturating_sub(answer.upstream_time);
        ctx.record.set_price(answer.price);
        ctx.record.update(|r| {
            r.meta.provider_name = Some(answer.provider.name().to_owned());
            r.meta.upstream_model = Some(answer.upstream_model.clone());
            r.gateway_ms = Some(ms(overhead));
            r.route_reason = Some(answer.reason.clone());
            if !dropped.is_empty() {
                r.dropped_params = dropped.to_vec();
            }
        });
        let mut h = Vec::with_capacity(6);
        let mut put = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.push((HeaderName::from_static(name), v));
            }
        };
        put("x-sluice-provider", answer.provider.name());
        put("x-sluice-model", &answer.upstream_model);
        put("x-sluice-attempts", &answer.attempts.to_string());
        put("x-sluice-route-reason", &answer.reason);
        put("x-sluice-overhead-ms", &format!("{:.3}", ms(overhead)));
        if !dropped.is_empty() {
            put("x-sluice-dropped-params", &dropped.join(","));
        }
        Self(h, ctx.record.capturing().then(|| ctx.record.clone()))
    }

    /// Adds the headers to `resp`.
    pub fn apply(self, mut resp: Response) -> Response {
        resp.headers_mut().extend(self.0);
        resp
    }

    /// A JSON response with the headers.
    pub fn json(self, body: bytes::Bytes) -> Response {
        if let Some(record) = &self.1 {
            record.capture_response(&body);
        }
        let mut resp = Response::new(Body::from(body));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.apply(resp)
    }

    /// An SSE response with the headers.
    pub fn event_stream(self, body: Body) -> Response {
        let body = match &self.1 {
            Some(record) => {
                let record = record.clone();
                Body::from_stream(body.into_data_stream().inspect(move |chunk| {
                    if let Ok(bytes) = chunk {
                        record.capture_response(bytes);
                    }
                }))
            }
            None => body,
        };
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
        self.apply(resp)
    }
}
