//! Process-wide state and the per-config runtime.
//!
//! A [`Runtime`] is everything built from one validated [`Config`]: the
//! provider clients, the model table and the prices, plus a handle on the
//! process-wide [`Tenancy`] (keys, limits, budgets). The [`Gateway`] holds the current
//! runtime in an `ArcSwap`; each request loads it once, at the outermost
//! layer, and uses that one snapshot to the end, so a reload never changes
//! the rules under a request in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use sluice_protocol::Error;
use sluice_store::{MemoryResponseStore, ResponseStore};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, RouteConfig};
use crate::ledger::Ledger;
use crate::pricing::Prices;
use crate::provider::{self, Provider};
use crate::routing::ModelTable;
use crate::routing::health::{self, HealthChecks};
use crate::routing::stats::StatsRegistry;
use crate::tenancy::Tenancy;

/// Everything built from one config.
pub struct Runtime {
    pub config: Arc<Config>,
    pub providers: HashMap<String, Arc<dyn Provider>>,
    pub models: ModelTable,
    /// The bundled price table with the config's overrides.
    pub prices: Prices,
    /// Keys, limits and budgets (process-wide, shared by every snapshot).
    pub tenancy: Arc<Tenancy>,
    /// Providers served at `/{name}/...` (pass-through and universal).
    pub passthrough: crate::passthrough::Table,
    /// The response cache (process-wide, shared by every snapshot).
    pub cache: Arc<crate::cache::Cache>,
    /// Cancelled when the shutdown drain deadline passes (process-wide):
    /// streams still open then end with an error event.
    pub drain: CancellationToken,
    /// Increases by one with every successful reload.
    pub generation: u64,
    /// Active health checks of this snapshot; stop when it is replaced.
    _health: HealthChecks,
}

impl Runtime {
    /// Builds provider clients and tables. Fails only if a client cannot be
    /// built (the config itself is already validated).
    pub fn build(
        config: Config,
        generation: u64,
        stats: &StatsRegistry,
        tenancy: Arc<Tenancy>,
        cache: Arc<crate::cache::Cache>,
        drain: CancellationToken,
    ) -> Result<Self, Error> {
        let mut providers = HashMap::with_capacity(config.providers.len());
        for p in &config.providers {
            providers.insert(p.name.clone(), provider::build(p)?);
        }
        let prices = Prices::new(&config.pricing);
        let models = ModelTable::build(&config, &providers, stats, &prices)?;
        let passthrough = crate::passthrough::Table::build(&config, &providers)?;
        let health = health::spawn(&models);
        Ok(Self {
            config: Arc::new(config),
            providers,
            models,
            prices,
            tenancy,
            passthrough,
            cache,
            drain,
            generation,
            _health: health,
        })
    }

    /// The route whose prefix `path` starts with, and the rest of the path.
    pub fn route_for_path<'p>(&self, path: &'p str) -> Option<(&RouteConfig, &'p str)> {
        self.config.routes.iter().find_map(|r| {
            if r.prefix.is_empty() {
                return None;
            }
            let rest = path.strip_prefix(r.prefix.as_str())?;
            rest.starts_with('/').then_some((r, rest))
        })
    }

    /// The default route (no prefix).
    pub fn default_route(&self) -> &RouteConfig {
        self.config
            .routes
            .iter()
            .find(|r| r.prefix.is_empty())
            .unwrap_or_else(|| default_route())
    }
}

fn default_route() -> &'static RouteConfig {
    static DEFAULT: std::sync::OnceLock<RouteConfig> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(RouteConfig::default_route)
}

/// Process-wide state shared by every request.
pub struct Gateway {
    runtime: ArcSwap<Runtime>,
    generation: AtomicU64,
    ledger: Ledger,
    /// Per-target observations, kept across reloads.
    stats: StatsRegistry,
    tenancy: Arc<Tenancy>,
    /// Conversations kept for the Responses API's `previous_response_id`.
    responses: Arc<dyn ResponseStore>,
    /// The response cache, kept across reloads.
    cache: Arc<crate::cache::Cache>,
    /// Cut-off signal for streams at the end of the shutdown drain.
    drain: CancellationToken,
    /// Reloads from the config file, when there is one (weak: the reloader
    /// holds the gateway).
    reloader: std::sync::OnceLock<std::sync::Weak<crate::reload::Reloader>>,
}

impl Gateway {
    /// A gateway serving `config`, with keys, limits and budgets in
    /// `tenancy` (see [`Tenancy::open`]), keeping Responses API state in
    /// memory (bounded by `server.responses.max_size`).
    pub fn new(config: Config, ledger: Ledger, tenancy: Arc<Tenancy>) -> Result<Arc<Self>, Error> {
        let store = Arc::new(MemoryResponseStore::new(config.server.responses.max_bytes));
        Self::with_response_store(config, ledger, tenancy, store)
    }

    /// A gateway serving `config` with its Responses API state in `store`.
    pub fn with_response_store(
        config: Config,
        ledger: Ledger,
        tenancy: Arc<Tenancy>,
        store: Arc<dyn ResponseStore>,
    ) -> Result<Arc<Self>, Error> {
        crate::tokens::warm_up();
        let stats = StatsRegistry::default();
        let cache = crate::cache::Cache::new(&config, ledger.clone());
        let drain = CancellationToken::new();
        let rt = Runtime::build(
            config,
            1,
            &stats,
            tenancy.clone(),
            cache.clone(),
            drain.clone(),
        )?;
        Ok(Arc::new(Self {
            runtime: ArcSwap::from_pointee(rt),
            generation: AtomicU64::new(1),
            ledger,
            stats,
            tenancy,
            responses: store,
            cache,
            drain,
            reloader: std::sync::OnceLock::new(),
        }))
    }

    /// Keys, limits and budgets.
    pub fn tenancy(&self) -> &Arc<Tenancy> {
        &self.tenancy
    }

    /// Where Responses API conversations are kept.
    pub fn responses(&self) -> &Arc<dyn ResponseStore> {
        &self.responses
    }

    /// Per-target observations (in flight, averages, breaker state).
    pub fn stats(&self) -> &StatsRegistry {
        &self.stats
    }

    /// Every group of the current config, with its targets' live state.
    pub fn routes_view(&self) -> Vec<crate::routing::GroupView> {
        self.snapshot()
            .models
            .groups()
            .iter()
            .map(|g| g.view())
            .collect()
    }

    /// The current runtime. Load once per request.
    pub fn snapshot(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// The reloader of this gateway's config file, if it was started from one.
    pub fn reloader(&self) -> Option<Arc<crate::reload::Reloader>> {
        self.reloader.get().and_then(std::sync::Weak::upgrade)
    }

    /// Registers the reloader the admin API triggers. The first one wins.
    pub(crate) fn set_reloader(&self, r: &Arc<crate::reload::Reloader>) {
        let _ = self.reloader.set(Arc::downgrade(r));
    }

    /// Cancel to end every open stream with an error event; the listener
    /// does so when its drain deadline passes ([`crate::server::serve`]).
    pub fn drain_token(&self) -> CancellationToken {
        self.drain.clone()
    }

    /// The ledger records go to.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Swaps in a new, already validated config. Requests in flight keep
    /// their snapshot. Returns the new generation.
    pub fn reload(&self, config: Config) -> Result<u64, Error> {
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let rt = Runtime::build(
            config,
            generation,
            &self.stats,
            self.tenancy.clone(),
            self.cache.clone(),
            self.drain.clone(),
        )?;
        self.runtime.store(Arc::new(rt));
        self.generation.store(generation, Ordering::Release);
        Ok(generation)
    }
}
