//! `/ui/routes`: what each public model maps to (targets, weights, health
//! and circuit state, in-flight requests, error rate, latency), the canary
//! weight editor, the config serving now with every secret redacted, and
//! the last reload's result.
//!
//! A weight edit goes through [`Reloader::set_weights`](crate::reload::Reloader::set_weights):
//! validated, then swapped in atomically like a file reload. It is kept in
//! memory and applied over every later reload of the file; a restart
//! returns to the file's weights.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

use super::format;
use super::{UiError, UiState, html};
use crate::routing::TargetView;

/// One target, written out.
pub struct TargetLine {
    id: String,
    provider: String,
    weight: u32,
    effective: String,
    health: &'static str,
    breaker: &'static str,
    in_flight: i64,
    error_rate: String,
    latency: String,
}

fn health(t: &TargetView) -> &'static str {
    match t.breaker {
        "open" => "down",
        "half_open" => "probing",
        _ if t.error_rate > 0.2 => "degraded",
        _ => "healthy",
    }
}

/// One model group, written out.
pub struct GroupLine {
    name: String,
    strategy: &'static str,
    editable: bool,
    overridden: bool,
    targets: Vec<TargetLine>,
}

#[derive(Template)]
#[template(path = "ui/routes.html")]
struct Page {
    nav: &'static str,
    groups: Vec<GroupLine>,
    source: String,
    from_file: bool,
    generation: u64,
    last_reload: Option<(bool, String, String, String)>,
    config: String,
}

/// `GET /ui/routes`.
pub async fn page(State(ui): State<UiState>) -> Result<Response, UiError> {
    let rt = ui.gw.snapshot();
    let overrides = ui.reloader.weight_overrides();
    let groups = ui
        .gw
        .routes_view()
        .into_iter()
        .map(|g| GroupLine {
            editable: g.strategy == "weighted" && g.targets.len() > 1,
            overridden: overrides.contains_key(&g.name),
            name: g.name,
            strategy: g.strategy,
            targets: g
                .targets
                .iter()
                .map(|t| TargetLine {
                    id: t.id.clone(),
                    provider: t.provider.clone(),
                    weight: t.weight,
                    effective: format!("{:.2}", t.effective_weight),
                    health: health(t),
                    breaker: t.breaker,
                    in_flight: t.in_flight,
                    error_rate: format!("{:.1}%", t.error_rate * 100.0),
                    latency: format::ms(t.latency_ms),
                })
                .collect(),
        })
        .collect();
    let last_reload = ui.reloader.last().map(|r| {
        (
            r.ok,
            format::time(i64::try_from(r.at).unwrap_or(0).saturating_mul(1000)),
            r.trigger,
            r.error.unwrap_or_default(),
        )
    });
    html(&Page {
        nav: "routes",
        groups,
        source: rt.config.source.clone(),
        from_file: ui.reloader.path().is_some(),
        generation: rt.generation,
        last_reload,
        config: redact_urls(&format!("{:#?}", rt.config)),
    })
}

/// The config dump with URL credentials hidden. Every `Secret` already
/// prints as `[redacted]`; plain URLs may still carry a credential in their
/// user-info, their query, or (webhooks, whose URL is the credential) their
/// path.
fn redact_urls(dump: &str) -> String {
    static PATTERNS: std::sync::OnceLock<Option<[regex::Regex; 3]>> = std::sync::OnceLock::new();
    let Some([userinfo, query, webhook]) = PATTERNS.get_or_init(|| {
        Some([
            regex::Regex::new(r"(https?://)[^/@\s\x22]+@").ok()?,
            regex::Regex::new(r"(https?://[^?\s\x22]*)\?[^\s\x22]*").ok()?,
            regex::Regex::new(r"(webhook: Some\(\s*\x22https?://[^/\s\x22]+)[^\s\x22]*").ok()?,
        ])
    }) else {
        return "(the config could not be shown)".to_owned();
    };
    let s = userinfo.replace_all(dump, "${1}[redacted]@");
    let s = query.replace_all(&s, "${1}?[redacted]");
    webhook.replace_all(&s, "${1}/[redacted]").into_owned()
}

/// `POST /ui/routes/weights`: `model` and one `w<N>` per target.
pub async fn weights(
    State(ui): State<UiState>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let model = fields
        .iter()
        .find(|(k, _)| k == "model")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| UiError::bad_request("which model?"))?;
    let mut weights: Vec<(usize, u32)> = Vec::new();
    for (k, v) in &fields {
        let Some(i) = k.strip_prefix('w').and_then(|i| i.parse().ok()) else {
            continue;
        };
        let w = v
            .trim()
            .parse()
            .map_err(|_| UiError::bad_request(format!("weight `{v}` is not a whole number ≥ 0")))?;
        weights.push((i, w));
    }
    weights.sort_unstable();
    if weights.iter().enumerate().any(|(n, (i, _))| n != *i) {
        return Err(UiError::bad_request("one weight per target, please"));
    }
    let weights = weights.into_iter().map(|(_, w)| w).collect();
    let generation = ui
        .reloader
        .set_weights(&model, weights)
        .await
        .map_err(UiError::bad_request)?;
    let mut resp = format!("<p class=\"ok\">Applied: generation {generation}.</p>").into_response();
    resp.headers_mut()
        .insert("hx-refresh", HeaderValue::from_static("true"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::redact_urls;

    #[test]
    fn url_credentials_are_hidden() {
        let dump = r#"base_url: "https://user:pw@example.com/v1?key=abc", webhook: Some(
    "https://hooks.slack.com/services/T0/B0/XYZ",
), url: "http://127.0.0.1:4318/v1/traces""#;
        let out = redact_urls(dump);
        assert!(
            !out.contains("pw@") && !out.contains("key=abc") && !out.contains("XYZ"),
            "{out}"
        );
        assert!(
            out.contains("https://[redacted]@example.com/v1?[redacted]"),
            "{out}"
        );
        assert!(out.contains("https://hooks.slack.com/[redacted]"), "{out}");
        assert!(out.contains("http://127.0.0.1:4318/v1/traces"), "{out}");
    }
}
