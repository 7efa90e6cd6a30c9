//! The analytics API on the admin listener: totals and time series grouped
//! by any dimension, the searchable request log, one request in full, and
//! CSV or JSON export. Everything is read from the ledger's database.
//!
//! Sums and percentiles are computed here from the matching rows, so the
//! same code serves SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sluice_store::db::analytics::{Dimension, Fact, Filter, LogRow};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ErrorBody};
use crate::state::Gateway;
use crate::tenancy::directory::now_ms;
use crate::tenancy::manage::AdminError;

/// Grouping and bucketing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Shape {
    /// Comma-separated dimensions: `model`, `provider`, `key`, `consumer`,
    /// `team`, `route`, `status`, `outcome`, `endpoint`.
    pub group_by: Option<String>,
    /// Time-series bucket width in seconds (default 60).
    pub interval_secs: Option<i64>,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub avg: Option<f64>,
}

/// The numbers of a set of requests.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Stats {
    pub requests: u64,
    /// Requests whose outcome was not `ok`.
    pub errors: u64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_read_tokens: i64,
    pub cost_usd: f64,
    /// Requests answered from the cache.
    pub cache_hits: u64,
    /// Requests that consulted the cache (hit, miss, refresh).
    pub cache_lookups: u64,
    pub latency_ms: Percentiles,
    /// Time to first token (streams only).
    pub ttft_ms: Percentiles,
}

/// One group's numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    /// The group's value per dimension (`null` when unset).
    #[schema(value_type = Object)]
    pub key: BTreeMap<String, Option<String>>,
    #[serde(flatten)]
    pub stats: Stats,
}

/// Totals over a span, overall and per group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub from_ms: i64,
    pub to_ms: i64,
    pub totals: Stats,
    pub groups: Vec<Group>,
}

/// One time bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    pub start_ms: i64,
    pub groups: Vec<Group>,
}

/// A time series.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    pub from_ms: i64,
    pub to_ms: i64,
    pub interval_secs: i64,
    pub buckets: Vec<Bucket>,
}

fn dimensions(shape: &Shape) -> Result<Vec<Dimension>, ApiError> {
    let Some(list) = shape.group_by.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(|d| {
            serde_json::from_value(serde_json::Value::String(d.trim().to_owned())).map_err(|_| {
                AdminError::Invalid(format!("unknown group_by dimension `{d}`")).into()
            })
        })
        .collect()
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| crate::metrics::quantile(&v, q);
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        avg: Some(v.iter().sum::<f64>() / v.len() as f64),
    }
}

fn stats<'a>(facts: impl Iterator<Item = &'a Fact>) -> Stats {
    let mut s = Stats::default();
    let (mut lat, mut ttft) = (Vec::new(), Vec::new());
    for f in facts {
        s.requests += 1;
        s.errors += u64::from(f.outcome != "ok");
        s.prompt_tokens += f.prompt_tokens;
        s.completion_tokens += f.completion_tokens;
        s.cached_read_tokens += f.cached_read_tokens;
        s.cost_usd += f.cost_usd;
        s.cache_hits += u64::from(f.cache.as_deref() == Some("hit"));
        s.cache_lookups += u64::from(matches!(
            f.cache.as_deref(),
            Some("hit" | "miss" | "refresh")
        ));
        lat.push(f.latency_ms);
        ttft.extend(f.ttft_ms);
    }
    s.total_tokens = s.prompt_tokens + s.completion_tokens;
    s.latency_ms = percentiles(lat);
    s.ttft_ms = percentiles(ttft);
    s
}

fn groups(dims: &[Dimension], facts: &[&Fact]) -> Vec<Group> {
    let mut by: BTreeMap<&[Option<String>], Vec<&Fact>> = BTreeMap::new();
    for f in facts {
        by.entry(f.group.as_slice()).or_default().push(f);
    }
    by.into_iter()
        .map(|(values, members)| Group {
            key: dims
                .iter()
                .zip(values)
                .map(|(d, v)| (dim_name(*d), v.clone()))
                .collect(),
            stats: stats(members.into_iter()),
        })
        .collect()
}

