//! The HTTP work shared by every provider: building a client, sending a
//! request, turning transport failures and error answers into [`Error`]s,
//! reading bounded bodies and decoding SSE bodies.
//!
//! Runs on every upstream attempt. Nothing here retries: the HTTP client's
//! own retry policy is switched off so that the executor's loop is the only
//! one, and redirects are never followed.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use sluice_protocol::sse::{SseDecoder, SseEvent};
use sluice_protocol::{Error, ErrorKind};

use crate::config::Timeouts;

/// Largest non-streamed upstream body accepted.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest error body read from an upstream (the rest is ignored).
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// A client for one provider: connection pool, connect timeout, no retries,
/// no redirects, `TCP_NODELAY`.
pub fn client(timeouts: &Timeouts) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::internal(format!("cannot build HTTP client: {}", e.without_url())))
}

/// Extra headers from config, marked sensitive (values may be secrets).
pub fn static_headers(headers: &[(String, crate::config::Secret)]) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| Error::internal(format!("invalid header name `{k}`")))?;
        map.insert(name, sensitive(v.expose())?);
    }
    Ok(map)
}

/// A header value that is never logged.
pub fn sensitive(value: &str) -> Result<reqwest::header::HeaderValue, Error> {
    let mut v = reqwest::header::HeaderValue::from_str(value)
        .map_err(|_| Error::internal("a credential contains characters not allowed in a header"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// Checks that a streaming request got an event stream. Otherwise the
/// body is read: the upstream's error if it is one, else a protocol error.
pub async fn expect_event_stream(
    resp: reqwest::Response,
    provider: &str,
    parse: fn(u16, &[u8]) -> Error,
) -> Result<reqwest::Response, Error> {
    let is_sse = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if is_sse {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let body = read_body(resp, MAX_RESPONSE_BYTES, provider).await?;
    let looks_like_error = serde_json::from_slice::<serde_json::Value>(&body)
        .is_ok_and(|v| v.get("error").is_some_and(|e| !e.is_null()));
    let err = if looks_like_error {
        parse(status.max(500), &body)
    } else {
        Error::new(
            ErrorKind::UpstreamProtocol,
            format!("upstream `{provider}` did not answer with an event stream"),
        )
    };
    Err(err.with_provider(provider))
}

/// Maps a transport failure. The URL is stripped: some providers carry
/// credentials in the query string.
pub fn transport_error(e: reqwest::Error, provider: &str) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::UpstreamTimeout
    } else if e.is_connect() {
        ErrorKind::UpstreamConnect
    } else if e.is_body() || e.is_decode() {
        ErrorKind::StreamInterrupted
    } else {
        ErrorKind::UpstreamConnect
    };
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    Error::new(
        kind,
        format!(
            "upstream `{provider}` failed: {}",
            sluice_protocol::error::scrub_secrets(&detail)
        ),
    )
    .with_provider(provider)
}

/// Sends a request, mapping transport failures. Within a request's scope
/// it carries that request's `traceparent` (replacing any other).
pub async fn send(rb: reqwest::RequestBuilder, provider: &str) -> Result<reqwest::Response, Error> {
    let rb = match crate::traces::context::current()
        .and_then(|tp| reqwest::header::HeaderValue::from_str(&tp).ok())
    {
        Some(tp) => {
            let (client, req) = rb.build_split();
            let mut req = req.map_err(|e| transport_error(e, provider))?;
            req.headers_mut().insert("traceparent", tp);
            return client
                .execute(req)
                .await
                .map_err(|e| transport_error(e, provider));
        }
        None => rb,
    };
    rb.send().await.map_err(|e| transport_error(e, provider))
}

/// The wait an upstream asked for, from `retry-after-ms` or `retry-after`
/// (seconds; an HTTP date is treated as one second).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 3600.0)));
    }
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    match v.parse::<f64>() {
        Ok(secs) => Some(Duration::from_secs_f64(secs.clamp(0.0, 3600.0))),
        Err(_) => Some(Duration::from_secs(1)),
    }
}

/// Reads a body up to `limit` bytes.
pub async fn read_body(
    resp: reqwest::Response,
    limit: usize,
    provider: &str,
) -> Result<Bytes, Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large(provider, limit));
    }
    let mut stream = resp.bytes_stream();
    // The common case is one chunk: keep it without copying.
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport_error(e, provider))?;
        total += chunk.len();
        if total > limit {
            return Err(too_large(provider, limit));
        }
        match first.take() {
            None if buf.is_empty() => first = Some(chunk),
            Some(f) => {
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&chunk);
            }
            None => buf.extend_from_slice(&chunk),
        }
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

fn too_large(provider: &str, limit: usize) -> Error {
    Error::new(
        ErrorKind::UpstreamProtocol,
        format!("upstream `{provider}` sent a response larger than {limit} bytes"),
    )
    .with_provider(provider)
}

/// Turns a non-2xx answer into an [`Error`], using `parse` for the
/// provider's error body shape and adding `Retry-After`.
pub async fn error_response(
    resp: reqwest::Response,
    provider: &str,
    parse: fn(u16, &[u8]) -> Error,
) -> Error {
    let status = resp.status().as_u16();
    let after = retry_after(resp.headers());
    let body = read_body(resp, MAX_ERROR_BYTES, provider)
        .await
        .unwrap_or_default();
    let mut err = parse(status, &body).with_provider(provider);
    if let Some(d) = after {
        err = err.with_retry_after(d);
    }
    err
}

/// Decodes an SSE response body into events. A transport failure mid-body
/// or an oversized event yields one `Err`; the stream then ends.
pub fn sse_events(
    resp: reqwest::Response,
    provider: String,
) -> impl Stream<Item = Result<SseEvent, Error>> + Send + 'static {
    struct St {
        body: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
        dec: SseDecoder,
        provider: String,
        ended: bool,
    }
    let st = St {
        body: resp.bytes_stream().boxed(),
        dec: SseDecoder::default(),
        provider,
        ended: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if st.ended {
                return None;
            }
            match st.dec.next_event() {
                Ok(Some(ev)) => return Some((Ok(ev), st)),
                Ok(None) => {}
                Err(e) => {
                    st.ended = true;
                    let err = Error::new(
                        ErrorKind::UpstreamProtocol,
                        format!("upstream `{}` sent a bad event stream: {e}", st.provider),
                    );
                    return Some((Err(err), st));
                }
            }
            match st.body.next().await {
                Some(Ok(bytes)) => st.dec.push_bytes(bytes),
                Some(Err(e)) => {
                    st.ended = true;
                    let err =
                        transport_error(e, &st.provider).with_kind(ErrorKind::StreamInterrupted);
                    return Some((Err(err), st));
                }
                None => {
                    st.ended = true;
                    return match st.dec.finish() {
                        Ok(Some(ev)) => Some((Ok(ev), st)),
                        Ok(None) => None,
                        Err(e) => Some((
                            Err(Error::new(ErrorKind::UpstreamProtocol, e.to_string())),
                            st,
                        )),
                    };
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(1)));
    }
}
