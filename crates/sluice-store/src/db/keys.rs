//! Keys, consumers and teams in SQL.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, from_json, json_col, unavailable};
use crate::StoreError;
use crate::keys::{Consumer, KeyRecord, KeyStore, ResolvedKey, Team};

const KEY_COLS: &str = "id, hash, prefix, name, consumer_id, imported, metadata, allowed_models, \
                        allowed_routes, limits, budget, created_at, expires_at, revoked_at, \
                        previous_hash, previous_expires_at";

fn write_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict("a record with that name or key already exists".into())
        }
        _ => unavailable(e),
    }
}

fn key_from(row: &AnyRow) -> Result<KeyRecord, sqlx::Error> {
    Ok(KeyRecord {
        id: row.try_get("id")?,
        hash: row.try_get("hash")?,
        prefix: row.try_get("prefix")?,
        name: row.try_get("name")?,
        consumer_id: row.try_get("consumer_id")?,
        imported: row.try_get::<i64, _>("imported")? != 0,
        metadata: from_json(row.try_get("metadata")?),
        allowed_models: from_json(row.try_get("allowed_models")?),
        allowed_routes: from_json(row.try_get("allowed_routes")?),
        limits: from_json(row.try_get("limits")?).unwrap_or_default(),
        budget: from_json(row.try_get("budget")?),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        previous_hash: row.try_get("previous_hash")?,
        previous_expires_at: row.try_get("previous_expires_at")?,
    })
}

fn consumer_from(row: &AnyRow) -> Result<Consumer, sqlx::Error> {
    Ok(Consumer {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        team_id: row.try_get("team_id")?,
        metadata: from_json(row.try_get("metadata")?),
        limits: from_json(row.try_get("limits")?).unwrap_or_default(),
        budget: from_json(row.try_get("budget")?),
        created_at: row.try_get("created_at")?,
    })
}

