//! The model chosen by the URL or a header instead of the body (Kong's
//! `route_source`): one configuration serves every model, and the client
//! picks it with
//! - the path `/v1/route/{provider}/{model}/chat/completions` (or
//!   `/embeddings`), on the default route or under a route prefix; or
//! - the header `x-sluice-model: <public model>` on the usual endpoints.
//!
//! Either one only *names* the model: the request then follows exactly the
//! path of one whose body said `"model": ...` (the route's pin and
//! allow-list, the model table, routing, limits, the record), so it reaches
//! nothing the body could not. A path's `{provider}/{model}` must resolve to
//! a configured public model (`{provider}/{model}` itself, e.g. through an
//! `openai/*` entry, else `{model}`) with a target on that provider. A route
//! may forbid either form (`model_in_path`, `model_in_header`).
//!
//! [`apply`] runs in the chat and embeddings handlers once the body is
//! read: the body's `model` is replaced by the chosen name, then the
//! request is served as usual.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request};
use sluice_protocol::json::{Patch, patch_object};
use sluice_protocol::openai::request::invalid_json;
use sluice_protocol::{Error, ErrorKind};

use super::chat;
use super::context::RequestCtx;
use super::embeddings::{self as embed, Op};
use super::errors::{self, Dialect};
use crate::config::RouteConfig;

/// The request header that chooses the model.
pub const MODEL_HEADER: &str = "x-sluice-model";

/// Longest model name accepted from a path or header.
const MAX_MODEL_LEN: usize = 256;

/// The model a `/v1/route/...` path chose, handed to the chat or
/// embeddings handler with the request.
#[derive(Debug, Clone)]
struct PathModel(String);

/// Serves `/v1/route/{rest}` on `route`.
pub async fn by_path(
    ctx: RequestCtx,
    route: &RouteConfig,
    rest: &str,
    req: Request<Body>,
) -> Response {
    let (endpoint, op) = if rest.ends_with("/chat/completions") {
        ("chat", None)
    } else if rest.ends_with("/embeddings") {
        ("embeddings", Some(Op::Embeddings))
    } else {
        ("route", None)
    };
    ctx.record.update(|r| {
        r.meta.route.clone_from(&route.name);
        r.meta.endpoint = endpoint.to_owned();
    });
    let chosen = parse(rest).and_then(|(provider, model)| {
        if req.method() != Method::POST {
            return Err(Error::new(
                ErrorKind::MethodNotAllowed,
                "Method not allowed for this path.",
            ));
        }
        if !route.model_in_path {
            return Err(not_allowed(route, "the path (`/v1/route/...`)"));
        }
        resolve(&ctx, provider, &model)
    });
    let chosen = match chosen {
        Ok(m) => m,
        Err(e) => return errors::respond(&e, Dialect::OpenAi, &ctx.record),
    };
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(PathModel(chosen));
    let req = Request::from_parts(parts, body);
    match op {
        None => chat::serve(ctx, route, req).await,
        Some(op) => embed::serve(ctx, route, req, op).await,
    }
}

/// The request body with its `model` replaced by the one the path or the
/// `x-sluice-model` header chose; unchanged when neither did. Called by
/// the chat and embeddings handlers once the body is read.
pub fn apply(route: &RouteConfig, parts: &Parts, body: Bytes) -> Result<Bytes, Error> {
    let model = if let Some(PathModel(m)) = parts.extensions.get::<PathModel>() {
        m.clone()
    } else if let Some(value) = parts.headers.get(MODEL_HEADER) {
        if !route.model_in_header {
            return Err(not_allowed(route, &format!("the `{MODEL_HEADER}` header")));
        }
        value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|m| !m.is_empty() && m.len() <= MAX_MODEL_LEN)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "The `{MODEL_HEADER}` header must name a model (at most {MAX_MODEL_LEN} \
                     characters)."
                ))
                .with_param(MODEL_HEADER)
            })?
            .to_owned()
    } else {
        return Ok(body);
    };
    let text = std::str::from_utf8(&body).map_err(|_| {
        Error::invalid("The request body is not UTF-8 JSON.").with_code("invalid_json")
    })?;
    let value = serde_json::to_vec(&model).map_err(|e| Error::internal(e.to_string()))?;
    let patched =
        patch_object(text, &[Patch::Set("model", &value)]).map_err(|e| invalid_json(&e))?;
    Ok(Bytes::from(patched))
}

