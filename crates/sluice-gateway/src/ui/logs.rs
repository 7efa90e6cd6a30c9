//! `/ui/logs`: the request log, filtered (model, provider, key, consumer,
//! status, cache, time range, free text over metadata) and paged; one
//! request in full (`/ui/logs/{id}`: attempts, tokens, cost, guardrail
//! decisions, the payload if kept); and the live tail (`/ui/logs/tail`,
//! SSE of rendered rows from the ledger's broadcast).

use std::convert::Infallible;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use sluice_store::RequestRecord;
use sluice_store::db::analytics::{Filter, LogRow};
use tokio::sync::broadcast::error::RecvError;

use super::format::{self, RANGES};
use super::{UiError, UiState, html};
use crate::admin::analytics::{Page as LogsPage, logs_of, record_of};
use crate::tenancy::directory::now_ms;

/// The filter form's fields; empty means "any".
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    model: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    consumer: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    cache: String,
    #[serde(default)]
    q: String,
    range: Option<String>,
    cursor: Option<String>,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl LogQuery {
    fn filter(&self) -> Result<Filter, UiError> {
        let (_, span) = format::range(self.range.as_deref());
        let now = now_ms();
        let status = match some(&self.status) {
            None => None,
            Some(s) => Some(
                s.parse()
                    .map_err(|_| UiError::bad_request("status must be a number"))?,
            ),
        };
        Ok(Filter {
            from_ms: Some(now - span),
            to_ms: Some(now + 1),
            model: some(&self.model),
            provider: some(&self.provider),
            key: some(&self.key),
            consumer: some(&self.consumer),
            status,
            cache: some(&self.cache),
            q: some(&self.q),
            ..Filter::default()
        })
    }
}

/// One table row, written out.
pub struct Line {
    id: String,
    time: String,
    model: String,
    provider: String,
    key: String,
    consumer: String,
    status: i64,
    outcome: String,
    cache: String,
    tokens: String,
    cost: String,
    latency: String,
}

impl From<&LogRow> for Line {
    fn from(r: &LogRow) -> Self {
        Self {
            id: r.request_id.clone(),
            time: format::time(r.started_at_ms),
            model: r.model.clone().unwrap_or_default(),
            provider: r.provider.clone().unwrap_or_default(),
            key: r.key_id.clone().unwrap_or_default(),
            consumer: r.consumer.clone().unwrap_or_default(),
            status: r.status,
            outcome: r.outcome.clone(),
            cache: r.cache.clone().unwrap_or_default(),
            tokens: format!("{} / {}", r.prompt_tokens, r.completion_tokens),
            cost: r.cost_usd.map(format::usd).unwrap_or_default(),
            latency: format::ms(Some(r.latency_ms)),
        }
    }
}