fn dim_name(d: Dimension) -> String {
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn span(f: &Filter, now: i64) -> (i64, i64) {
    (
        f.from_ms.unwrap_or(now - 86_400_000),
        f.to_ms.unwrap_or(now + 1),
    )
}

/// Totals of requests, tokens, cost, errors and latency percentiles,
/// overall and per group.
#[utoipa::path(get, path = "/v1/analytics/summary", operation_id = "getAnalyticsSummary", tag = "analytics",
    params(Filter, Shape),
    responses((status = 200, body = Summary), (status = 400, body = ErrorBody)))]
pub async fn summary(
    State(gw): State<Arc<Gateway>>,
    Query(filter): Query<Filter>,
    Query(shape): Query<Shape>,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(summary_of(&gw, &filter, &shape).await?))
}

/// The summary behind `GET /v1/analytics/summary` (also the dashboard's).
pub async fn summary_of(gw: &Gateway, filter: &Filter, shape: &Shape) -> Result<Summary, ApiError> {
    let filter = filter.clone();
    let dims = dimensions(shape)?;
    let now = now_ms();
    let facts = gw
        .tenancy()
        .db()
        .facts(&filter, &dims, now)
        .await
        .map_err(AdminError::from)?;
    let all: Vec<&Fact> = facts.iter().collect();
    let (from_ms, to_ms) = span(&filter, now);
    Ok(Summary {
        from_ms,
        to_ms,
        totals: stats(facts.iter()),
        groups: if dims.is_empty() {
            Vec::new()
        } else {
            groups(&dims, &all)
        },
    })
}

/// The same numbers per time bucket.
#[utoipa::path(get, path = "/v1/analytics/timeseries", operation_id = "getAnalyticsTimeseries", tag = "analytics",
    params(Filter, Shape),
    responses((status = 200, body = Series), (status = 400, body = ErrorBody)))]
pub async fn timeseries(
    State(gw): State<Arc<Gateway>>,
    Query(filter): Query<Filter>,
    Query(shape): Query<Shape>,
) -> Result<Json<Series>, ApiError> {
    Ok(Json(series_of(&gw, &filter, &shape).await?))
}

/// The series behind `GET /v1/analytics/timeseries` (also the dashboard's).
pub async fn series_of(gw: &Gateway, filter: &Filter, shape: &Shape) -> Result<Series, ApiError> {
    let filter = filter.clone();
    let dims = dimensions(shape)?;
    let interval = shape.interval_secs.unwrap_or(60);
    if !(1..=86_400 * 31).contains(&interval) {
        return Err(AdminError::Invalid("interval_secs must be 1 to 2678400".into()).into());
    }
    let now = now_ms();
    let (from_ms, to_ms) = span(&filter, now);
    if (to_ms - from_ms) / (interval * 1000) > 10_000 {
        return Err(
            AdminError::Invalid("more than 10000 buckets: widen interval_secs".into()).into(),
        );
    }
    let facts = gw
        .tenancy()
        .db()
        .facts(&filter, &dims, now)
        .await
        .map_err(AdminError::from)?;
    let width = interval * 1000;
    let mut by: BTreeMap<i64, Vec<&Fact>> = BTreeMap::new();
    for f in &facts {
        let start = from_ms + (f.started_at_ms - from_ms).div_euclid(width) * width;
        by.entry(start).or_default().push(f);
    }
    let buckets = by
        .into_iter()
        .map(|(start_ms, members)| Bucket {
            start_ms,
            groups: if dims.is_empty() {
                vec![Group {
                    key: BTreeMap::new(),
                    stats: stats(members.into_iter()),
                }]
            } else {
                groups(&dims, &members)
            },
        })
        .collect();
    Ok(Series {
        from_ms,
        to_ms,
        interval_secs: interval,
        buckets,
    })
}

