//! Reading the ledger back: filtered rows for the analytics API (totals,
//! time series, the searchable log) and one request's full record.
//!
//! Filters become a `WHERE` clause of fixed column names and bound values;
//! request data never enters the SQL text.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Db, Dialect, unavailable};
use crate::sink::StoreError;

/// Which requests to read. Every field set must match.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Start (inclusive), milliseconds since the Unix epoch. Default: 24 hours ago.
    pub from_ms: Option<i64>,
    /// End (exclusive), milliseconds since the Unix epoch. Default: now.
    pub to_ms: Option<i64>,
    /// Public model requested.
    pub model: Option<String>,
    /// Configured provider name.
    pub provider: Option<String>,
    /// Virtual key id.
    pub key: Option<String>,
    /// Consumer id.
    pub consumer: Option<String>,
    /// Team id.
    pub team: Option<String>,
    /// Route name.
    pub route: Option<String>,
    /// Outcome (`ok`, `upstream_error`, ...).
    pub outcome: Option<String>,
    /// HTTP status sent to the client.
    pub status: Option<i64>,
    /// API surface (`chat`, `messages`, `embeddings`, ...).
    pub endpoint: Option<String>,
    /// Cache result: `hit`, `miss`, `bypass` or `refresh`; `none` for
    /// requests that did not consult a cache.
    pub cache: Option<String>,
    /// Free text searched in the request's metadata (SQL `LIKE`; ASCII
    /// case-insensitive on SQLite, case-sensitive on PostgreSQL).
    pub q: Option<String>,
}

/// A dimension to group by, and its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Model,
    Provider,
    Key,
    Consumer,
    Team,
    Route,
    Status,
    Outcome,
    Endpoint,
}

impl Dimension {
    fn column(self) -> &'static str {
        match self {
            Self::Model => "request_model",
            Self::Provider => "provider",
            Self::Key => "key_id",
            Self::Consumer => "consumer",
            Self::Team => "team",
            Self::Route => "route",
            Self::Status => "CAST(status AS TEXT)",
            Self::Outcome => "outcome",
            Self::Endpoint => "endpoint",
        }
    }
}

/// The numbers of one request, for aggregation.
#[derive(Debug, Clone, Default)]
pub struct Fact {
    pub started_at_ms: i64,
    /// The group-by values, in the order asked.
    pub group: Vec<Option<String>>,
    pub status: i64,
    pub outcome: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_read_tokens: i64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    /// `hit`, `miss`, `bypass` or `refresh` when a cache was consulted.
    pub cache: Option<String>,
}

/// One line of the log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LogRow {
    pub request_id: String,
    pub started_at_ms: i64,
    pub key_id: Option<String>,
    pub consumer: Option<String>,
    pub team: Option<String>,
    pub route: Option<String>,
    pub endpoint: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub status: i64,
    pub outcome: String,
    pub stream: bool,
    pub cache: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
}

enum Bind {
    I(i64),
    S(String),
}

impl Filter {
    /// The `WHERE` clause (starting at `$first`) and its values.
    fn clause(&self, now_ms: i64, first: usize, dialect: Dialect) -> (String, Vec<Bind>) {
        let from = self.from_ms.unwrap_or(now_ms - 86_400_000);
        let to = self.to_ms.unwrap_or(now_ms + 1);
        let mut binds = vec![Bind::I(from), Bind::I(to)];
        let mut sql = format!("started_at >= ${} AND started_at < ${}", first, first + 1);
        let strings = [
            ("request_model", &self.model),
            ("provider", &self.provider),
            ("key_id", &self.key),
            ("consumer", &self.consumer),
            ("team", &self.team),
            ("route", &self.route),
            ("outcome", &self.outcome),
            ("endpoint", &self.endpoint),
        ];
        for (col, v) in strings {
            if let Some(v) = v {
                binds.push(Bind::S(v.clone()));
                sql.push_str(&format!(" AND {col} = ${}", first + binds.len() - 1));
            }
        }
        if let Some(s) = self.status {
            binds.push(Bind::I(s));
            sql.push_str(&format!(" AND status = ${}", first + binds.len() - 1));
        }
        match self.cache.as_deref() {
            None => {}
            Some("none") => sql.push_str(" AND cache IS NULL"),
            Some(c) => {
                binds.push(Bind::S(c.to_owned()));
                sql.push_str(&format!(" AND cache = ${}", first + binds.len() - 1));
            }
        }
        if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            binds.push(Bind::S(format!("%{escaped}%")));
            let metadata = match dialect {
                // `->` (SQLite 3.38+): no `$` path, which `Db::sql` would rewrite.
                Dialect::Sqlite => "(record -> 'metadata')",
                Dialect::Postgres => "(record::json -> 'metadata')::text",
            };
            sql.push_str(&format!(
                " AND {metadata} LIKE ${} ESCAPE '\\'",
                first + binds.len() - 1
            ));
        }
        (sql, binds)
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for b in binds {
        q = match b {
            Bind::I(i) => q.bind(i),
            Bind::S(s) => q.bind(s),
        };
    }
    q
}

