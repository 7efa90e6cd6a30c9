//! Hot reload: re-read the config file and swap it in atomically.
//!
//! Triggered by a change to the file (watched through its parent directory,
//! so editors that replace the file are seen), by SIGHUP, or by the admin
//! API. The whole new file is validated first; a bad one is rejected with
//! its problems logged and kept as the last reload result, and the old
//! config keeps serving. Requests in flight finish on the snapshot they
//! started with. The listen address is read at start-up only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::{self, Config};
use crate::state::Gateway;

/// The result of the last reload attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReloadStatus {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub ok: bool,
    /// The generation serving after the attempt.
    pub generation: u64,
    /// Why the new config was refused.
    pub error: Option<String>,
    /// What triggered it: `file`, `signal`, `admin`.
    pub trigger: String,
}

/// Reloads a gateway from its config file.
pub struct Reloader {
    path: PathBuf,
    gw: Arc<Gateway>,
    /// Tweaks applied to every loaded config (e.g. `--listen`).
    adjust: Box<dyn Fn(&mut Config) + Send + Sync>,
    last: Mutex<Option<ReloadStatus>>,
    /// Serialises reloads: the generation count must equal the valid ones.
    lock: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader for `gw` from `path`; `adjust` runs on each loaded config.
    pub fn new(
        path: &Path,
        gw: Arc<Gateway>,
        adjust: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> Arc<Self> {
        let this = Arc::new(Self {
            path: path.to_path_buf(),
            gw,
            adjust: Box::new(adjust),
            last: Mutex::new(None),
            lock: tokio::sync::Mutex::new(()),
        });
        this.gw.set_reloader(&this);
        this
    }

    /// The last reload's result, if any reload was attempted.
    pub fn last(&self) -> Option<ReloadStatus> {
        self.last.lock().clone()
    }

    /// Reloads now. Returns the new generation, or the validation error.
    pub async fn reload(&self, trigger: &str) -> Result<u64, String> {
        let _one_at_a_time = self.lock.lock().await;
        let path = self.path.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load(&path))
            .await
            .map_err(|e| format!("reload task failed: {e}"))
            .and_then(|r| r.map_err(|e| e.to_string()));
        let result = loaded.and_then(|mut cfg| {
            (self.adjust)(&mut cfg);
            self.gw.reload(cfg).map_err(|e| e.to_string())
        });
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let status = match &result {
            Ok(generation) => {
                tracing::info!(generation, trigger, "config reloaded");
                ReloadStatus {
                    at,
                    ok: true,
                    generation: *generation,
                    error: None,
                    trigger: trigger.to_owned(),
                }
            }
            Err(e) => {
                tracing::error!(trigger, error = %e, "config reload rejected; the previous config keeps serving");
                ReloadStatus {
                    at,
                    ok: false,
                    generation: self.gw.snapshot().generation,
                    error: Some(e.clone()),
                    trigger: trigger.to_owned(),
                }
            }
        };
        *self.last.lock() = Some(status);
        result
    }

    /// Starts reloading on file changes and on SIGHUP. Dropping the guard
    /// stops both.
    pub fn watch(self: &Arc<Self>) -> WatchGuard {
        let (tx, mut rx) = mpsc::channel::<&'static str>(8);
        let mut tasks = Vec::new();
        #[cfg(unix)]
        {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(mut hup) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                else {
                    return;
                };
                while hup.recv().await.is_some() {
                    let _ = tx.send("signal").await;
                }
            }));
        }
        let this = self.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(trigger) = rx.recv().await {
                let _ = this.reload(trigger).await;
            }
        }));
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let file = self.path.file_name().map(ToOwned::to_owned);
        let debouncer = notify_debouncer_full::new_debouncer(
            Duration::from_millis(100),
            None,
            move |res: notify_debouncer_full::DebounceEventResult| {
                let Ok(events) = res else { return };
                let touches = events.iter().any(|e| {
                    e.paths.iter().any(|p| p.file_name() == file.as_deref())
                        && (e.kind.is_create() || e.kind.is_modify())
                });
                if touches {
                    let _ = tx.try_send("file");
                }
            },
        )
        .and_then(|mut d| {
            d.watch(&dir, notify::RecursiveMode::NonRecursive)
                .map(|()| d)
        });
        let debouncer = match debouncer {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
                None
            }
        };
        WatchGuard {
            tasks,
            _debouncer: debouncer,
        }
    }
}

/// Keeps the reload triggers running; dropping it stops them.
pub struct WatchGuard {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _debouncer: Option<
        notify_debouncer_full::Debouncer<
            notify::RecommendedWatcher,
            notify_debouncer_full::RecommendedCache,
        >,
    >,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