/// Paging through the log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Most lines (default 100, at most 1000; export: at most 100000).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Export format: `json` (default) or `csv`.
    pub format: Option<String>,
}

/// A page of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    pub data: Vec<LogRow>,
    /// Pass as `cursor` for the next (older) page; absent at the end.
    pub next_cursor: Option<String>,
}

fn cursor(c: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
    let Some(c) = c else { return Ok(None) };
    let (at, id) = c
        .split_once('_')
        .and_then(|(a, id)| Some((a.parse().ok()?, id.to_owned())))
        .ok_or_else(|| AdminError::Invalid("bad cursor".into()))?;
    Ok(Some((at, id)))
}

/// The request log, newest first, filtered.
#[utoipa::path(get, path = "/v1/logs", operation_id = "listLogs", tag = "analytics",
    params(Filter, Page),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody)))]
pub async fn logs(
    State(gw): State<Arc<Gateway>>,
    Query(filter): Query<Filter>,
    Query(page): Query<Page>,
) -> Result<Json<LogPage>, ApiError> {
    Ok(Json(logs_of(&gw, &filter, &page).await?))
}

/// The page behind `GET /v1/logs` (also the dashboard's).
pub async fn logs_of(gw: &Gateway, filter: &Filter, page: &Page) -> Result<LogPage, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    let before = cursor(page.cursor.as_deref())?;
    let data = gw
        .tenancy()
        .db()
        .logs(filter, limit, before, now_ms())
        .await
        .map_err(AdminError::from)?;
    let next_cursor = (data.len() as i64 == limit)
        .then(|| {
            data.last()
                .map(|r| format!("{}_{}", r.started_at_ms, r.request_id))
        })
        .flatten();
    Ok(LogPage { data, next_cursor })
}

/// One request in full: identity, every attempt, usage, cost, timing,
/// annotations, and its bodies when payload logging kept them.
#[utoipa::path(get, path = "/v1/logs/{id}", operation_id = "getLog", tag = "analytics",
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "The request record", body = Object), (status = 404, body = ErrorBody)))]
pub async fn log(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(record_of(&gw, &id).await?))
}

/// One stored record, as behind `GET /v1/logs/{id}` (also the dashboard's).
pub async fn record_of(gw: &Gateway, id: &str) -> Result<serde_json::Value, ApiError> {
    let json = gw
        .tenancy()
        .db()
        .record_json(id)
        .await
        .map_err(AdminError::from)?
        .ok_or_else(|| AdminError::NotFound(format!("request `{id}`")))?;
    let value = serde_json::from_str(&json)
        .map_err(|e| AdminError::Unavailable(format!("stored record unreadable: {e}")))?;
    Ok(value)
}

/// The log as a file: `format=csv` or `format=json`.
#[utoipa::path(get, path = "/v1/logs/export", operation_id = "exportLogs", tag = "analytics",
    params(Filter, Page),
    responses(
        (status = 200, description = "CSV or a JSON array of log lines", content(
            (Vec<LogRow> = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, body = ErrorBody),
    ))]
pub async fn export(
    State(gw): State<Arc<Gateway>>,
    Query(filter): Query<Filter>,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let limit = page.limit.unwrap_or(100_000).clamp(1, 100_000);
    let rows = gw
        .tenancy()
        .db()
        .logs(&filter, limit, cursor(page.cursor.as_deref())?, now_ms())
        .await
        .map_err(AdminError::from)?;
    match page.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(rows).into_response()),
        "csv" => Ok((
            [
                (http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"sluice-requests.csv\"",
                ),
            ],
            super::csv::render(&rows),
        )
            .into_response()),
        other => Err(AdminError::Invalid(format!("format `{other}`: use csv or json")).into()),
    }
}