impl From<&RequestRecord> for Line {
    fn from(r: &RequestRecord) -> Self {
        let usage = r.usage.unwrap_or_default();
        Self {
            id: r.request_id.clone(),
            time: format::time(i64::try_from(r.started_at_ms).unwrap_or(i64::MAX)),
            model: r.meta.request_model.clone().unwrap_or_default(),
            provider: r.meta.provider_name.clone().unwrap_or_default(),
            key: r.identity.key_id.clone().unwrap_or_default(),
            consumer: r.identity.consumer.clone().unwrap_or_default(),
            status: i64::from(r.status),
            outcome: r.outcome.as_str().to_owned(),
            cache: r.cache.clone().unwrap_or_default(),
            tokens: format!("{} / {}", usage.prompt_tokens, usage.completion_tokens),
            cost: r.cost_usd.map(format::usd).unwrap_or_default(),
            latency: format::ms(Some(r.latency_ms)),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/log_row.html")]
struct Row<'a> {
    l: &'a Line,
}

#[derive(Template)]
#[template(path = "ui/logs.html")]
struct Page<'a> {
    nav: &'static str,
    ranges: &'static [(&'static str, &'static str, i64)],
    range: &'static str,
    f: &'a LogQuery,
    lines: Vec<Line>,
    next_cursor: Option<String>,
}

/// `GET /ui/logs`.
pub async fn page(
    State(ui): State<UiState>,
    Query(q): Query<LogQuery>,
) -> Result<Response, UiError> {
    let filter = q.filter()?;
    let page = LogsPage {
        limit: Some(50),
        cursor: q.cursor.clone().filter(|c| !c.is_empty()),
        format: None,
    };
    let logs = logs_of(&ui.gw, &filter, &page).await?;
    html(&Page {
        nav: "logs",
        ranges: RANGES,
        range: format::range(q.range.as_deref()).0,
        f: &q,
        lines: logs.data.iter().map(Line::from).collect(),
        next_cursor: logs.next_cursor,
    })
}

/// `GET /ui/logs/tail`: every new request as a rendered row, as it is
/// recorded (model and provider filters apply).
pub async fn tail(
    State(ui): State<UiState>,
    Query(q): Query<LogQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = ui.gw.ledger().subscribe();
    let (model, provider) = (some(&q.model), some(&q.provider));
    let stream = futures_util::stream::unfold(rx, move |mut rx| {
        let (model, provider) = (model.clone(), provider.clone());
        async move {
            loop {
                let record = match rx.recv().await {
                    Ok(r) => r,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                };
                let wanted = model
                    .as_ref()
                    .is_none_or(|m| record.meta.request_model.as_ref() == Some(m))
                    && provider
                        .as_ref()
                        .is_none_or(|p| record.meta.provider_name.as_ref() == Some(p));
                if !wanted {
                    continue;
                }
                let line = Line::from(record.as_ref());
                let Ok(row) = (Row { l: &line }).render() else {
                    continue;
                };
                let event = Event::default().event("row").data(row.replace('\n', ""));
                return Some((Ok(event), rx));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// One attempt, written out.
pub struct AttemptLine {
    provider: String,
    model: String,
    status: String,
    outcome: String,
    reason: String,
    latency: String,
}

/// One guardrail decision, written out.
pub struct GuardLine {
    policy: String,
    stage: String,
    outcome: String,
    ran: bool,
    detections: String,
}

#[derive(Template)]
#[template(path = "ui/log_detail.html")]
struct Detail {
    nav: &'static str,
    line: Line,
    endpoint: String,
    upstream_model: String,
    route_reason: String,
    error: String,
    usage: Vec<(&'static str, String)>,
    attempts: Vec<AttemptLine>,
    guardrails: Vec<GuardLine>,
    payload: Option<(String, String, bool)>,
    metadata: String,
    json: String,
}

/// `GET /ui/logs/{id}`.
pub async fn detail(
    State(ui): State<UiState>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let value = record_of(&ui.gw, &id).await?;
    let json = serde_json::to_string_pretty(&value).unwrap_or_default();
    let r: RequestRecord = serde_json::from_value(value)
        .map_err(|e| UiError::internal(format!("stored record unreadable: {e}")))?;
    let u = r.usage.unwrap_or_default();
    html(&Detail {
        nav: "logs",
        line: Line::from(&r),
        endpoint: r.meta.endpoint.clone(),
        upstream_model: r.meta.upstream_model.clone().unwrap_or_default(),
        route_reason: r.route_reason.clone().unwrap_or_default(),
        error: [r.error.clone(), r.error_message.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": "),
        usage: vec![
            ("Prompt tokens", u.prompt_tokens.to_string()),
            ("Completion tokens", u.completion_tokens.to_string()),
            ("Cached read tokens", u.cached_read_tokens.to_string()),
            ("Cached write tokens", u.cached_write_tokens.to_string()),
            ("Reasoning tokens", u.reasoning_tokens.to_string()),
            ("Counted by", format!("{:?}", u.source).to_lowercase()),
            (
                "Cost",
                r.cost_usd.map(format::usd).unwrap_or_else(|| "—".into()),
            ),
            ("TTFT", format::ms(r.ttft_ms)),
            ("Gateway time", format::ms(r.gateway_ms)),
        ],
        attempts: r
            .attempts
            .iter()
            .map(|a| AttemptLine {
                provider: a.provider.clone(),
                model: a.upstream_model.clone(),
                status: a.status.map(|s| s.to_string()).unwrap_or_default(),
                outcome: a.outcome.clone(),
                reason: a.reason.clone().unwrap_or_default(),
                latency: format::ms(Some(a.latency_ms)),
            })
            .collect(),
        guardrails: r
            .guardrails
            .iter()
            .map(|g| GuardLine {
                policy: g.policy.clone(),
                stage: g.stage.clone(),
                outcome: g.outcome.clone(),
                ran: g.ran,
                detections: g
                    .detections
                    .iter()
                    .map(|d| format!("{} ×{}", d.detector, d.count))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        payload: r
            .payload
            .as_ref()
            .map(|p| (p.request.clone(), p.response.clone(), p.truncated)),
        metadata: r
            .metadata
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
        json,
    })
}
