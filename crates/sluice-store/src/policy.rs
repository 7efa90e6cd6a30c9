//! Limits and budgets as stored with keys, consumers and teams, and as
//! written in the config file's `limits:` rules.
//!
//! Plain data: the gateway's admission code interprets it.

use serde::{Deserialize, Serialize};

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Requests,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    /// US dollars, from the price table.
    CostUsd,
}

impl Metric {
    /// The name used in rate-limit headers (`x-ratelimit-*-<name>`).
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::PromptTokens => "prompt-tokens",
            Self::CompletionTokens => "completion-tokens",
            Self::TotalTokens => "tokens",
            Self::CostUsd => "cost",
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::PromptTokens => "prompt_tokens",
            Self::CompletionTokens => "completion_tokens",
            Self::TotalTokens => "total_tokens",
            Self::CostUsd => "cost_usd",
        }
    }
}

/// One limit: at most `limit` of `metric` per `window_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    pub metric: Metric,
    pub limit: f64,
    /// Window length in seconds (1 to 86400).
    pub window_secs: u64,
    /// Sliding (default) or fixed window.
    #[serde(default = "yes")]
    pub sliding: bool,
    /// Only requests for these public models count (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// How often a budget resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }
}

/// What happens when a budget is spent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum OnExhausted {
    /// Refuse the request (429 `insufficient_quota`).
    #[default]
    Refuse,
    /// Serve it with this (cheaper) public model instead.
    Fallback { model: String },
}

/// A spend limit in US dollars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    pub usd: f64,
    pub period: Period,
    /// Fraction (0..1) at which a soft alert fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_at: Option<f64>,
    #[serde(default)]
    pub on_exhausted: OnExhausted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip() {
        let l: LimitSpec =
            serde_json::from_str(r#"{"metric":"total_tokens","limit":1000,"window_secs":60}"#)
                .unwrap();
        assert!(l.sliding);
        let b: BudgetSpec = serde_json::from_str(
            r#"{"usd":5,"period":"monthly","on_exhausted":{"action":"fallback","model":"cheap"}}"#,
        )
        .unwrap();
        assert_eq!(
            b.on_exhausted,
            OnExhausted::Fallback {
                model: "cheap".into()
            }
        );
        let b: BudgetSpec = serde_json::from_str(r#"{"usd":5,"period":"daily"}"#).unwrap();
        assert_eq!(b.on_exhausted, OnExhausted::Refuse);
    }
}
