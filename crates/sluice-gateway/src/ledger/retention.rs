//! The retention job: deletes records older than `ledger.retention`, once
//! an hour, in chunks of a thousand rows with a pause between them, so the
//! database (and the ledger writer sharing it) never sees one long delete.

use std::time::Duration;

use sluice_store::db::Db;
use tokio::task::JoinHandle;

use crate::tenancy::directory::now_ms;

const EVERY: Duration = Duration::from_secs(3600);
const CHUNK: i64 = 1000;
const PAUSE: Duration = Duration::from_millis(50);

/// Starts the job; abort the handle to stop it.
pub fn start(db: Db, keep: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let cutoff = now_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
            let deleted = sweep(&db, cutoff).await;
            if deleted > 0 {
                tracing::info!(deleted, "ledger retention: old records deleted");
            }
            tokio::time::sleep(EVERY).await;
        }
    })
}

/// Deletes every record before `cutoff_ms`, a chunk at a time.
pub async fn sweep(db: &Db, cutoff_ms: i64) -> u64 {
    let mut total = 0;
    loop {
        match db.delete_before(cutoff_ms, CHUNK).await {
            Ok(0) => return total,
            Ok(n) => {
                total += n;
                tokio::time::sleep(PAUSE).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "ledger retention: delete failed; next run retries");
                return total;
            }
        }
    }
}