/// `{provider}/{model}/chat/completions` or `.../embeddings`: the provider
/// and the model (which may contain `/` or `%2F`).
fn parse(rest: &str) -> Result<(&str, String), Error> {
    let usage = || {
        Error::new(
            ErrorKind::NotFound,
            format!(
                "Unknown path `/v1/route/{rest}`. Use /v1/route/{{provider}}/{{model}}/chat/completions \
                 or /v1/route/{{provider}}/{{model}}/embeddings."
            ),
        )
    };
    let inner = rest
        .strip_suffix("/chat/completions")
        .or_else(|| rest.strip_suffix("/embeddings"))
        .ok_or_else(usage)?;
    let (provider, model) = inner.split_once('/').ok_or_else(usage)?;
    let model =
        String::from_utf8(crate::passthrough::path::percent_decode(model)).map_err(|_| usage())?;
    if provider.is_empty()
        || model.is_empty()
        || model.len() > MAX_MODEL_LEN
        || model
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(usage());
    }
    Ok((provider, model))
}

/// The public model `{provider}/{model}` stands for: the first of
/// `{provider}/{model}` and `{model}` that the model table serves with a
/// target on that provider.
fn resolve(ctx: &RequestCtx, provider: &str, model: &str) -> Result<String, Error> {
    if !ctx.rt.config.providers.iter().any(|p| p.name == provider) {
        let mut names: Vec<&str> = ctx
            .rt
            .config
            .providers
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        return Err(Error::new(
            ErrorKind::ModelNotFound,
            format!(
                "No provider is configured as `{provider}`; configured: [{}].",
                names.join(", ")
            ),
        )
        .with_param("model"));
    }
    let qualified = format!("{provider}/{model}");
    for candidate in [qualified.as_str(), model] {
        if let Ok((group, _)) = ctx.rt.models.lookup(candidate)
            && group.targets.iter().any(|t| t.provider.name() == provider)
        {
            return Ok(candidate.to_owned());
        }
    }
    Err(Error::new(
        ErrorKind::ModelNotFound,
        format!(
            "The model `{model}` of provider `{provider}` is not served by this gateway: no entry \
             in `models` serves `{qualified}` or `{model}` on `{provider}` (add one, or a \
             `{provider}/*` entry)."
        ),
    )
    .with_param("model"))
}

fn not_allowed(route: &RouteConfig, how: &str) -> Error {
    Error::new(
        ErrorKind::Forbidden,
        format!(
            "The route `{}` does not let {how} choose the model.",
            route.name
        ),
    )
    .with_code("model_selection_not_allowed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse("openai/gpt-4o/chat/completions").unwrap(),
            ("openai", "gpt-4o".to_owned())
        );
        assert_eq!(
            parse("hf/meta-llama/Llama-3.1-8B/chat/completions").unwrap(),
            ("hf", "meta-llama/Llama-3.1-8B".to_owned())
        );
        assert_eq!(
            parse("hf/meta-llama%2FLlama/embeddings").unwrap(),
            ("hf", "meta-llama/Llama".to_owned())
        );
        for bad in [
            "openai/chat/completions",
            "openai//chat/completions",
            "openai/gpt-4o/completions",
            "openai/../x/chat/completions",
            "/gpt/chat/completions",
        ] {
            assert_eq!(parse(bad).unwrap_err().status(), 404, "{bad}");
        }
    }
}
