//! `guardrails:` as written, and validated into compiled policies.
//!
//! Runs at config load (start-up, `sluice check`, reload), never on the
//! request path: every regular expression is compiled here, once. A policy
//! is declared once under `guardrails.policies` and attached by name,
//! globally (`global`) or to the requests a rule matches (`rules`, by
//! route, key, consumer, team or model); `docs/guardrails.md` is the
//! reference.

mod kinds;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::tenancy::Matcher;
use super::validate::{Ctx, valid_name};
use crate::guard::Policy;
pub use kinds::RawPolicy;

/// `guardrails:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrails {
    /// Policies by name. A policy does nothing until `global` or a rule
    /// attaches it.
    #[serde(default)]
    pub policies: BTreeMap<String, RawPolicy>,
    /// Policies applied to every LLM call, in this order.
    #[serde(default)]
    pub global: Vec<String>,
    /// Policies applied to the calls a rule matches, after the global
    /// ones, in rule order. A policy attached twice runs once.
    #[serde(default)]
    pub rules: Vec<RawGuardRule>,
}

/// One entry of `guardrails.rules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardRule {
    /// Which calls the rule applies to: lists of `routes`, `keys`,
    /// `consumers`, `teams`, `models`, `providers` (ids or names); every
    /// list given must contain the call's value. Empty: every call.
    #[serde(default, rename = "match")]
    pub matcher: Matcher,
    /// Policy names, in the order they run.
    pub policies: Vec<String>,
}

/// `guardrails:` after validation.
#[derive(Debug, Clone, Default)]
pub struct GuardrailsConfig {
    /// Applied to every call, in order.
    pub global: Vec<Arc<Policy>>,
    /// Applied to matching calls, after `global`.
    pub rules: Vec<GuardRule>,
}

/// One validated rule.
#[derive(Debug, Clone)]
pub struct GuardRule {
    pub matcher: Matcher,
    pub policies: Vec<Arc<Policy>>,
}

impl GuardrailsConfig {
    /// Whether no policy is attached anywhere (the pipeline then skips
    /// guardrails at no cost).
    pub fn is_empty(&self) -> bool {
        self.global.is_empty() && self.rules.is_empty()
    }
}

/// Validates `guardrails:`.
/// `known_model` says whether a name is a public model (for transformers).
pub(super) fn guardrails(
    cx: &mut Ctx<'_>,
    raw: &RawGuardrails,
    known_model: &dyn Fn(&str) -> bool,
) -> GuardrailsConfig {
    let mut built: BTreeMap<&str, Arc<Policy>> = BTreeMap::new();
    for (name, p) in &raw.policies {
        let path = format!("guardrails.policies.{name}");
        if !valid_name(name) {
            cx.at::<()>(
                &path,
                None,
                "policy names use lowercase letters, digits, `_` and `-` (at most 64)",
            );
        }
        match kinds::build(cx, &path, name, p, known_model) {
            Ok(policy) => {
                built.insert(name, Arc::new(policy));
            }
            Err(msg) => cx.at::<()>(&path, None, msg),
        }
    }
    let resolve = |cx: &mut Ctx<'_>, path: String, names: &[String]| {
        let mut out: Vec<Arc<Policy>> = Vec::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            match built.get(n.as_str()) {
                Some(p) => out.push(p.clone()),
                None if raw.policies.contains_key(n) => {}
                None => cx.at::<()>(
                    format!("{path}[{i}]"),
                    None,
                    format!("unknown policy `{n}` (declare it under guardrails.policies)"),
                ),
            }
        }
        out
    };
    let global = resolve(cx, "guardrails.global".to_owned(), &raw.global);
    let rules = raw
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| GuardRule {
            matcher: r.matcher.clone(),
            policies: resolve(cx, format!("guardrails.rules[{i}].policies"), &r.policies),
        })
        .collect();
    GuardrailsConfig { global, rules }
}