fn team_from(row: &AnyRow) -> Result<Team, sqlx::Error> {
    Ok(Team {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        metadata: from_json(row.try_get("metadata")?),
        limits: from_json(row.try_get("limits")?).unwrap_or_default(),
        budget: from_json(row.try_get("budget")?),
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    async fn one_key(&self, column: &str, value: &str) -> Result<Option<KeyRecord>, StoreError> {
        let q = format!("SELECT {KEY_COLS} FROM api_keys WHERE {column} = $1");
        let row = sqlx::query(self.sql(&q))
            .bind(value)
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?;
        row.map(|r| key_from(&r)).transpose().map_err(unavailable)
    }
}

#[async_trait]
impl KeyStore for Db {
    async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let q = format!(
            "INSERT INTO api_keys ({KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        );
        sqlx::query(self.sql(&q))
            .bind(&k.id)
            .bind(&k.hash)
            .bind(&k.prefix)
            .bind(k.name.clone())
            .bind(k.consumer_id.clone())
            .bind(i64::from(k.imported))
            .bind(json_col(&k.metadata)?)
            .bind(json_col(&k.allowed_models)?)
            .bind(json_col(&k.allowed_routes)?)
            .bind(serde_json::to_string(&k.limits)?)
            .bind(json_col(&k.budget)?)
            .bind(k.created_at)
            .bind(k.expires_at)
            .bind(k.revoked_at)
            .bind(k.previous_hash.clone())
            .bind(k.previous_expires_at)
            .execute(self.pool())
            .await
            .map_err(write_err)?;
        Ok(())
    }

    async fn update_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let q = "UPDATE api_keys SET name = $2, consumer_id = $3, metadata = $4, allowed_models = $5, \
                 allowed_routes = $6, limits = $7, budget = $8, expires_at = $9, revoked_at = $10, \
                 hash = $11, prefix = $12, previous_hash = $13, previous_expires_at = $14 WHERE id = $1";
        let done = sqlx::query(self.sql(q))
            .bind(&k.id)
            .bind(k.name.clone())
            .bind(k.consumer_id.clone())
            .bind(json_col(&k.metadata)?)
            .bind(json_col(&k.allowed_models)?)
            .bind(json_col(&k.allowed_routes)?)
            .bind(serde_json::to_string(&k.limits)?)
            .bind(json_col(&k.budget)?)
            .bind(k.expires_at)
            .bind(k.revoked_at)
            .bind(&k.hash)
            .bind(&k.prefix)
            .bind(k.previous_hash.clone())
            .bind(k.previous_expires_at)
            .execute(self.pool())
            .await
            .map_err(write_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.one_key("id", id).await
    }

    async fn resolve(&self, hash: &str) -> Result<Option<ResolvedKey>, StoreError> {
        let key = match self.one_key("hash", hash).await? {
            Some(k) => k,
            None => match self.one_key("previous_hash", hash).await? {
                Some(k) => k,
                None => return Ok(None),
            },
        };
        let consumer = match &key.consumer_id {
            Some(id) => self.consumer(id).await?,
            None => None,
        };
        let team = match consumer.as_ref().and_then(|c| c.team_id.as_deref()) {
            Some(id) => self.team(id).await?,
            None => None,
        };
        Ok(Some(ResolvedKey {
            key,
            consumer,
            team,
        }))
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let q = format!("SELECT {KEY_COLS} FROM api_keys ORDER BY created_at DESC, id");
        let rows = sqlx::query(self.sql(&q))
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(key_from)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn any_active_key(&self, now_ms: i64) -> Result<bool, StoreError> {
        let q = "SELECT id FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1) LIMIT 1";
        let row = sqlx::query(self.sql(q))
            .bind(now_ms)
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?;
        Ok(row.is_some())
    }

    async fn insert_consumer(&self, c: &Consumer) -> Result<(), StoreError> {
        let q = "INSERT INTO consumers (id, name, team_id, metadata, limits, budget, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)";
        sqlx::query(self.sql(q))
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.team_id.clone())
            .bind(json_col(&c.metadata)?)
            .bind(serde_json::to_string(&c.limits)?)
            .bind(json_col(&c.budget)?)
            .bind(c.created_at)
            .execute(self.pool())
            .await
            .map_err(write_err)?;
        Ok(())
    }

    async fn update_consumer(&self, c: &Consumer) -> Result<(), StoreError> {
        let q = "UPDATE consumers SET name = $2, team_id = $3, metadata = $4, limits = $5, budget = $6 WHERE id = $1";
        let done = sqlx::query(self.sql(q))
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.team_id.clone())
            .bind(json_col(&c.metadata)?)
            .bind(serde_json::to_string(&c.limits)?)
            .bind(json_col(&c.budget)?)
            .execute(self.pool())
            .await
            .map_err(write_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn consumer(&self, id: &str) -> Result<Option<Consumer>, StoreError> {
        let q = "SELECT id, name, team_id, metadata, limits, budget, created_at FROM consumers WHERE id = $1";
        let row = sqlx::query(self.sql(q))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?;
        row.map(|r| consumer_from(&r))
            .transpose()
            .map_err(unavailable)
    }

    async fn consumers(&self) -> Result<Vec<Consumer>, StoreError> {
        let rows = sqlx::query("SELECT id, name, team_id, metadata, limits, budget, created_at FROM consumers ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(consumer_from)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn delete_consumer(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql("DELETE FROM consumers WHERE id = $1"))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_team(&self, t: &Team) -> Result<(), StoreError> {
        let q = "INSERT INTO teams (id, name, metadata, limits, budget, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
        sqlx::query(self.sql(q))
            .bind(&t.id)
            .bind(&t.name)
            .bind(json_col(&t.metadata)?)
            .bind(serde_json::to_string(&t.limits)?)
            .bind(json_col(&t.budget)?)
            .bind(t.created_at)
            .execute(self.pool())
            .await
            .map_err(write_err)?;
        Ok(())
    }

    async fn update_team(&self, t: &Team) -> Result<(), StoreError> {
        let q = "UPDATE teams SET name = $2, metadata = $3, limits = $4, budget = $5 WHERE id = $1";
        let done = sqlx::query(self.sql(q))
            .bind(&t.id)
            .bind(&t.name)
            .bind(json_col(&t.metadata)?)
            .bind(serde_json::to_string(&t.limits)?)
            .bind(json_col(&t.budget)?)
            .execute(self.pool())
            .await
            .map_err(write_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        let q = "SELECT id, name, metadata, limits, budget, created_at FROM teams WHERE id = $1";
        let row = sqlx::query(self.sql(q))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?;
        row.map(|r| team_from(&r)).transpose().map_err(unavailable)
    }

    async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, metadata, limits, budget, created_at FROM teams ORDER BY name",
        )
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(team_from)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn delete_team(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql("DELETE FROM teams WHERE id = $1"))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() > 0)
    }
}
