//! Per-request cache controls, read from the request headers before the
//! lookup (Cloudflare AI Gateway style):
//!
//! - `x-sluice-skip-cache: true` or `Cache-Control: no-store`: bypass (no
//!   lookup, nothing stored);
//! - `x-sluice-cache-refresh: true` or `Cache-Control: no-cache`: refresh
//!   (no lookup, the fresh answer replaces the entry);
//! - `x-sluice-cache-ttl: <seconds>`: this entry's lifetime (capped at
//!   `cache.max_ttl`);
//! - `x-sluice-cache-key: <text>`: a custom key replacing the request body
//!   in the key (still within the caller's tenant scope, model and surface).

use std::time::Duration;

use crate::routing::RouteCtx;

/// How this request uses the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Look up, and store on a miss.
    Normal,
    /// Neither look up nor store.
    Bypass,
    /// Skip the lookup, store the fresh answer.
    Refresh,
}

/// What the request's headers ask of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controls {
    pub mode: Mode,
    pub ttl: Option<Duration>,
    pub key: Option<String>,
}

fn truthy(v: Option<&str>) -> bool {
    v.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// Reads the controls; `max_ttl` caps a requested TTL.
pub fn read(ctx: &RouteCtx<'_>, max_ttl: Duration) -> Controls {
    let cc = ctx
        .header("cache-control")
        .unwrap_or("")
        .to_ascii_lowercase();
    let directive = |d: &str| cc.split(',').any(|p| p.trim() == d);
    let mode = if truthy(ctx.header("x-sluice-skip-cache")) || directive("no-store") {
        Mode::Bypass
    } else if truthy(ctx.header("x-sluice-cache-refresh")) || directive("no-cache") {
        Mode::Refresh
    } else {
        Mode::Normal
    };
    let ttl = ctx
        .header("x-sluice-cache-ttl")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.max(1)).min(max_ttl));
    let key = ctx
        .header("x-sluice-cache-key")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    Controls { mode, ttl, key }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn ctx(h: &HeaderMap) -> RouteCtx<'_> {
        RouteCtx {
            headers: Some(h),
            path: "/",
            metadata: None,
            identity: None,
            key_id: None,
            consumer: None,
            team: None,
            user: None,
        }
    }

    #[test]
    fn headers_map_to_controls() {
        let max = Duration::from_secs(100);
        let mut h = HeaderMap::new();
        assert_eq!(read(&ctx(&h), max).mode, Mode::Normal);
        h.insert("cache-control", "max-age=0, no-cache".parse().unwrap());
        assert_eq!(read(&ctx(&h), max).mode, Mode::Refresh);
        h.insert("cache-control", "no-store".parse().unwrap());
        assert_eq!(read(&ctx(&h), max).mode, Mode::Bypass);
        h.remove("cache-control");
        h.insert("x-sluice-cache-refresh", "true".parse().unwrap());
        assert_eq!(read(&ctx(&h), max).mode, Mode::Refresh);
        h.insert("x-sluice-skip-cache", "1".parse().unwrap());
        assert_eq!(read(&ctx(&h), max).mode, Mode::Bypass);
        h.insert("x-sluice-cache-ttl", "5000".parse().unwrap());
        h.insert("x-sluice-cache-key", " faq-1 ".parse().unwrap());
        let c = read(&ctx(&h), max);
        assert_eq!(c.ttl, Some(max));
        assert_eq!(c.key.as_deref(), Some("faq-1"));
    }
}
