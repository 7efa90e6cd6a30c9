//! The planner: the order in which a group's targets are tried for one
//! request, and why the first was chosen.
//!
//! Runs once per request (and again for a model fallback). The rule:
//! 1. targets whose `when` does not match the request are left out; if any
//!    target's `when` matched, those come first;
//! 2. targets ejected by their circuit breaker are left out, unless fewer
//!    than `panic_threshold` of the eligible targets are healthy (then all
//!    are kept: better a degraded answer than none);
//! 3. within each tier the strategy orders the targets; with stickiness the
//!    first choice is the one the sticky value hashes to.

use std::sync::atomic::Ordering;

use rand::Rng;
use tokio::time::Instant;

use super::Group;
use super::condition::{RouteCtx, matches};
use crate::config::routing::{StickyBy, Strategy};

/// The attempt order for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Indices into the group's targets.
    pub order: Vec<usize>,
    /// Why the first target was chosen.
    pub reason: &'static str,
}

/// Plans a request to `group`.
pub fn plan(group: &Group, ctx: &RouteCtx<'_>) -> Plan {
    let now = Instant::now();
    let mut matched = Vec::new();
    let mut plain = Vec::new();
    for (i, t) in group.targets.iter().enumerate() {
        match &t.when {
            Some(c) if matches(c, ctx) => matched.push(i),
            Some(_) => {}
            None => plain.push(i),
        }
    }
    let eligible = matched.len() + plain.len();
    let healthy = matched
        .iter()
        .chain(&plain)
        .filter(|&&i| group.targets[i].stats.available(now))
        .count();
    let panic = healthy == 0
        || (eligible > 0
            && (healthy as f64) / (eligible as f64) < group.policy.breaker.panic_threshold);
    if !panic {
        matched.retain(|&i| group.targets[i].stats.available(now));
        plain.retain(|&i| group.targets[i].stats.available(now));
    }
    let conditional = !matched.is_empty();
    let mut reason = group.policy.strategy.as_str();
    order(group, &mut matched, ctx, &mut reason);
    order(group, &mut plain, ctx, &mut reason);
    if conditional {
        reason = "conditional";
    }
    matched.extend(plain);
    Plan {
        order: matched,
        reason,
    }
}

/// Orders one tier in place.
fn order(group: &Group, tier: &mut [usize], ctx: &RouteCtx<'_>, reason: &mut &'static str) {
    if tier.len() < 2 {
        return;
    }
    let targets = &group.targets;
    let policy = &group.policy;
    let mut rng = rand::rng();
    match policy.strategy {
        Strategy::Priority | Strategy::Conditional => {}
        Strategy::Weighted => {
            let weights: Vec<f64> = tier.iter().map(|&i| group.effective_weight(i)).collect();
            weighted_shuffle(tier, &weights, &mut rng);
        }
        Strategy::RoundRobin => {
            let n = group.rr.fetch_add(1, Ordering::Relaxed) % tier.len();
            tier.rotate_left(n);
        }
        Strategy::LeastBusy => tier.sort_by_key(|&i| targets[i].stats.in_flight()),
        Strategy::LowestLatency => {
            if rng.random_bool(policy.exploration) {
                let k = rng.random_range(0..tier.len());
                tier.swap(0, k);
                *reason = "explore";
            } else {
                // Untried targets first, so every target gets measured.
                tier.sort_by(|&a, &b| {
                    let la = targets[a].stats.latency_ms(true);
                    let lb = targets[b].stats.latency_ms(true);
                    match (la, lb) {
                        (None, None) => std::cmp::Ordering::Equal,
                        (None, Some(_)) => std::cmp::Ordering::Less,
                        (Some(_), None) => std::cmp::Ordering::Greater,
                        (Some(x), Some(y)) => x.total_cmp(&y),
                    }
                });
            }
        }
        Strategy::LowestCost => tier.sort_by(|&a, &b| {
            let ca = targets[a].price.map_or(f64::INFINITY, |p| p.typical());
            let cb = targets[b].price.map_or(f64::INFINITY, |p| p.typical());
            ca.total_cmp(&cb)
        }),
    }
    if let Some(key) = policy.sticky.as_ref().and_then(|s| sticky_value(s, ctx)) {
        let best = (0..tier.len()).max_by(|&a, &b| {
            let sa = rendezvous(&key, &targets[tier[a]].id, group.effective_weight(tier[a]));
            let sb = rendezvous(&key, &targets[tier[b]].id, group.effective_weight(tier[b]));
            sa.total_cmp(&sb)
        });
        if let Some(b) = best {
            let chosen = tier[b];
            let pos = tier.iter().position(|&i| i == chosen).unwrap_or(0);
            tier[..=pos].rotate_right(1);
            *reason = "sticky";
        }
    }
}