impl Db {
    /// The numbers of every request matching `f`, with `group` values.
    pub async fn facts(
        &self,
        f: &Filter,
        group: &[Dimension],
        now_ms: i64,
    ) -> Result<Vec<Fact>, StoreError> {
        let (clause, binds) = f.clause(now_ms, 1, self.dialect());
        let mut cols = String::new();
        for (i, d) in group.iter().enumerate() {
            cols.push_str(&format!("{} AS g{i}, ", d.column()));
        }
        let q = format!(
            "SELECT {cols}started_at, status, outcome, prompt_tokens, completion_tokens, \
             cached_read_tokens, cost_usd, latency_ms, ttft_ms, cache FROM requests WHERE {clause}"
        );
        let rows = bind_all(sqlx::query(self.sql(&q)), binds)
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let mut g = Vec::with_capacity(group.len());
                for i in 0..group.len() {
                    g.push(r.try_get::<Option<String>, _>(format!("g{i}").as_str())?);
                }
                Ok(Fact {
                    started_at_ms: r.try_get("started_at")?,
                    group: g,
                    status: r.try_get("status")?,
                    outcome: r.try_get("outcome")?,
                    prompt_tokens: r.try_get("prompt_tokens")?,
                    completion_tokens: r.try_get("completion_tokens")?,
                    cached_read_tokens: r.try_get("cached_read_tokens")?,
                    cost_usd: r.try_get::<Option<f64>, _>("cost_usd")?.unwrap_or(0.0),
                    latency_ms: r.try_get("latency_ms")?,
                    ttft_ms: r.try_get("ttft_ms")?,
                    cache: r.try_get("cache")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    /// Log lines matching `f`, newest first, at most `limit`, older than
    /// the `before` cursor (`started_at_ms`, `request_id`) when given.
    pub async fn logs(
        &self,
        f: &Filter,
        limit: i64,
        before: Option<(i64, String)>,
        now_ms: i64,
    ) -> Result<Vec<LogRow>, StoreError> {
        let (mut clause, mut binds) = f.clause(now_ms, 1, self.dialect());
        if let Some((at, id)) = before {
            let n = binds.len() + 1;
            clause.push_str(&format!(
                " AND (started_at < ${n} OR (started_at = ${n} AND id < ${}))",
                n + 1
            ));
            binds.push(Bind::I(at));
            binds.push(Bind::S(id));
        }
        binds.push(Bind::I(limit));
        let q = format!(
            "SELECT id, started_at, key_id, consumer, team, route, endpoint, request_model, \
             provider, upstream_model, status, outcome, stream, cache, prompt_tokens, \
             completion_tokens, total_tokens, cost_usd, latency_ms, ttft_ms FROM requests \
             WHERE {clause} ORDER BY started_at DESC, id DESC LIMIT ${}",
            binds.len()
        );
        let rows = bind_all(sqlx::query(self.sql(&q)), binds)
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(LogRow {
                    request_id: r.try_get("id")?,
                    started_at_ms: r.try_get("started_at")?,
                    key_id: r.try_get("key_id")?,
                    consumer: r.try_get("consumer")?,
                    team: r.try_get("team")?,
                    route: r.try_get("route")?,
                    endpoint: r.try_get("endpoint")?,
                    model: r.try_get("request_model")?,
                    provider: r.try_get("provider")?,
                    upstream_model: r.try_get("upstream_model")?,
                    status: r.try_get("status")?,
                    outcome: r.try_get("outcome")?,
                    stream: r.try_get::<i64, _>("stream")? != 0,
                    cache: r.try_get("cache")?,
                    prompt_tokens: r.try_get("prompt_tokens")?,
                    completion_tokens: r.try_get("completion_tokens")?,
                    total_tokens: r.try_get("total_tokens")?,
                    cost_usd: r.try_get("cost_usd")?,
                    latency_ms: r.try_get("latency_ms")?,
                    ttft_ms: r.try_get("ttft_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    /// One request's full record (JSON), if the ledger has it.
    pub async fn record_json(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(self.sql("SELECT record FROM requests WHERE id = $1"))
            .bind(id.to_owned())
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?;
        row.map(|r| r.try_get::<String, _>("record"))
            .transpose()
            .map_err(unavailable)
    }
}
