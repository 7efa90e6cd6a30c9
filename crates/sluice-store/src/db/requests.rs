//! The request ledger in SQL: idempotent batch inserts, and the spend sums
//! budgets are seeded from after a restart.

use async_trait::async_trait;
use sqlx::Row;

use super::{Db, unavailable};
use crate::record::RequestRecord;
use crate::sink::{RecordSink, StoreError};

const COLS: &str = "id, started_at, key_id, consumer, team, route, endpoint, request_model, \
    response_model, provider, upstream_model, status, outcome, stream, cache, prompt_tokens, \
    completion_tokens, total_tokens, cached_read_tokens, cached_write_tokens, reasoning_tokens, \
    usage_source, cost_usd, latency_ms, ttft_ms, gateway_ms, record";
const NCOLS: usize = 27;

// Casts keep the column types the same on both databases (PostgreSQL sums
// BIGINT into NUMERIC).
const TOTALS: &str = "CAST(COUNT(*) AS BIGINT) AS requests, \
    CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
    CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, \
    CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) AS cost_usd";

/// Request, token and cost totals over a span of the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
}

fn totals_from(r: &sqlx::any::AnyRow) -> Result<Totals, sqlx::Error> {
    Ok(Totals {
        requests: r.try_get("requests")?,
        prompt_tokens: r.try_get("prompt_tokens")?,
        completion_tokens: r.try_get("completion_tokens")?,
        cost_usd: r.try_get("cost_usd")?,
    })
}

/// Whose spend to sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendBy {
    Key,
    Consumer,
    Team,
}

impl SpendBy {
    fn column(self) -> &'static str {
        match self {
            Self::Key => "key_id",
            Self::Consumer => "consumer",
            Self::Team => "team",
        }
    }
}

