//! The SQL store: SQLite (the embedded default) or PostgreSQL, through
//! sqlx's `Any` driver so that one implementation serves both.
//!
//! Opened at start-up; migrations run then. SQLite runs in WAL mode with a
//! busy timeout, so the ledger writer and readers do not block each other.
//! Queries are written with `$1` placeholders and rewritten for SQLite.
//!
//! - [`keys`]: the [`crate::KeyStore`] implementation;
//! - [`requests`]: the ledger sink ([`crate::RecordSink`]) and spend sums.

pub mod analytics;
mod keys;
pub mod requests;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Executor};

use crate::StoreError;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection pool with migrations applied.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Db {
    /// Opens (creating if needed) the SQLite database at `path`.
    pub async fn sqlite(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::open(&url, Dialect::Sqlite).await
    }

    /// Connects to PostgreSQL at `url` (`postgres://user@host/db`).
    pub async fn postgres(url: &str) -> Result<Self, StoreError> {
        Self::open(url, Dialect::Postgres).await
    }

    async fn open(url: &str, dialect: Dialect) -> Result<Self, StoreError> {
        install_default_drivers();
        let mut opts = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .max_connections(match dialect {
                Dialect::Sqlite => 4,
                Dialect::Postgres => 8,
            });
        if dialect == Dialect::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(url).await.map_err(unavailable)?;
        MIGRATOR.run(&pool).await.map_err(unavailable)?;
        Ok(Self { pool, dialect })
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool, for queries outside this module (analytics).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// `query` with `$n` placeholders rewritten for the dialect. Queries are
    /// built from constant text only, never from request data.
    pub fn sql(&self, query: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(match self.dialect {
            Dialect::Postgres => query.to_owned(),
            Dialect::Sqlite => query.replace('$', "?"),
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        let q = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(Duration::from_secs(1), q).await,
            Ok(Ok(_))
        )
    }
}

/// A JSON document column: serialised value or NULL.
pub(crate) fn json_col<T: serde::Serialize>(v: &Option<T>) -> Result<Option<String>, StoreError> {
    v.as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(StoreError::from)
}

/// Reads a JSON document column.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}
