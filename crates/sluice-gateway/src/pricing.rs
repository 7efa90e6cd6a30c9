//! The price table: what a request cost, from its usage.
//!
//! A table of USD prices per million tokens, per provider family, is bundled
//! (`pricing/prices.json`). Models are matched by pattern (one `*`, longest
//! match wins); Azure uses OpenAI's prices, Vertex Gemini's, and every local
//! server is free. Cached-input, cache-write and per-request prices are
//! applied when the usage has them. Used when a request is recorded, by
//! budgets (reservation estimates and settlement) and by the `lowest_cost`
//! strategy.
//!
//! The config's `pricing:` entries override the bundled table per provider
//! name and model pattern ([`Prices`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use sluice_protocol::Usage;

use crate::config::tenancy::RawPrice;
use crate::provider::ProviderKind;

/// Prices of one model, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Prompt tokens read from the provider's cache (default: `input`).
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Prompt tokens written to the provider's cache (default: `input`).
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// A flat price per request (rerank, for instance).
    #[serde(default)]
    pub per_request: Option<f64>,
}

impl Price {
    /// The cost of `usage` at this price.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let read = usage.cached_read_tokens.min(usage.prompt_tokens);
        let write = usage.cached_write_tokens.min(usage.prompt_tokens - read);
        let plain = usage.prompt_tokens - read - write;
        let m = 1_000_000.0;
        (plain as f64 * self.input
            + read as f64 * self.cached_input.unwrap_or(self.input)
            + write as f64 * self.cache_write.unwrap_or(self.input)
            + usage.completion_tokens as f64 * self.output)
            / m
            + self.per_request.unwrap_or(0.0)
    }

    /// A rough price per request for ordering targets by cost: a prompt of
    /// 1k tokens and an answer of 500.
    pub fn typical(&self) -> f64 {
        (1000.0 * self.input + 500.0 * self.output) / 1_000_000.0 + self.per_request.unwrap_or(0.0)
    }
}

#[derive(Debug, Default)]
struct Family {
    exact: HashMap<String, Price>,
    /// Glob patterns, most specific (longest literal text) first.
    patterns: Vec<(String, Price)>,
}

impl Family {
    fn lookup(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.exact.get(model) {
            return Some(*p);
        }
        self.patterns
            .iter()
            .find(|(pat, _)| glob(pat, model))
            .map(|(_, p)| *p)
    }
}

/// Whether `name` matches `pattern`, where each `*` matches any run of text.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Prices per provider family.
#[derive(Debug, Default)]
pub struct PriceTable {
    families: HashMap<String, Family>,
}

static BUNDLED: LazyLock<PriceTable> = LazyLock::new(|| {
    let raw: HashMap<String, serde_json::Value> =
        serde_json::from_str(include_str!("pricing/prices.json")).unwrap_or_default();
    let mut table = PriceTable::default();
    for (family, models) in raw {
        let Ok(models) = serde_json::from_value::<HashMap<String, Price>>(models) else {
            continue;
        };
        for (pattern, price) in models {
            table.insert(&family, &pattern, price);
        }
    }
    table
});

impl PriceTable {
    /// The bundled table.
    pub fn bundled() -> &'static PriceTable {
        &BUNDLED
    }

    fn insert(&mut self, family: &str, pattern: &str, price: Price) {
        let f = self.families.entry(family.to_owned()).or_default();
        if pattern.contains('*') {
            f.patterns.push((pattern.to_owned(), price));
            f.patterns
                .sort_by_key(|(p, _)| std::cmp::Reverse(p.len() - p.matches('*').count()));
        } else {
            f.exact.insert(pattern.to_owned(), price);
        }
    }

    /// The family a provider type is priced under.
    pub fn family(kind: ProviderKind) -> &'static str {
        match kind {
            ProviderKind::Openai | ProviderKind::Azure => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini | ProviderKind::Vertex => "gemini",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Cohere => "cohere",
            ProviderKind::Huggingface => "huggingface",
            ProviderKind::Replicate => "replicate",
            ProviderKind::Deepseek => "deepseek",
            ProviderKind::Mistral => "mistral",
            ProviderKind::Groq => "groq",
            ProviderKind::Together => "together",
            ProviderKind::Fireworks => "fireworks",
            ProviderKind::Openrouter => "openrouter",
            ProviderKind::Xai => "xai",
            ProviderKind::Ollama
            | ProviderKind::Vllm
            | ProviderKind::Llamacpp
            | ProviderKind::Lmstudio => "local",
            ProviderKind::OpenaiCompatible => "openai_compatible",
        }
    }

    /// The price of `model` served by a provider of `kind`, if known.
    pub fn lookup(&self, kind: ProviderKind, model: &str) -> Option<Price> {
        self.families.get(Self::family(kind))?.lookup(model)
    }
}

/// The prices in effect: the config's overrides, then the bundled table.
#[derive(Debug, Default)]
pub struct Prices {
    /// Per provider name.
    overrides: HashMap<String, Family>,
}

