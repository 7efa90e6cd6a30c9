//! Hot reload: re-read the config file and swap it in atomically.
//!
//! Triggered by a change to the file (watched through its parent directory,
//! so editors that replace the file are seen), by SIGHUP, by the admin API
//! (`POST /v1/reload`), or by the dashboard's canary weight edits
//! ([`Reloader::set_weights`]). The whole new file is validated first; a
//! bad one is rejected with
//! its problems logged and kept as the last reload result, and the old
//! config keeps serving. Requests in flight finish on the snapshot they
//! started with. The listen address is read at start-up only.
//!
//! Weights set from the dashboard are kept here, in memory, and applied
//! over every config this reloader loads, so a later file reload keeps
//! them; a restart forgets them (the file is never rewritten). Without a
//! config file ([`Reloader::in_memory`]) a reload rebuilds the serving
//! config with the same overrides, through the same validate-and-swap path.

use std::collections::BTreeMap;
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
    /// What triggered it: `file`, `signal`, `admin`, `dashboard`.
    pub trigger: String,
}

/// Reloads a gateway from its config file (or from its own config).
pub struct Reloader {
    /// The config file; `None` for a zero-config gateway.
    path: Option<PathBuf>,
    gw: Arc<Gateway>,
    /// Tweaks applied to every loaded config (e.g. `--listen`).
    adjust: Box<dyn Fn(&mut Config) + Send + Sync>,
    last: Mutex<Option<ReloadStatus>>,
    /// Serialises reloads: the generation count must equal the valid ones.
    lock: tokio::sync::Mutex<()>,
    /// Target weights set from the dashboard: model name → one per target.
    weights: Mutex<BTreeMap<String, Vec<u32>>>,
}

impl Reloader {
    /// A reloader for `gw` from `path`; `adjust` runs on each loaded config.
    pub fn new(
        path: &Path,
        gw: Arc<Gateway>,
        adjust: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> Arc<Self> {
        let this = Self::build(Some(path.to_path_buf()), gw, Box::new(adjust));
        this.gw.set_reloader(&this);
        this
    }

    /// A reloader for a gateway without a config file: reloads rebuild the
    /// serving config with the dashboard's weights.
    pub fn in_memory(gw: Arc<Gateway>) -> Arc<Self> {
        Self::build(None, gw, Box::new(|_| {}))
    }

    fn build(
        path: Option<PathBuf>,
        gw: Arc<Gateway>,
        adjust: Box<dyn Fn(&mut Config) + Send + Sync>,
    ) -> Arc<Self> {
        Arc::new(Self {
            path,
            gw,
            adjust,
            last: Mutex::new(None),
            lock: tokio::sync::Mutex::new(()),
            weights: Mutex::new(BTreeMap::new()),
        })
    }

    /// The config file, if the gateway has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The weights set from the dashboard, by model.
    pub fn weight_overrides(&self) -> BTreeMap<String, Vec<u32>> {
        self.weights.lock().clone()
    }

    /// Sets `model`'s target weights (one per target, in config order) and
    /// reloads. Weights that do not fit the serving config are refused
    /// before anything changes; a refused reload restores the previous ones.
    pub async fn set_weights(&self, model: &str, weights: Vec<u32>) -> Result<u64, String> {
        if let Err(e) = fits(&self.gw.snapshot().config, model, &weights) {
            let refused = Err(e);
            self.note("dashboard", &refused);
            return refused;
        }
        let before = self.weights.lock().insert(model.to_owned(), weights);
        let result = self.reload("dashboard").await;
        if result.is_err() {
            let mut w = self.weights.lock();
            match before {
                Some(b) => w.insert(model.to_owned(), b),
                None => w.remove(model),
            };
        }
        result
    }

    /// Applies the dashboard's weights to `cfg`. Weights for a model the new
    /// file removed, or whose targets changed in number, are dropped with a
    /// warning: the file wins, and a stale edit never blocks a reload.
    fn apply_weights(&self, cfg: &mut Config) {
        self.weights.lock().retain(|model, weights| {
            if let Err(why) = fits(cfg, model, weights) {
                tracing::warn!(
                    model,
                    why,
                    "dropping the dashboard's weights for this model"
                );
                return false;
            }
            let targets = cfg.models.iter_mut().find(|m| m.name == *model);
            for (t, w) in targets
                .into_iter()
                .flat_map(|m| &mut m.targets)
                .zip(weights.iter())
            {
                t.weight = *w;
            }
            true
        });
    }

    /// The last reload's result, if any reload was attempted.
    pub fn last(&self) -> Option<ReloadStatus> {
        self.last.lock().clone()
    }

    /// Reloads now. Returns the new generation, or the validation error.
    pub async fn reload(&self, trigger: &str) -> Result<u64, String> {
        let _one_at_a_time = self.lock.lock().await;
        let loaded = match self.path.clone() {
            Some(path) => tokio::task::spawn_blocking(move || config::load(&path))
                .await
                .map_err(|e| format!("reload task failed: {e}"))
                .and_then(|r| r.map_err(|e| e.to_string())),
            None => Ok((*self.gw.snapshot().config).clone()),
        };
        let result = loaded.and_then(|mut cfg| {
            (self.adjust)(&mut cfg);
            self.apply_weights(&mut cfg);
            self.gw.reload(cfg).map_err(|e| e.to_string())
        });
        self.note(trigger, &result);
        result
    }

    /// Keeps `result` as the last reload result, and logs it.
    fn note(&self, trigger: &str, result: &Result<u64, String>) {
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (generation, error) = match result {
            Ok(generation) => {
                tracing::info!(generation, trigger, "config reloaded");
                (*generation, None)
            }
            Err(e) => {
                tracing::error!(trigger, error = %e, "config reload rejected; the previous config keeps serving");
                (self.gw.snapshot().generation, Some(e.clone()))
            }
        };
        *self.last.lock() = Some(ReloadStatus {
            at,
            ok: error.is_none(),
            generation,
            error,
            trigger: trigger.to_owned(),
        });
    }

    /// Starts reloading on file changes and on SIGHUP. Dropping the guard
    /// stops both.
    pub fn watch(self: &Arc<Self>) -> WatchGuard {
        let Some(path) = self.path.clone() else {
            return WatchGuard {
                tasks: Vec::new(),
                _debouncer: None,
            };
        };
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
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let file = path.file_name().map(ToOwned::to_owned);
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

/// Whether `weights` can be set on `model` in `cfg`: the model exists, has
/// that many targets, and at least one weight is above zero.
fn fits(cfg: &Config, model: &str, weights: &[u32]) -> Result<(), String> {
    let m = cfg
        .models
        .iter()
        .find(|m| m.name == model)
        .ok_or_else(|| format!("model `{model}` is not in the config"))?;
    if m.targets.len() != weights.len() {
        return Err(format!(
            "model `{model}` has {} targets, not {}",
            m.targets.len(),
            weights.len()
        ));
    }
    if weights.iter().all(|w| *w == 0) {
        return Err(format!(
            "model `{model}`: a weighted group needs a target with weight > 0"
        ));
    }
    Ok(())
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
