//! Validation of `models:` (model groups) and `routes:`.
//!
//! Part of the second config stage (see [`super::validate`]): checks that
//! every target names a configured provider, that fallbacks name served
//! models, that policies make sense for their strategy, and builds the
//! validated [`ModelConfig`] and [`RouteConfig`] values.

use std::collections::HashSet;

use super::raw::RawConfig;
use super::routing::{self, GroupPolicy, Strategy, TargetConfig, hedge_after};
use super::secret::resolve;
use super::validate::{Ctx, ModelConfig, ProviderConfig, RouteConfig, valid_name};

pub(super) fn models(
    cx: &mut Ctx<'_>,
    raw: &RawConfig,
    providers: &[ProviderConfig],
) -> Vec<ModelConfig> {
    let mut names: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(raw.models.len());
    for (i, m) in raw.models.iter().enumerate() {
        let path = format!("models[{i}]");
        let name = m.name.value.trim();
        if name.is_empty() {
            cx.at(format!("{path}.name"), Some(&m.name), "must not be empty");
        }
        if name.matches('*').count() > 1 {
            cx.at(
                format!("{path}.name"),
                Some(&m.name),
                "at most one `*` wildcard is allowed",
            );
        }
        for n in std::iter::once(name).chain(m.aliases.iter().map(String::as_str)) {
            if !names.insert(n.to_owned()) {
                cx.at(
                    format!("{path}.name"),
                    Some(&m.name),
                    format!("the public name `{n}` is defined twice"),
                );
            }
        }
        if m.aliases.iter().any(|a| a.contains('*')) {
            cx.at(
                format!("{path}.aliases"),
                Some(&m.name),
                "aliases cannot contain `*`",
            );
        }
        let targets = targets(cx, &path, m, providers);
        let policy = policy(cx, &path, m, targets.len());
        out.push(ModelConfig {
            name: name.to_owned(),
            aliases: m.aliases.clone(),
            targets,
            policy,
        });
    }
    // Fallbacks must name something this config serves.
    for (i, m) in raw.models.iter().enumerate() {
        let Some(f) = &m.fallbacks else { continue };
        for (field, target) in [
            ("context_window", &f.context_window),
            ("content_filter", &f.content_filter),
        ] {
            if let Some(t) = target
                && !serves(&out, &t.value)
            {
                cx.at(
                    format!("models[{i}].fallbacks.{field}"),
                    Some(t),
                    format!("no entry in `models` serves `{}`", t.value),
                );
            }
        }
    }
    out
}

fn serves(models: &[ModelConfig], name: &str) -> bool {
    models.iter().any(|m| {
        m.aliases.iter().any(|a| a == name) || crate::routing::pattern_matches(&m.name, name)
    })
}

fn unknown_provider(providers: &[ProviderConfig], name: &str) -> String {
    let mut avail: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
    avail.sort_unstable();
    format!(
        "unknown provider `{name}`; configured providers: [{}]",
        avail.join(", ")
    )
}

fn targets(
    cx: &mut Ctx<'_>,
    path: &str,
    m: &super::raw::RawModel,
    providers: &[ProviderConfig],
) -> Vec<TargetConfig> {
    let find = |name: &str| providers.iter().find(|p| p.name == name);
    match (&m.provider, &m.targets) {
        (Some(_), Some(_)) => {
            cx.at::<()>(
                path,
                None,
                "set either `provider` (one target) or `targets`, not both",
            );
            Vec::new()
        }
        (None, None) => {
            cx.at(
                format!("{path}.provider"),
                Some(&m.name),
                "needs `provider` or `targets`",
            );
            Vec::new()
        }
        (Some(p), None) => match find(&p.value) {
            Some(pc) => vec![TargetConfig {
                provider: pc.name.clone(),
                model: m.model.clone(),
                weight: 1,
                keys: None,
                timeouts: pc.timeouts,
                when: None,
            }],
            None => {
                cx.at(
                    format!("{path}.provider"),
                    Some(p),
                    unknown_provider(providers, &p.value),
                );
                Vec::new()
            }
        },
        (None, Some(ts)) => {
            if m.model.is_some() {
                cx.at::<()>(
                    format!("{path}.model"),
                    None,
                    "with `targets`, set `model` on each target",
                );
            }
            if ts.is_empty() {
                cx.at(
                    format!("{path}.targets"),
                    Some(&m.name),
                    "needs at least one target",
                );
            }
            let mut out = Vec::with_capacity(ts.len());
            for (j, t) in ts.iter().enumerate() {
                let tpath = format!("{path}.targets[{j}]");
                let Some(pc) = find(&t.provider.value) else {
                    cx.at(
                        format!("{tpath}.provider"),
                        Some(&t.provider),
                        unknown_provider(providers, &t.provider.value),
                    );
                    continue;
                };
                let keys = t
                    .api_key
                    .as_ref()
                    .and_then(|k| match resolve(&k.value, cx.env) {
                        Ok(s) => Some(vec![s]),
                        Err(e) => {
                            cx.at(format!("{tpath}.api_key"), Some(k), e);
                            None
                        }
                    });
                out.push(TargetConfig {
                    provider: pc.name.clone(),
                    model: t.model.clone(),
                    weight: t.weight.unwrap_or(1),
                    keys,
                    timeouts: pc.timeouts.overlay(t.timeouts),
                    when: t.when.clone(),
                });
            }
            out
        }
    }
}

