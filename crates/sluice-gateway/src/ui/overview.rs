//! `/ui`: totals for a time range (requests, tokens, cost, error rate,
//! latency and TTFT percentiles, cache hit rate), the same as time series
//! split by model or provider (`/ui/data/series`, drawn by uPlot), and the
//! models, keys and consumers that cost most. Numbers come from the
//! analytics functions behind `/v1/analytics/*`.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sluice_store::db::analytics::Filter;

use super::format::{self, RANGES, Totals};
use super::{UiError, UiState, html};
use crate::admin::analytics::{Shape, Stats, series_of, summary_of};
use crate::tenancy::directory::now_ms;

/// What the overview shows.
#[derive(Debug, Default, Deserialize)]
pub struct View {
    /// A name from [`RANGES`].
    range: Option<String>,
    /// `model` (default) or `provider`.
    split: Option<String>,
}

impl View {
    fn filter(&self) -> (&'static str, Filter) {
        let (name, span) = format::range(self.range.as_deref());
        let now = now_ms();
        let filter = Filter {
            from_ms: Some(now - span),
            to_ms: Some(now + 1),
            ..Filter::default()
        };
        (name, filter)
    }

    fn split(&self) -> &'static str {
        match self.split.as_deref() {
            Some("provider") => "provider",
            _ => "model",
        }
    }
}

/// One line of a top list.
pub struct Top {
    name: String,
    requests: u64,
    cost: String,
}

/// A top list with its title and element id.
pub struct TopList {
    title: &'static str,
    id: &'static str,
    rows: Vec<Top>,
}

#[derive(Template)]
#[template(path = "ui/overview.html")]
struct Page {
    nav: &'static str,
    range: &'static str,
    split: &'static str,
    ranges: &'static [(&'static str, &'static str, i64)],
    totals: Totals,
    tops: Vec<TopList>,
}

async fn top(
    ui: &UiState,
    filter: &Filter,
    (title, id, dim): (&'static str, &'static str, &str),
) -> Result<TopList, UiError> {
    let shape = Shape {
        group_by: Some(dim.to_owned()),
        interval_secs: None,
    };
    let mut groups = summary_of(&ui.gw, filter, &shape).await?.groups;
    groups.sort_by(|a, b| b.stats.cost_usd.total_cmp(&a.stats.cost_usd));
    let rows = groups
        .into_iter()
        .take(10)
        .map(|g| Top {
            name: g
                .key
                .into_values()
                .next()
                .flatten()
                .unwrap_or_else(|| "(none)".to_owned()),
            requests: g.stats.requests,
            cost: format::usd(g.stats.cost_usd),
        })
        .collect();
    Ok(TopList { title, id, rows })
}

/// `GET /ui`.
pub async fn page(
    State(ui): State<UiState>,
    Query(view): Query<View>,
) -> Result<Response, UiError> {
    let (range, filter) = view.filter();
    let totals = summary_of(&ui.gw, &filter, &Shape::default()).await?.totals;
    html(&Page {
        nav: "overview",
        range,
        split: view.split(),
        ranges: RANGES,
        totals: Totals::from(&totals),
        tops: vec![
            top(&ui, &filter, ("Models by cost", "top-models", "model")).await?,
            top(&ui, &filter, ("Keys by cost", "top-keys", "key")).await?,
            top(
                &ui,
                &filter,
                ("Consumers by cost", "top-consumers", "consumer"),
            )
            .await?,
        ],
    })
}

/// Time series ready for uPlot: one value per bucket and group.
#[derive(Debug, Serialize)]
pub struct ChartData {
    /// Bucket starts, seconds since the epoch.
    x: Vec<i64>,
    /// Group names (models or providers).
    groups: Vec<String>,
    /// Metric → group → one value per bucket (`null`: no data).
    metrics: BTreeMap<&'static str, Vec<Vec<Option<f64>>>>,
}

type Pick = fn(&Stats) -> Option<f64>;

/// `(name, counts: a bucket without requests is 0, not a gap, value)`.
const METRICS: &[(&str, bool, Pick)] = &[
    ("requests", true, |s| Some(s.requests as f64)),
    ("tokens", true, |s| Some(s.total_tokens as f64)),
    ("cost_usd", true, |s| Some(s.cost_usd)),
    ("error_rate", false, |s| {
        (s.requests > 0).then(|| s.errors as f64 * 100.0 / s.requests as f64)
    }),
    ("latency_p50", false, |s| s.latency_ms.p50),
    ("latency_p95", false, |s| s.latency_ms.p95),
    ("ttft_p50", false, |s| s.ttft_ms.p50),
    ("cache_hit_rate", false, |s| {
        (s.cache_lookups > 0).then(|| s.cache_hits as f64 * 100.0 / s.cache_lookups as f64)
    }),
];

/// `GET /ui/data/series`: the overview's charts.
pub async fn series(
    State(ui): State<UiState>,
    Query(view): Query<View>,
) -> Result<Json<ChartData>, UiError> {
    let (_, filter) = view.filter();
    let (_, span) = format::range(view.range.as_deref());
    let interval = (span / 60 / 1000).max(1);
    let shape = Shape {
        group_by: Some(view.split().to_owned()),
        interval_secs: Some(interval),
    };
    let s = series_of(&ui.gw, &filter, &shape).await?;
    let width = interval * 1000;
    let x: Vec<i64> = (0..)
        .map(|i| s.from_ms + i * width)
        .take_while(|t| *t < s.to_ms)
        .collect();
    let mut groups: Vec<String> = s
        .buckets
        .iter()
        .flat_map(|b| b.groups.iter())
        .map(|g| group_name(&g.key))
        .collect();
    groups.sort();
    groups.dedup();
    let mut metrics = BTreeMap::new();
    for (name, counts, pick) in METRICS {
        let empty = counts.then_some(0.0);
        let mut lines = vec![vec![empty; x.len()]; groups.len()];
        for b in &s.buckets {
            let Ok(col) = usize::try_from((b.start_ms - s.from_ms) / width) else {
                continue;
            };
            for g in &b.groups {
                let Ok(row) = groups.binary_search(&group_name(&g.key)) else {
                    continue;
                };
                if let Some(cell) = lines.get_mut(row).and_then(|l| l.get_mut(col)) {
                    *cell = pick(&g.stats);
                }
            }
        }
        metrics.insert(*name, lines);
    }
    Ok(Json(ChartData {
        x: x.iter().map(|t| t / 1000).collect(),
        groups,
        metrics,
    }))
}

fn group_name(key: &BTreeMap<String, Option<String>>) -> String {
    key.values()
        .next()
        .cloned()
        .flatten()
        .unwrap_or_else(|| "(none)".to_owned())
}
