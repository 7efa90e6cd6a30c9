//! `/{provider}/...`: a configured provider's own API, forwarded unchanged
//! (Cloudflare's provider endpoints). `/openai/v1/chat/completions` goes to
//! the `openai` provider's `https://api.openai.com/v1/chat/completions`;
//! the client's SDK only changes its base URL.
//!
//! [`dispatch`] runs for every path no fixed route matched, before the 404:
//! it claims `/v1/route/...` (model chosen by the URL, [`super::select`])
//! and `/{name}/...` for every provider with pass-through enabled. The
//! handler reads the request, checks its path and the provider's
//! allow-lists, and hands one step to `pipeline::passthrough`; [`respond`]
//! passes the answer back (shared with the universal endpoint). Errors the
//! gateway itself raises are rendered in the provider's dialect (Anthropic's
//! for Anthropic, OpenAI's otherwise).

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request, StatusCode, header};
use sluice_protocol::{Error, ErrorKind};

use super::context::RequestCtx;
use super::errors::{self, Dialect};
use super::{body, meta, select};
use crate::exec::{Answer, Job};
use crate::passthrough::{self, PassTarget, Plan, Reply, Step, forward, path};
use crate::pipeline;
use crate::provider::{ProviderKind, Wire};
use crate::record::ms;
use crate::tokens;

/// Serves `req` if it is a pass-through or model-by-URL path; otherwise
/// gives it back.
pub async fn dispatch(ctx: RequestCtx, req: Request<Body>) -> Result<Response, Request<Body>> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/v1/route/") {
        let rest = rest.to_owned();
        let route = ctx.rt.default_route().clone();
        return Ok(select::by_path(ctx, &route, &rest, req).await);
    }
    if let Some((route, rest)) = ctx.rt.route_for_path(path) {
        let Some(rest) = rest.strip_prefix("/v1/route/") else {
            // A route prefix: never a provider name (config validation).
            return Err(req);
        };
        let (route, rest) = (route.clone(), rest.to_owned());
        return Ok(select::by_path(ctx, &route, &rest, req).await);
    }
    let name = path[1..].split('/').next().unwrap_or("");
    if name.is_empty() {
        return Err(req);
    }
    if let Some(target) = ctx.rt.passthrough.get(name).cloned() {
        return Ok(serve(ctx, target, req).await);
    }
    if ctx.rt.config.providers.iter().any(|p| p.name == name) {
        let e = Error::new(
            ErrorKind::NotFound,
            format!("Pass-through is disabled for the provider `{name}`."),
        );
        return Ok(errors::respond(&e, Dialect::OpenAi, &ctx.record));
    }
    Err(req)
}

/// Serves one pass-through request to `target`.
async fn serve(ctx: RequestCtx, target: Arc<PassTarget>, req: Request<Body>) -> Response {
    let kind = target.kind;
    ctx.record.update(|r| {
        r.meta.route = "default".to_owned();
        r.meta.endpoint = format!("passthrough:{}", target.name);
        r.meta.provider_name = Some(target.name.clone());
    });
    match run(&ctx, target, req).await {
        Ok(resp) => resp,
        Err(e) => fail(&ctx, &e, kind),
    }
}

async fn run(
    ctx: &RequestCtx,
    target: Arc<PassTarget>,
    req: Request<Body>,
) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    if matches!(parts.method, Method::CONNECT | Method::TRACE) {
        return Err(Error::new(
            ErrorKind::MethodNotAllowed,
            "CONNECT and TRACE are not forwarded.",
        ));
    }
    let metadata = meta::metadata(&parts.headers)?;
    if let Some(m) = &metadata {
        ctx.record
            .update(|r| r.metadata = Some(serde_json::Value::Object(m.clone())));
    }
    let rest = &parts.uri.path()[1 + target.name.len()..];
    let rest = if rest.is_empty() { "/" } else { rest };
    let query = parts.uri.query();
    path::check(rest, query)?;
    if !target.allows_path(rest) {
        return Err(Error::new(
            ErrorKind::Forbidden,
            format!(
                "The path `{rest}` is not forwarded to the provider `{}` \
                 (providers.{}.passthrough.paths).",
                target.name, target.name
            ),
        ));
    }
    let bytes = body::read_for(ctx, body).await?;
    let facts = path::facts(target.kind, rest, query, &bytes);
    ctx.record.update(|r| {
        r.meta.request_model.clone_from(&facts.model);
        r.stream = facts.stream;
    });
    check_model(&target, facts.model.as_deref())?;
    let size = bytes.len();
    let step = Step {
        target: target.clone(),
        method: parts.method.clone(),
        path: rest.to_owned(),
        query: query.map(str::to_owned),
        headers: parts.headers.clone(),
        body: bytes,
        model: facts.model.clone(),
        stream: facts.stream,
        request_timeout: None,
        attempts: 1,
        retry_delay: std::time::Duration::ZERO,
        backoff: passthrough::Backoff::Constant,
    };
    let job = Job {
        rt: &ctx.rt,
        ctx: meta::route_ctx(&parts, metadata.as_ref(), None),
        record: &ctx.record,
        model: facts.model.as_deref().unwrap_or(""),
        prompt_tokens: &|| tokens::from_bytes(size),
    };
    let plan = Plan {
        steps: vec![step],
        fallback: false,
    };
    let answer = pipeline::passthrough(&job, plan).await?;
    Ok(respond(ctx, answer, None))
}