fn policy(cx: &mut Ctx<'_>, path: &str, m: &super::raw::RawModel, targets: usize) -> GroupPolicy {
    let mut p = GroupPolicy::simple(targets);
    p.strategy = m.strategy.unwrap_or(Strategy::Priority);
    p.sticky = m.sticky.clone();
    p.retries = routing::retries(m.retries, targets);
    p.breaker = routing::breaker(m.breaker);
    p.adaptive = routing::adaptive(m.adaptive);
    p.health_check = m.health_check.map(|h| h.interval.0);
    if let Some(e) = m.exploration {
        if !(0.0..=1.0).contains(&e) {
            cx.at::<()>(
                format!("{path}.exploration"),
                None,
                "must be between 0 and 1",
            );
        }
        p.exploration = e.clamp(0.0, 1.0);
    }
    if let Some(f) = &m.fallbacks {
        p.fallback_context_window = f.context_window.as_ref().map(|s| s.value.clone());
        p.fallback_content_filter = f.content_filter.as_ref().map(|s| s.value.clone());
    }
    if let Some(h) = &m.hedge {
        match hedge_after(&h.after) {
            Ok(a) => p.hedge = Some(a),
            Err(e) => cx.at::<()>(format!("{path}.hedge.after"), None, e),
        }
        if targets < 2 {
            cx.at::<()>(
                format!("{path}.hedge"),
                None,
                "hedging needs at least two targets",
            );
        }
    }
    if p.strategy == Strategy::Weighted
        && let Some(ts) = &m.targets
        && ts.iter().all(|t| t.weight.unwrap_or(1) == 0)
    {
        cx.at::<()>(
            format!("{path}.targets"),
            None,
            "a weighted group needs a target with weight > 0",
        );
    }
    if p.adaptive.is_some() && p.strategy != Strategy::Weighted {
        cx.at::<()>(
            format!("{path}.adaptive"),
            None,
            "adaptive weights apply to `strategy: weighted`",
        );
    }
    p
}

pub(super) fn routes(
    cx: &mut Ctx<'_>,
    raw: &RawConfig,
    models: &[ModelConfig],
) -> Vec<RouteConfig> {
    let mut out = vec![RouteConfig::default_route()];
    let mut names: HashSet<String> = HashSet::new();
    let mut prefixes: HashSet<String> = HashSet::new();
    let served = |name: &str| {
        models.iter().any(|m| {
            m.aliases.iter().any(|a| a == name) || crate::routing::pattern_matches(&m.name, name)
        })
    };
    for (i, r) in raw.routes.iter().enumerate() {
        let path = format!("routes[{i}]");
        if !valid_name(&r.name.value) {
            cx.at(
                format!("{path}.name"),
                Some(&r.name),
                "route names use lowercase letters, digits, `_` and `-`",
            );
        }
        if !names.insert(r.name.value.clone()) {
            cx.at(
                format!("{path}.name"),
                Some(&r.name),
                format!("route `{}` is defined twice", r.name.value),
            );
        }
        // The entry named `default` configures the unprefixed route.
        let is_default = r.name.value == "default";
        let prefix = match &r.path {
            Some(p) if is_default => {
                if !p.value.trim_end_matches('/').is_empty() {
                    cx.at(
                        format!("{path}.path"),
                        Some(p),
                        "the `default` route is the API without a prefix; leave out `path`",
                    );
                }
                String::new()
            }
            None if is_default => String::new(),
            None => {
                cx.at(format!("{path}.path"), Some(&r.name), "needs `path`");
                String::new()
            }
            Some(p) => route_prefix(cx, &path, p, &mut prefixes),
        };
        if let Some(m) = &r.model
            && !served(&m.value)
        {
            cx.at(
                format!("{path}.model"),
                Some(m),
                format!("no entry in `models` serves `{}`", m.value),
            );
        }
        for (j, a) in r.allowed_models.iter().flatten().enumerate() {
            if !served(a) {
                cx.at::<()>(
                    format!("{path}.allowed_models[{j}]"),
                    None,
                    format!("no entry in `models` serves `{a}`"),
                );
            }
        }
        let route = RouteConfig {
            name: r.name.value.clone(),
            prefix,
            pinned_model: r.model.as_ref().map(|m| m.value.clone()),
            on_model_mismatch: r.on_model_mismatch,
            allowed_models: r.allowed_models.clone(),
            model_in_path: r.model_in_path.unwrap_or(true),
            model_in_header: r.model_in_header.unwrap_or(true),
        };
        if is_default {
            out[0] = route;
        } else {
            out.push(route);
        }
    }
    out
}

/// Checks a route's path prefix and returns it without a trailing `/`.
fn route_prefix(
    cx: &mut Ctx<'_>,
    path: &str,
    p: &serde_saphyr::Spanned<String>,
    prefixes: &mut HashSet<String>,
) -> String {
    const RESERVED: &[&str] = &["/v1", "/healthz", "/readyz", "/metrics"];
    let prefix = p.value.trim_end_matches('/').to_owned();
    let well_formed = prefix.starts_with('/')
        && prefix.len() > 1
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b));
    if !well_formed {
        cx.at(
            format!("{path}.path"),
            Some(p),
            "must look like `/team-a` (letters, digits, `-_./`)",
        );
    } else if RESERVED
        .iter()
        .any(|r| prefix == *r || prefix.starts_with(&format!("{r}/")))
    {
        cx.at(
            format!("{path}.path"),
            Some(p),
            format!("`{prefix}` is reserved"),
        );
    } else if !prefixes.insert(prefix.clone()) {
        cx.at(
            format!("{path}.path"),
            Some(p),
            format!("path `{prefix}` is used twice"),
        );
    }
    prefix
}
