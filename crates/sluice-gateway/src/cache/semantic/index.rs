//! The semantic cache's vector index: in memory, bounded, persisted to a
//! JSON file in the background after every change (debounced).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One indexed answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    partition: String,
    /// The exact key of the stored answer.
    key: String,
    vector: Vec<f32>,
    /// When the stored answer expires, ms since the epoch.
    expires_ms: u64,
}

/// Vectors of cached answers.
pub struct Index {
    items: Mutex<VecDeque<Item>>,
    path: PathBuf,
    max: usize,
    saving: AtomicBool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

impl Index {
    /// The index saved at `path`, or an empty one (a missing or unreadable
    /// file is not an error: the cache starts cold). Runs at start-up.
    pub fn load(path: PathBuf, max: usize) -> Self {
        let now = now_ms();
        let items: VecDeque<Item> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<Item>>(&b).ok())
            .map(|v| v.into_iter().filter(|i| i.expires_ms > now).collect())
            .unwrap_or_default();
        tracing::debug!(path = %path.display(), entries = items.len(), "semantic cache index loaded");
        Self {
            items: Mutex::new(items),
            path,
            max,
            saving: AtomicBool::new(false),
        }
    }

    /// The most similar live answer in `partition`: its key and score.
    pub fn best(&self, partition: &str, vector: &[f32]) -> Option<(String, f64)> {
        let now = now_ms();
        let items = self.items.lock();
        items
            .iter()
            .filter(|i| i.partition == partition && i.expires_ms > now)
            .map(|i| (i, cosine(&i.vector, vector)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, s)| (i.key.clone(), s))
    }

    /// Adds an answer's vector (replacing one with the same key), then
    /// schedules a save.
    pub fn insert(
        self: &Arc<Self>,
        partition: String,
        key: String,
        vector: Vec<f32>,
        ttl: Duration,
    ) {
        let expires_ms =
            now_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        {
            let mut items = self.items.lock();
            let now = now_ms();
            items.retain(|i| i.key != key && i.expires_ms > now);
            while items.len() >= self.max {
                items.pop_front();
            }
            items.push_back(Item {
                partition,
                key,
                vector,
                expires_ms,
            });
        }
        self.save_soon();
    }

    /// Number of entries.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.lock().len()
    }

    fn save_soon(self: &Arc<Self>) {
        if self.saving.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            this.saving.store(false, Ordering::Release);
            if let Err(e) = this.save().await {
                tracing::warn!(path = %this.path.display(), error = %e, "cannot save the semantic cache index");
            }
        });
    }

    /// Writes the index to its file now (atomically: a temp file renamed).
    pub async fn save(&self) -> std::io::Result<()> {
        let bytes = {
            let items = self.items.lock();
            serde_json::to_vec(&*items).map_err(std::io::Error::other)?
        };
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = self.path.with_extension("json.tmp");
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &self.path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finds_the_best_in_its_partition_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idx.json");
        let idx = Arc::new(Index::load(path.clone(), 10));
        let ttl = Duration::from_secs(60);
        idx.insert("p".into(), "k1".into(), vec![1.0, 0.0], ttl);
        idx.insert("p".into(), "k2".into(), vec![0.0, 1.0], ttl);
        idx.insert("q".into(), "k3".into(), vec![1.0, 0.1], ttl);
        let (k, s) = idx.best("p", &[0.9, 0.1]).unwrap();
        assert_eq!(k, "k1");
        assert!(s > 0.99);
        assert!(idx.best("none", &[1.0, 0.0]).is_none());
        idx.save().await.unwrap();
        let again = Index::load(path, 10);
        assert_eq!(again.len(), 3);
        assert_eq!(again.best("q", &[1.0, 0.0]).unwrap().0, "k3");
    }

    #[tokio::test]
    async fn is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Arc::new(Index::load(dir.path().join("i.json"), 2));
        for k in ["a", "b", "c"] {
            idx.insert("p".into(), k.into(), vec![1.0], Duration::from_secs(60));
        }
        assert_eq!(idx.len(), 2);
    }
}
