//! Response caching for chat answers (chat completions, Anthropic Messages,
//! the Responses API and legacy completions all pass through here).
//!
//! Runs in the pipeline after admission (a hit is still subject to the
//! caller's limits, and settles to zero tokens and zero cost) and before
//! the executor. For each request it decides, from the config's policy
//! (per route and key) and the request's headers ([`controls`]):
//!
//! - **bypass**: straight to the executor, nothing stored;
//! - **lookup**: by exact key ([`key`]), then, if configured, by meaning
//!   ([`semantic`]); a hit replays the stored answer ([`entry`]), as a
//!   stream of its original chunks when the client streams;
//! - **miss / refresh**: the executor's answer is stored once complete (a
//!   stream once it ended normally, see [`tee`]); errors never are.
//!   Concurrent identical misses are coalesced ([`inflight`]).
//!
//! Every response of a request the cache applies to says
//! `x-sluice-cache: hit|miss|bypass|refresh` (and, for a semantic hit,
//! `x-sluice-cache-similarity`); the ledger record gets the same in
//! `cache` and `cache_similarity`. The hit path does no blocking I/O and
//! no database write.

mod controls;
mod entry;
mod fill;
mod inflight;
mod key;
mod semantic;
mod tee;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue};
use parking_lot::Mutex;
use sluice_protocol::Error;
use sluice_store::CacheStore;
use sluice_store::cache::{MemoryCache, RedisCache};

use crate::config::Config;
use crate::config::cache::{CacheBackend, CacheScope};
use crate::exec::{self, Answer, Job};
use crate::ledger::Ledger;
use crate::provider::{ChatInput, ChatOutput};
use crate::record::RecordHandle;
use controls::Mode;
use entry::Entry;
use inflight::{Inflight, Join};

/// Largest answer stored, in bytes (a longer stream is passed through
/// without being kept).
const MAX_ENTRY_BYTES: usize = 8 * 1024 * 1024;
/// Longest a follower waits for the leader of an identical request.
const MAX_COALESCE_WAIT: Duration = Duration::from_secs(300);
/// Times a follower waits for a leader before going upstream itself.
const MAX_COALESCE_ROUNDS: usize = 3;
/// After Redis could not be reached, how long requests skip the cache
/// before connecting is tried again.
const REDIS_RETRY: Duration = Duration::from_secs(5);

/// The process-wide cache: the store, the in-flight misses and the
/// semantic index. Built once at start-up; kept across reloads.
pub struct Cache {
    store: tokio::sync::OnceCell<Arc<dyn CacheStore>>,
    backend: Backend,
    failed_at: Mutex<Option<Instant>>,
    inflight: Inflight,
    semantic: Option<Arc<semantic::Index>>,
    ledger: Ledger,
}

enum Backend {
    Memory,
    Redis {
        url: String,
        prefix: String,
        timeout: Duration,
    },
}

impl Cache {
    /// The cache for `config`'s `cache:` section. A Redis store connects on
    /// first use.
    pub fn new(config: &Config, ledger: Ledger) -> Arc<Self> {
        let c = &config.cache;
        let store = tokio::sync::OnceCell::new();
        let backend = match (c.backend, &config.store.redis) {
            (CacheBackend::Redis, Some(url)) => Backend::Redis {
                url: url.expose().to_owned(),
                prefix: c.redis_prefix.clone(),
                timeout: config.store.redis_timeout.max(Duration::from_millis(250)),
            },
            _ => {
                let memory: Arc<dyn CacheStore> = Arc::new(MemoryCache::new(c.max_bytes));
                let _ = store.set(memory);
                Backend::Memory
            }
        };
        Arc::new(Self {
            store,
            backend,
            failed_at: Mutex::new(None),
            inflight: Inflight::default(),
            semantic: c.semantic.as_ref().map(semantic::open),
            ledger,
        })
    }

    /// The store; `None` while Redis is unreachable.
    async fn store(&self) -> Option<Arc<dyn CacheStore>> {
        if let Some(s) = self.store.get() {
            return Some(s.clone());
        }
        let Backend::Redis {
            url,
            prefix,
            timeout,
        } = &self.backend
        else {
            return None;
        };
        if self
            .failed_at
            .lock()
            .is_some_and(|t| t.elapsed() < REDIS_RETRY)
        {
            return None;
        }
        let made = self
            .store
            .get_or_try_init(|| async {
                let r = RedisCache::connect(url, prefix, *timeout).await?;
                Ok::<Arc<dyn CacheStore>, sluice_store::StoreError>(Arc::new(r))
            })
            .await;
        match made {
            Ok(s) => Some(s.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "response cache: Redis unreachable; not caching for now");
                *self.failed_at.lock() = Some(Instant::now());
                None
            }
        }
    }
}

