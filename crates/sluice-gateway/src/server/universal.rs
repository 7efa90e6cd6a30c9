//! `POST /v1/universal`: Cloudflare's universal endpoint. The body is an
//! ordered array of steps, each a native request of one configured
//! provider's API:
//!
//! ```json
//! [{"provider": "openai", "endpoint": "v1/chat/completions",
//!   "headers": {"content-type": "application/json"},
//!   "query": {"model": "gpt-4o-mini", "messages": [...]}},
//!  {"provider": "huggingface", "endpoint": "v1/chat/completions", "query": {...}}]
//! ```
//!
//! `endpoint` is the path under the provider's pass-through root (what
//! follows `/{provider}/` on its pass-through endpoint); `query` is the
//! JSON body; `headers` are that step's headers (its own key, in `client`
//! credential mode); `config` may set `requestTimeout` (ms), `maxAttempts`
//! (1-5), `retryDelay` (ms, at most 5000) and `backoff` (`constant`,
//! `linear`, `exponential`), as on Cloudflare.
//!
//! Every step is checked before anything is sent: its provider must be a
//! configured one with pass-through enabled, its endpoint a path (never a
//! URL). The steps then run in order through `pipeline::passthrough`; a
//! step that errors, times out or answers non-2xx hands over to the next.
//! The first success is passed back, streamed as it arrives, with
//! `x-sluice-step` (its 0-based index) and `x-sluice-provider`. When all
//! fail, the last step's own answer (or error) is returned.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_protocol::openai::request::invalid_json;
use sluice_protocol::{Error, ErrorKind};

use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::passthrough::{check_model, respond};
use super::{body, meta};
use crate::exec::Job;
use crate::passthrough::{Backoff, PassTarget, Plan, Step, path};
use crate::pipeline;
use crate::tokens;

/// Most steps in one request.
const MAX_STEPS: usize = 16;

/// One step as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep<'a> {
    provider: String,
    endpoint: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(borrow, default)]
    query: Option<&'a RawValue>,
    #[serde(default)]
    config: Option<StepConfig>,
}

/// A step's `config`, in Cloudflare's names.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StepConfig {
    request_timeout: Option<u64>,
    max_attempts: Option<u32>,
    retry_delay: Option<u64>,
    backoff: Option<String>,
}

/// `POST /v1/universal`.
pub async fn serve(Extension(ctx): Extension<RequestCtx>, req: Request<Body>) -> Response {
    match run(&ctx, req).await {
        Ok(resp) => resp,
        Err(e) => errors::respond(&e, Dialect::OpenAi, &ctx.record),
    }
}

async fn run(ctx: &RequestCtx, req: Request<Body>) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    let route = ctx.rt.default_route().clone();
    let metadata = super::chat::begin(ctx, &route, "universal", &parts)?;
    let bytes = body::read_for(ctx, body).await?;
    let raw: Vec<RawStep<'_>> =
        serde_json::from_slice(&bytes).map_err(|e| invalid_json(&e).with_param("steps"))?;
    if raw.is_empty() || raw.len() > MAX_STEPS {
        return Err(Error::invalid(format!(
            "The universal endpoint takes an array of 1 to {MAX_STEPS} steps."
        )));
    }
    let steps = raw
        .iter()
        .enumerate()
        .map(|(i, s)| step(ctx, i, s))
        .collect::<Result<Vec<Step>, Error>>()?;
    let first_model = steps[0].model.clone();
    ctx.record.update(|r| {
        r.meta.request_model.clone_from(&first_model);
        r.meta.provider_name = Some(steps[0].target.name.clone());
        r.stream = steps[0].stream;
    });
    let size = bytes.len();
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), None),
        record: &ctx.record,
        model: first_model.as_deref().unwrap_or(""),
        prompt_tokens: &|| tokens::from_bytes(size),
    };
    let plan = Plan {
        steps,
        fallback: true,
    };
    match pipeline::passthrough(&job, plan).await {
        Ok(answer) => {
            let step = answer.value.step;
            Ok(respond(ctx, answer, Some(step)))
        }
        Err(e) => {
            if let Some(p) = e.provider() {
                ctx.record
                    .update(|r| r.meta.provider_name = Some(p.to_owned()));
            }
            Err(e)
        }
    }
}