impl Prices {
    /// The table with `overrides` (from the config) on top.
    pub fn new(overrides: &[RawPrice]) -> Self {
        let mut by_provider: HashMap<String, Family> = HashMap::new();
        for o in overrides {
            let price = Price {
                input: o.input,
                output: o.output,
                cached_input: o.cached_input,
                cache_write: o.cache_write,
                per_request: o.per_request,
            };
            let f = by_provider.entry(o.provider.clone()).or_default();
            if o.model.contains('*') {
                f.patterns.push((o.model.clone(), price));
                f.patterns
                    .sort_by_key(|(p, _)| std::cmp::Reverse(p.len() - p.matches('*').count()));
            } else {
                f.exact.insert(o.model.clone(), price);
            }
        }
        Self {
            overrides: by_provider,
        }
    }

    /// The price of `model` on the provider named `provider`, of `kind`.
    pub fn lookup(&self, provider: &str, kind: ProviderKind, model: &str) -> Option<Price> {
        self.overrides
            .get(provider)
            .and_then(|f| f.lookup(model))
            .or_else(|| PriceTable::bundled().lookup(kind, model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_lookups() {
        let t = PriceTable::bundled();
        assert_eq!(
            t.lookup(ProviderKind::Openai, "gpt-4o-mini").unwrap().input,
            0.15
        );
        assert_eq!(
            t.lookup(ProviderKind::Azure, "gpt-4o").unwrap().output,
            10.0
        );
        assert_eq!(
            t.lookup(ProviderKind::Openai, "gpt-4o-2024-08-06")
                .unwrap()
                .input,
            2.5
        );
        assert_eq!(
            t.lookup(ProviderKind::Anthropic, "claude-sonnet-4-5")
                .unwrap()
                .output,
            15.0
        );
        assert_eq!(
            t.lookup(
                ProviderKind::Bedrock,
                "us.anthropic.claude-3-5-haiku-20241022-v1:0"
            )
            .unwrap()
            .input,
            0.8
        );
        assert_eq!(
            t.lookup(ProviderKind::Ollama, "llama3.2").unwrap().input,
            0.0
        );
        assert!(t.lookup(ProviderKind::Openai, "mock-gpt").is_none());
    }

    #[test]
    fn overrides_win_per_provider() {
        let p = Prices::new(&[RawPrice {
            provider: "mine".into(),
            model: "gpt-4o*".into(),
            input: 1.0,
            output: 2.0,
            cached_input: None,
            cache_write: None,
            per_request: None,
        }]);
        let k = ProviderKind::Openai;
        assert_eq!(p.lookup("mine", k, "gpt-4o-mini").unwrap().input, 1.0);
        assert_eq!(p.lookup("other", k, "gpt-4o-mini").unwrap().input, 0.15);
        assert!(p.lookup("mine", k, "unknown").is_none());
    }

    #[test]
    fn cached_tokens_are_cheaper() {
        let p = PriceTable::bundled()
            .lookup(ProviderKind::Anthropic, "claude-sonnet-4-5")
            .unwrap();
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 1_000_000,
            cached_read_tokens: 500_000,
            cached_write_tokens: 100_000,
            ..Usage::default()
        };
        // 400k plain * 3 + 500k read * 0.3 + 100k write * 3.75 + 1M out * 15
        let expected = 1.2 + 0.15 + 0.375 + 15.0;
        assert!((p.cost(&u) - expected).abs() < 1e-9, "{}", p.cost(&u));
    }

    #[test]
    fn every_provider_has_a_priced_model_and_cached_rates_apply() {
        use ProviderKind as K;
        let t = PriceTable::bundled();
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 1_000_000,
            cached_read_tokens: 200_000,
            ..Usage::default()
        };
        // (kind, model, cost of `u` in USD)
        let cases: &[(K, &str, f64)] = &[
            // OpenAI: 800k * 1.25 + 200k * 0.125 + 1M * 10
            (K::Openai, "gpt-5", 1.0 + 0.025 + 10.0),
            (K::Azure, "gpt-5", 1.0 + 0.025 + 10.0),
            // Anthropic: 800k * 5 + 200k * 0.5 + 1M * 25
            (K::Anthropic, "claude-opus-4-5-20251101", 4.0 + 0.1 + 25.0),
            (K::Gemini, "gemini-2.5-pro", 1.0 + 0.062 + 10.0),
            (K::Vertex, "gemini-2.5-pro", 1.0 + 0.062 + 10.0),
            (
                K::Bedrock,
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
                2.4 + 0.06 + 15.0,
            ),
            // No cached rate: cached tokens cost the input rate.
            (K::Cohere, "command-a-03-2025", 2.5 + 10.0),
            (K::Mistral, "mistral-large-latest", 2.0 + 6.0),
            (K::Deepseek, "deepseek-chat", 0.216 + 0.014 + 1.1),
            (K::Groq, "llama-3.3-70b-versatile", 0.59 + 0.79),
            (
                K::Together,
                "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                0.18 + 0.18,
            ),
            (
                K::Fireworks,
                "accounts/fireworks/models/llama-v3p1-8b-instruct",
                0.2 + 0.2,
            ),
            (K::Xai, "grok-4", 2.4 + 0.15 + 15.0),
            (K::Replicate, "meta/meta-llama-3-8b-instruct", 0.05 + 0.25),
            (K::Ollama, "llama3.2", 0.0),
        ];
        for (kind, model, want) in cases {
            let p = t
                .lookup(*kind, model)
                .unwrap_or_else(|| panic!("{kind:?} {model} has a price"));
            let got = p.cost(&u);
            assert!(
                (got - want).abs() < 1e-9,
                "{kind:?} {model}: {got} != {want}"
            );
        }
    }
}