/// Serves a chat request through the cache (see the module docs).
pub async fn chat(job: &Job<'_>, input: &ChatInput) -> Result<Answer<ChatOutput>, Error> {
    let cfg = &job.rt.config.cache;
    if !cfg.any_enabled() {
        return exec::chat(job, input).await;
    }
    let cache = job.rt.cache.clone();
    let route = job.record.read(|r| r.meta.route.clone());
    let identity = job.ctx.identity;
    let policy = cfg.policy(
        &route,
        identity.map(|i| i.key_id.as_str()),
        identity.and_then(|i| i.key_name.as_deref()),
    );
    let controls = controls::read(&job.ctx, cfg.max_ttl);
    let mode = if policy.enabled {
        controls.mode
    } else {
        Mode::Bypass
    };
    let key = (mode != Mode::Bypass)
        .then(|| {
            let stream = input.head().stream;
            key_for(job, input, policy.scope, controls.key.as_deref(), stream)
        })
        .flatten();
    let store = match key {
        Some(_) => cache.store().await,
        None => None,
    };
    let (Some(key), Some(store)) = (key, store) else {
        mark(job.record, "bypass", None);
        return exec::chat(job, input).await;
    };
    let ttl = controls.ttl.unwrap_or(policy.ttl);
    if mode == Mode::Refresh {
        return fill::miss(
            job,
            input,
            &cache,
            store,
            fill::Miss::new(key, ttl, "refresh"),
        )
        .await;
    }
    let stream = input.head().stream;
    if let Some(a) = lookup(job, &*store, &key.exact, stream).await {
        mark(job.record, "hit", None);
        return Ok(a);
    }
    // A streaming chat request may be served a non-streamed answer, cut
    // into chunks.
    if stream
        && input.native_body().is_none()
        && let Some(k) = key_for(job, input, policy.scope, controls.key.as_deref(), false)
        && let Some(a) = lookup(job, &*store, &k.exact, true).await
    {
        mark(job.record, "hit", None);
        return Ok(a);
    }
    let mut vector = None;
    if let (Some(index), Some(sem), None) = (&cache.semantic, &cfg.semantic, &controls.key)
        && let Some(text) = semantic::text_of(input, sem.input)
    {
        match semantic::embed(job, sem, &cache.ledger, &text).await {
            Ok(v) => {
                if let Some((k, score)) = index.best(&key.partition, &v)
                    && score >= sem.threshold
                    && let Some(a) = lookup(job, &*store, &k, stream).await
                {
                    mark(job.record, "hit", Some(score));
                    return Ok(a);
                }
                vector = Some(v);
            }
            Err(e) => {
                tracing::warn!(error = %e, "semantic cache: embedding failed; exact match only")
            }
        }
    }
    let mut m = fill::Miss::new(key, ttl, "miss");
    m.vector = vector;
    // A follower whose leader failed tries to lead (or follow a new
    // leader) again, a few times, so a failure does not release a herd.
    for _ in 0..MAX_COALESCE_ROUNDS {
        match cache.inflight.join(&m.key.exact) {
            Join::Leader(g) => {
                m.guard = Some(g);
                return fill::miss(job, input, &cache, store, m).await;
            }
            Join::Follower(rx) => {
                let _ = tokio::time::timeout(MAX_COALESCE_WAIT, inflight::wait(rx)).await;
                if let Some(a) = lookup(job, &*store, &m.key.exact, stream).await {
                    mark(job.record, "hit", None);
                    job.record
                        .update(|r| r.route_reason = Some("cache_coalesced".to_owned()));
                    return Ok(a);
                }
            }
        }
    }
    fill::miss(job, input, &cache, store, m).await
}

/// The scope and request keys, for a streaming (`stream`) or complete answer.
fn key_for(
    job: &Job<'_>,
    input: &ChatInput,
    scope: CacheScope,
    custom: Option<&str>,
    stream: bool,
) -> Option<key::Key> {
    let id = job.ctx.identity;
    let scope = match (id, scope) {
        (None, _) => "global".to_owned(),
        (Some(i), CacheScope::Team) => match &i.team_id {
            Some(t) => format!("team:{t}"),
            None => format!("key:{}", i.key_id),
        },
        (Some(i), CacheScope::Key) => format!("key:{}", i.key_id),
    };
    let (group, captured) = job.rt.models.lookup(job.model).ok()?;
    let targets: Vec<String> = group
        .targets
        .iter()
        .map(|t| {
            format!(
                "{}/{}",
                t.provider.name(),
                t.upstream_model(&group.name, job.model, captured)
            )
        })
        .collect();
    let (surface, body) = match input.native_body() {
        Some(n) => (n.api.as_str(), n.request.object.body()),
        None => ("chat", input.raw().object.body()),
    };
    key::compute(&key::Parts {
        scope: &scope,
        surface,
        stream,
        model: job.model,
        targets: &targets,
        body,
        custom,
    })
}

/// The stored answer under `k` as an answer to this request (in stream
/// form when `stream`), if any.
async fn lookup(
    job: &Job<'_>,
    store: &dyn CacheStore,
    k: &str,
    stream: bool,
) -> Option<Answer<ChatOutput>> {
    let bytes = match store.get(k).await {
        Ok(b) => b?,
        Err(e) => {
            tracing::warn!(error = %e, "response cache lookup failed; treated as a miss");
            return None;
        }
    };
    let entry = Entry::decode(&bytes)?;
    let entry = if stream { entry.into_stream()? } else { entry };
    let provider = job.rt.providers.get(&entry.provider)?.clone();
    let upstream_model = entry.upstream_model.clone();
    let saved = entry.cost_usd;
    job.record.update(|r| r.cost_usd = Some(0.0));
    if let Some(s) = saved
        && let Ok(v) = HeaderValue::from_str(&format!("{s:.6}"))
    {
        job.record
            .add_header(HeaderName::from_static("x-sluice-cache-saved-usd"), v);
    }
    Some(Answer {
        value: entry.replay(),
        provider,
        upstream_model,
        upstream_time: Duration::ZERO,
        attempts: 0,
        reason: "cache_hit".to_owned(),
        price: None,
    })
}

/// Sets the cache status header and record field.
fn mark(record: &RecordHandle, status: &'static str, similarity: Option<f64>) {
    record.add_header(
        HeaderName::from_static("x-sluice-cache"),
        HeaderValue::from_static(status),
    );
    if let Some(s) = similarity
        && let Ok(v) = HeaderValue::from_str(&format!("{s:.4}"))
    {
        record.add_header(HeaderName::from_static("x-sluice-cache-similarity"), v);
    }
    record.update(|r| {
        r.cache = Some(status.to_owned());
        r.cache_similarity = similarity;
    });
}