fn sticky_value(by: &StickyBy, ctx: &RouteCtx<'_>) -> Option<String> {
    match by {
        StickyBy::User => ctx.user.map(str::to_owned),
        StickyBy::Key => ctx.key_id.map(str::to_owned),
        StickyBy::Consumer => ctx.consumer.map(str::to_owned),
        StickyBy::Header(h) => ctx.header(h).map(str::to_owned),
        StickyBy::Metadata(m) => ctx.metadata_field(m),
    }
}

/// A random order where each next element is drawn with probability
/// proportional to its weight (zero-weight targets go last, in order).
fn weighted_shuffle(tier: &mut [usize], weights: &[f64], rng: &mut impl Rng) {
    let mut items: Vec<(usize, f64)> = tier.iter().copied().zip(weights.iter().copied()).collect();
    for slot in tier.iter_mut() {
        let total: f64 = items.iter().map(|(_, w)| w.max(0.0)).sum();
        let idx = if total <= 0.0 {
            0
        } else {
            let mut x = rng.random_range(0.0..total);
            items
                .iter()
                .position(|(_, w)| {
                    x -= w.max(0.0);
                    x < 0.0
                })
                .unwrap_or(items.len() - 1)
        };
        *slot = items.remove(idx).0;
    }
}

/// Weighted rendezvous hashing score: the same key picks the same target
/// while the target set is unchanged.
fn rendezvous(key: &str, target: &str, weight: f64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain([0xff]).chain(target.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Map to (0, 1) and weight it: -w / ln(u) orders like u^(1/w).
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    if weight <= 0.0 {
        f64::NEG_INFINITY
    } else {
        -weight / u.ln()
    }
}

/// The planned targets as seen by tests and status pages.
pub fn describe(group: &Group, plan: &Plan) -> Vec<String> {
    plan.order
        .iter()
        .map(|&i| group.targets[i].id.clone())
        .collect::<Vec<_>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_shuffle_follows_weights() {
        let mut rng = rand::rng();
        let mut first = [0u32; 2];
        for _ in 0..10_000 {
            let mut tier = [0usize, 1];
            weighted_shuffle(&mut tier, &[90.0, 10.0], &mut rng);
            first[tier[0]] += 1;
        }
        let share = f64::from(first[0]) / 10_000.0;
        assert!((share - 0.9).abs() < 0.02, "{share}");
        let mut tier = [0usize, 1, 2];
        weighted_shuffle(&mut tier, &[0.0, 0.0, 1.0], &mut rng);
        assert_eq!(tier[0], 2);
    }

    #[test]
    fn rendezvous_is_stable_and_spreads() {
        let pick = |key: &str| {
            if rendezvous(key, "a", 1.0) > rendezvous(key, "b", 1.0) {
                "a"
            } else {
                "b"
            }
        };
        assert_eq!(pick("session-1"), pick("session-1"));
        let a = (0..1000).filter(|i| pick(&format!("s{i}")) == "a").count();
        assert!((400..600).contains(&a), "{a}");
    }
}
