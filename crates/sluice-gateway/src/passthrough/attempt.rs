//! One pass-through attempt: build the upstream request (URL from the
//! configured root, headers and query per the credential mode, the
//! provider's own credentials in gateway mode), send it, and wait for the
//! response to start under the step's deadline. With `peek`, a successful
//! answer's first body chunk is awaited too, so that a step whose body
//! breaks at once can still fall back before anything reaches the client.

use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::CONTENT_TYPE;
use sluice_protocol::meter::Framing;
use sluice_protocol::{Error, ErrorKind};
use tokio::time::Instant;

use super::{PassTarget, Reply, Step, forward};
use crate::config::Credentials;
use crate::provider::{PassthroughRequest, ProviderKind, http};

/// Sends `step` (the `index`th of its plan).
pub async fn send(step: &Step, index: usize, peek: bool) -> Result<Reply, Error> {
    let t = &*step.target;
    let timeouts = &t.timeouts;
    let started = Instant::now();
    let start_limit = step.request_timeout.unwrap_or(if step.stream {
        timeouts.first_token.min(timeouts.total)
    } else {
        timeouts.total
    });
    let start_deadline = started + start_limit;
    let total_deadline = started + timeouts.total;
    let exchange = async {
        let rb = build(step).await?;
        http::send(rb, &t.name).await
    };
    let resp = tokio::time::timeout_at(start_deadline, exchange)
        .await
        .map_err(|_| timeout(t, "a response", start_limit))??;
    let status = resp.status();
    let headers = resp.headers().clone();
    let framing =
        Framing::from_content_type(headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()));
    let name = t.name.clone();
    let mut body = resp
        .bytes_stream()
        .map_err(move |e| http::transport_error(e, &name).with_kind(ErrorKind::StreamInterrupted))
        .boxed();
    if peek && status.is_success() {
        let first = tokio::time::timeout_at(start_deadline, body.next())
            .await
            .map_err(|_| timeout(t, "its first byte", start_limit))?;
        body = match first {
            Some(Ok(chunk)) => futures_util::stream::once(async move { Ok(chunk) })
                .chain(body)
                .boxed(),
            Some(Err(e)) => return Err(e),
            None => futures_util::stream::empty().boxed(),
        };
    }
    Ok(Reply {
        status,
        stream: step.stream || framing.is_stream(),
        headers,
        body,
        framing,
        step: index,
        model: step.model.clone(),
        idle: timeouts.idle,
        deadline: total_deadline,
        request_bytes: step.body.len(),
    })
}

/// The upstream request: URL, headers, credentials and body.
async fn build(step: &Step) -> Result<reqwest::RequestBuilder, Error> {
    let t = &*step.target;
    let query = forward::request_query(step.query.as_deref(), t.kind, t.credentials);
    let path_and_query = match &query {
        Some(q) => format!("{}?{q}", step.path),
        None => step.path.clone(),
    };
    let url = t.url(&path_and_query)?;
    let mut headers =
        forward::request_headers(&step.headers, t.kind, t.credentials, step.query.as_deref())?;
    for (k, v) in &t.static_headers {
        headers.insert(k.clone(), v.clone());
    }
    if t.credentials == Credentials::Gateway {
        check_vertex_project(t, &step.path)?;
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let signed: Vec<(&str, &str)> = content_type
            .as_deref()
            .map(|ct| ("content-type", ct))
            .into_iter()
            .collect();
        let creds = t
            .provider
            .passthrough_auth(&PassthroughRequest {
                method: step.method.as_str(),
                url: url.as_str(),
                headers: &signed,
                body: &step.body,
            })
            .await?;
        for (k, v) in creds {
            headers.insert(k, v);
        }
    }
    let mut rb = t.client.request(step.method.clone(), url).headers(headers);
    if !step.body.is_empty() {
        rb = rb.body(step.body.clone());
    }
    Ok(rb)
}

/// With the gateway's Vertex credentials, requests stay in the configured
/// project: `/v1/projects/{other}/...` is refused.
fn check_vertex_project(t: &PassTarget, path: &str) -> Result<(), Error> {
    if t.kind != ProviderKind::Vertex {
        return Ok(());
    }
    let Some(project) = &t.vertex_project else {
        return Ok(());
    };
    let mut segs = path.trim_start_matches('/').split('/');
    while let Some(s) = segs.next() {
        if s == "projects"
            && let Some(p) = segs.next()
            && p != project
        {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "Provider `{}` uses the gateway's Vertex AI credentials, which serve only \
                     the project `{project}`; the path names `{p}`.",
                    t.name
                ),
            ));
        }
    }
    Ok(())
}

fn timeout(t: &PassTarget, what: &str, limit: std::time::Duration) -> Error {
    Error::new(
        ErrorKind::UpstreamTimeout,
        format!(
            "upstream `{}` sent no {what} within {:.1}s",
            t.name,
            limit.as_secs_f64()
        ),
    )
    .with_provider(&t.name)
}