impl Db {
    /// Spend in USD since `since_ms`, per key, consumer or team id.
    pub async fn spend_since(
        &self,
        by: SpendBy,
        since_ms: i64,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let col = by.column();
        let q = format!(
            "SELECT {col} AS who, SUM(cost_usd) AS spend FROM requests \
             WHERE started_at >= $1 AND {col} IS NOT NULL AND cost_usd IS NOT NULL GROUP BY {col}"
        );
        let rows = sqlx::query(self.sql(&q))
            .bind(since_ms)
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("who")?,
                    r.try_get::<f64, _>("spend")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    /// Spend in USD since `since_ms` of one key, consumer or team id.
    pub async fn spend_of(&self, by: SpendBy, id: &str, since_ms: i64) -> Result<f64, StoreError> {
        let col = by.column();
        let q = format!(
            "SELECT CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) AS spend FROM requests \
             WHERE {col} = $1 AND started_at >= $2 AND cost_usd IS NOT NULL"
        );
        let row = sqlx::query(self.sql(&q))
            .bind(id)
            .bind(since_ms)
            .fetch_one(self.pool())
            .await
            .map_err(unavailable)?;
        row.try_get::<f64, _>("spend").map_err(unavailable)
    }

    /// Totals per key id since `since_ms`.
    pub async fn totals_by_key(&self, since_ms: i64) -> Result<Vec<(String, Totals)>, StoreError> {
        let q = format!(
            "SELECT key_id AS who, {TOTALS} FROM requests \
             WHERE started_at >= $1 AND key_id IS NOT NULL GROUP BY key_id"
        );
        let rows = sqlx::query(self.sql(&q))
            .bind(since_ms)
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("who")?, totals_from(r)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    /// Totals of one key, consumer or team since `since_ms`.
    pub async fn totals_of(
        &self,
        by: SpendBy,
        id: &str,
        since_ms: i64,
    ) -> Result<Totals, StoreError> {
        let q = format!(
            "SELECT {TOTALS} FROM requests WHERE {} = $1 AND started_at >= $2",
            by.column()
        );
        let row = sqlx::query(self.sql(&q))
            .bind(id)
            .bind(since_ms)
            .fetch_one(self.pool())
            .await
            .map_err(unavailable)?;
        totals_from(&row).map_err(unavailable)
    }

    /// Deletes up to `limit` records that started before `before_ms`;
    /// returns how many went. Called in small chunks by the retention job.
    pub async fn delete_before(&self, before_ms: i64, limit: i64) -> Result<u64, StoreError> {
        let q = "DELETE FROM requests WHERE id IN \
                 (SELECT id FROM requests WHERE started_at < $1 LIMIT $2)";
        let done = sqlx::query(self.sql(q))
            .bind(before_ms)
            .bind(limit)
            .execute(self.pool())
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    /// Prompt plus completion tokens of every record whose usage the
    /// provider reported (for reconciliation).
    pub async fn provider_tokens(&self) -> Result<i64, StoreError> {
        let q = "SELECT CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS n \
                 FROM requests WHERE usage_source = 'provider'";
        let row = sqlx::query(q)
            .fetch_one(self.pool())
            .await
            .map_err(unavailable)?;
        row.try_get::<i64, _>("n").map_err(unavailable)
    }

    /// How many records the ledger holds.
    pub async fn count_requests(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM requests")
            .fetch_one(self.pool())
            .await
            .map_err(unavailable)?;
        row.try_get::<i64, _>("n").map_err(unavailable)
    }
}

#[async_trait]
impl RecordSink for Db {
    /// One multi-row, idempotent insert per chunk of [`ROWS_PER_INSERT`]
    /// records, all in one transaction: a batch costs a few round trips,
    /// not one per record.
    async fn write_batch(&self, records: &[RequestRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        for chunk in records.chunks(ROWS_PER_INSERT) {
            let q = self.sql(&insert_sql(chunk.len())).0;
            let mut query = sqlx::query(sqlx::AssertSqlSafe(q));
            for r in chunk {
                let u = r.usage.unwrap_or_default();
                let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                query = query
                    .bind(r.request_id.clone())
                    .bind(as_i64(r.started_at_ms))
                    .bind(r.identity.key_id.clone())
                    .bind(r.identity.consumer.clone())
                    .bind(r.identity.team.clone())
                    .bind(r.meta.route.clone())
                    .bind(r.meta.endpoint.clone())
                    .bind(r.meta.request_model.clone())
                    .bind(r.meta.response_model.clone())
                    .bind(r.meta.provider_name.clone())
                    .bind(r.meta.upstream_model.clone())
                    .bind(i64::from(r.status))
                    .bind(r.outcome.as_str())
                    .bind(i64::from(r.stream))
                    .bind(r.cache.clone())
                    .bind(as_i64(u.prompt_tokens))
                    .bind(as_i64(u.completion_tokens))
                    .bind(as_i64(u.total_tokens()))
                    .bind(as_i64(u.cached_read_tokens))
                    .bind(as_i64(u.cached_write_tokens))
                    .bind(as_i64(u.reasoning_tokens))
                    .bind(r.usage.map(|u| u.source.as_str()))
                    .bind(r.cost_usd.unwrap_or(-1.0))
                    .bind(r.latency_ms)
                    .bind(r.ttft_ms.unwrap_or(-1.0))
                    .bind(r.gateway_ms.unwrap_or(-1.0))
                    .bind(serde_json::to_string(r)?);
            }
            query.execute(&mut *tx).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }
}

/// Rows per `INSERT` statement (27 parameters each, well under both
/// databases' limits).
const ROWS_PER_INSERT: usize = 128;

/// `INSERT ... VALUES (...), (...) ON CONFLICT (id) DO NOTHING` for `rows`
/// rows. Nullable numbers travel as -1 and become NULL in SQL: the `Any`
/// driver binds an untyped NULL, which a prepared statement would then
/// expect for every later row.
fn insert_sql(rows: usize) -> String {
    let mut q = format!("INSERT INTO requests ({COLS}) VALUES ");
    for row in 0..rows {
        if row > 0 {
            q.push_str(", ");
        }
        q.push('(');
        for col in 1..=NCOLS {
            let n = row * NCOLS + col;
            if col > 1 {
                q.push_str(", ");
            }
            match col {
                23 | 25 | 26 => q.push_str(&format!("NULLIF(${n}, -1.0)")),
                _ => q.push_str(&format!("${n}")),
            }
        }
        q.push(')');
    }
    q.push_str(" ON CONFLICT (id) DO NOTHING");
    q
}