/// Checks step `i` and builds it.
fn step(ctx: &RequestCtx, i: usize, s: &RawStep<'_>) -> Result<Step, Error> {
    let at = |msg: String| Error::invalid(format!("step {i}: {msg}")).with_param(format!("[{i}]"));
    let target: Arc<PassTarget> = match ctx.rt.passthrough.get(&s.provider) {
        Some(t) => t.clone(),
        None if ctx.rt.config.providers.iter().any(|p| p.name == s.provider) => {
            return Err(at(format!(
                "pass-through is disabled for the provider `{}`",
                s.provider
            )));
        }
        None => {
            return Err(at(format!(
                "`{}` is not a configured provider; configured: [{}]. Steps name configured \
                 providers, never URLs.",
                s.provider,
                ctx.rt.passthrough.names().join(", ")
            )));
        }
    };
    let endpoint = s.endpoint.trim();
    if endpoint.contains("://") || endpoint.starts_with("//") || endpoint.contains('\\') {
        return Err(at(format!(
            "`endpoint` must be a path of the provider's API, not a URL: `{}`",
            endpoint.escape_default()
        )));
    }
    let endpoint = format!("/{}", endpoint.trim_start_matches('/'));
    let (path, query) = match endpoint.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (endpoint, None),
    };
    path::check(&path, query.as_deref()).map_err(|e| at(e.message().to_owned()))?;
    if !target.allows_path(&path) {
        return Err(Error::new(
            ErrorKind::Forbidden,
            format!(
                "step {i}: the path `{path}` is not forwarded to the provider `{}`",
                target.name
            ),
        ));
    }
    let mut headers = HeaderMap::with_capacity(s.headers.len() + 1);
    for (k, v) in &s.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| at(format!("`{k}` is not a valid header name")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| at(format!("the header `{k}` has an invalid value")))?;
        headers.append(name, value);
    }
    let body = s
        .query
        .map_or_else(Bytes::new, |q| Bytes::copy_from_slice(q.get().as_bytes()));
    if !body.is_empty() && !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let facts = path::facts(target.kind, &path, query.as_deref(), &body);
    check_model(&target, facts.model.as_deref()).map_err(|e| {
        Error::new(e.kind(), format!("step {i}: {}", e.message())).with_param("model")
    })?;
    let cfg = s.config.as_ref();
    let cfg_default = StepConfig::default();
    let cfg = cfg.unwrap_or(&cfg_default);
    let attempts = cfg.max_attempts.unwrap_or(1);
    if !(1..=5).contains(&attempts) {
        return Err(at("`config.maxAttempts` must be between 1 and 5".to_owned()));
    }
    let retry_delay = cfg.retry_delay.unwrap_or(0);
    if retry_delay > 5000 {
        return Err(at(
            "`config.retryDelay` must be at most 5000 (ms)".to_owned()
        ));
    }
    let backoff = match cfg.backoff.as_deref() {
        None | Some("constant") => Backoff::Constant,
        Some("linear") => Backoff::Linear,
        Some("exponential") => Backoff::Exponential,
        Some(other) => {
            return Err(at(format!(
                "`config.backoff` is `constant`, `linear` or `exponential`, not `{other}`"
            )));
        }
    };
    let request_timeout = match cfg.request_timeout {
        Some(0) => {
            return Err(at(
                "`config.requestTimeout` must be positive (ms)".to_owned()
            ));
        }
        Some(ms) => Some(Duration::from_millis(ms).min(target.timeouts.total)),
        None => None,
    };
    Ok(Step {
        target,
        method: Method::POST,
        path,
        query,
        headers,
        body,
        model: facts.model,
        stream: facts.stream,
        request_timeout,
        attempts,
        retry_delay: Duration::from_millis(retry_delay),
        backoff,
    })
}
