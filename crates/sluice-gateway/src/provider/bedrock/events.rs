//! The HTTP side of Bedrock answers: error responses (typed by the
//! `x-amzn-ErrorType` header) and event-stream bodies decoded into
//! messages as they arrive.
//!
//! Runs on every Bedrock attempt, after the response headers arrive.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sluice_protocol::bedrock::error::from_response;
use sluice_protocol::eventstream::{Decoder, Message};
use sluice_protocol::{Error, ErrorKind};

use crate::provider::http::{self, MAX_RESPONSE_BYTES};

/// Largest error body read (the rest is ignored).
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// The content type of an AWS event stream.
pub const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// Turns a non-2xx Bedrock answer into an [`Error`], with `Retry-After`.
pub async fn error_response(resp: reqwest::Response, provider: &str) -> Error {
    let status = resp.status().as_u16();
    let after = http::retry_after(resp.headers());
    let kind = resp
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = http::read_body(resp, MAX_ERROR_BYTES, provider)
        .await
        .unwrap_or_default();
    let mut err = from_response(status, kind.as_deref(), &body).with_provider(provider);
    if let Some(d) = after {
        err = err.with_retry_after(d);
    }
    err
}

/// Checks that a ConverseStream answer is an event stream; otherwise reads
/// it: the upstream's error if it is one, else a protocol error.
pub async fn expect_event_stream(
    resp: reqwest::Response,
    provider: &str,
) -> Result<reqwest::Response, Error> {
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with(EVENT_STREAM) {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = http::read_body(resp, MAX_RESPONSE_BYTES, provider).await?;
    let err = if kind.is_some() {
        from_response(status.max(500), kind.as_deref(), &body)
    } else {
        Error::new(
            ErrorKind::UpstreamProtocol,
            format!("upstream `{provider}` did not answer with an event stream"),
        )
    };
    Err(err.with_provider(provider))
}

/// Decodes an event-stream body into messages. A transport failure, a bad
/// frame or a body that ends inside a frame yields one `Err`; the stream
/// then ends.
pub fn messages(
    resp: reqwest::Response,
    provider: String,
) -> impl Stream<Item = Result<Message, Error>> + Send + 'static {
    struct St {
        body: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
        dec: Decoder,
        provider: String,
        ended: bool,
    }
    let st = St {
        body: resp.bytes_stream().boxed(),
        dec: Decoder::default(),
        provider,
        ended: false,
    };
    let bad = |e: sluice_protocol::eventstream::EventStreamError, provider: &str| {
        Error::new(
            e.kind(),
            format!("upstream `{provider}` sent a bad event stream: {e}"),
        )
    };
    futures_util::stream::unfold(st, move |mut st| async move {
        loop {
            if st.ended {
                return None;
            }
            match st.dec.next_message() {
                Ok(Some(m)) => return Some((Ok(m), st)),
                Ok(None) => {}
                Err(e) => {
                    st.ended = true;
                    let err = bad(e, &st.provider);
                    return Some((Err(err), st));
                }
            }
            match st.body.next().await {
                Some(Ok(bytes)) => st.dec.push(&bytes),
                Some(Err(e)) => {
                    st.ended = true;
                    let err = http::transport_error(e, &st.provider)
                        .with_kind(ErrorKind::StreamInterrupted);
                    return Some((Err(err), st));
                }
                None => {
                    st.ended = true;
                    return match st.dec.finish() {
                        Ok(()) => None,
                        Err(e) => {
                            let err = bad(e, &st.provider);
                            Some((Err(err), st))
                        }
                    };
                }
            }
        }
    })
}
