//! Token usage in one provider-neutral shape, with its provenance.
//!
//! Providers report usage in different shapes; each adapter converts its own
//! into [`Usage`]. An explicit zero reported by a provider stays zero: only a
//! response with no usage at all is estimated, and then `source` says so.

use serde::{Deserialize, Serialize};

/// Where a usage figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// Reported by the provider in its response.
    #[default]
    Provider,
    /// Counted by the gateway with a tokenizer because the provider reported none.
    Estimated,
    /// Served from the gateway's cache; no provider tokens were spent.
    Cache,
}

impl UsageSource {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Estimated => "estimated",
            Self::Cache => "cache",
        }
    }
}

/// Token counts for one request. Serialized with a derived `total_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Usage {
    /// Input tokens, including cached ones.
    pub prompt_tokens: u64,
    /// Output tokens, including reasoning ones.
    pub completion_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default)]
    pub cached_read_tokens: u64,
    /// Input tokens written to the provider's prompt cache.
    #[serde(default)]
    pub cached_write_tokens: u64,
    /// Output tokens spent on reasoning.
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// Provenance of these counts.
    #[serde(default)]
    pub source: UsageSource,
}

impl Usage {
    /// Prompt plus completion tokens.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

impl Serialize for Usage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Usage", 7)?;
        st.serialize_field("prompt_tokens", &self.prompt_tokens)?;
        st.serialize_field("completion_tokens", &self.completion_tokens)?;
        st.serialize_field("total_tokens", &self.total_tokens())?;
        st.serialize_field("cached_read_tokens", &self.cached_read_tokens)?;
        st.serialize_field("cached_write_tokens", &self.cached_write_tokens)?;
        st.serialize_field("reasoning_tokens", &self.reasoning_tokens)?;
        st.serialize_field("source", &self.source)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_total_and_reads_back() {
        let u = Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            ..Usage::default()
        };
        let v = serde_json::to_value(u).unwrap();
        assert_eq!(v["total_tokens"], 7);
        assert_eq!(serde_json::from_value::<Usage>(v).unwrap(), u);
    }
}