/// Refuses a request for a model outside the provider's `models` list.
pub fn check_model(target: &PassTarget, model: Option<&str>) -> Result<(), Error> {
    if target.allows_model(model) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Forbidden,
        format!(
            "The model `{}` is not forwarded to the provider `{}` \
             (providers.{}.passthrough.models).",
            model.unwrap_or_default(),
            target.name,
            target.name
        ),
    )
    .with_param("model")
    .with_code("model_not_allowed"))
}

/// Passes an upstream answer back: its status, its headers (filtered) and
/// its body as it arrives, with Sluice's `x-sluice-*` headers; records who
/// answered. `step`: the universal step that answered (`x-sluice-step`).
pub fn respond(ctx: &RequestCtx, answer: Answer<Reply>, step: Option<usize>) -> Response {
    let record = &ctx.record;
    let Answer {
        value: reply,
        provider,
        upstream_model,
        upstream_time,
        attempts,
        reason,
        price,
    } = answer;
    record.set_price(price);
    let overhead = record.elapsed().saturating_sub(upstream_time);
    let status = reply.status;
    let stream = reply.stream;
    let model = (!upstream_model.is_empty()).then_some(upstream_model);
    record.update(|r| {
        r.meta.provider_name = Some(provider.name().to_owned());
        r.meta.upstream_model.clone_from(&model);
        r.meta.request_model.clone_from(&model);
        r.gateway_ms = Some(ms(overhead));
        r.route_reason = Some(reason.clone());
        r.stream = stream;
    });
    if !status.is_success() {
        let e = Error::new(
            passthrough::status_kind(status),
            format!("upstream `{}` answered HTTP {status}", provider.name()),
        )
        .with_upstream_status(status.as_u16())
        .with_provider(provider.name());
        record.finish_err(&e, false);
    }
    let mut headers = forward::response_headers(&reply.headers);
    forward::put(&mut headers, "x-sluice-provider", provider.name());
    if let Some(m) = &model {
        forward::put(&mut headers, "x-sluice-model", m);
    }
    forward::put(&mut headers, "x-sluice-attempts", &attempts.to_string());
    forward::put(&mut headers, "x-sluice-route-reason", &reason);
    forward::put(
        &mut headers,
        "x-sluice-overhead-ms",
        &format!("{:.3}", ms(overhead)),
    );
    if let Some(i) = step {
        forward::put(&mut headers, "x-sluice-step", &i.to_string());
    }
    if reply.framing.is_stream() {
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    let header_usage = sluice_protocol::meter::bedrock_header_usage(
        header_str(&reply.headers, "x-amzn-bedrock-input-token-count"),
        header_str(&reply.headers, "x-amzn-bedrock-output-token-count"),
    );
    let settle = passthrough::body::Settle {
        record: record.clone(),
        provider: provider.name().to_owned(),
        success: status.is_success(),
        header_usage,
        estimate: model.is_some(),
    };
    let mut resp = Response::new(passthrough::body::metered(reply, settle));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn header_str<'h>(h: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Finishes the record with `err` and renders it in the dialect of a
/// provider of `kind`.
pub fn fail(ctx: &RequestCtx, err: &Error, kind: ProviderKind) -> Response {
    if kind.wire() != Wire::Anthropic {
        return errors::respond(err, Dialect::OpenAi, &ctx.record);
    }
    ctx.record.finish_err(err, false);
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(err.to_anthropic_json())).into_response();
    if let Some(after) = err.retry_after() {
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}
