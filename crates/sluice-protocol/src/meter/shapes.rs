//! The usage shapes of every supported provider, read from JSON objects
//! (whole responses, SSE data payloads, event-stream payloads).
//!
//! Streams report usage in pieces: Anthropic puts input tokens in
//! `message_start` and the final output count in `message_delta`; Gemini
//! repeats cumulative counts on every chunk. So raw fields are accumulated,
//! the latest value of each winning, and converted once at the end with the
//! conversions the translating adapters use (`From<wire usage> for Usage`),
//! so a pass-through record counts tokens exactly like the chat endpoint.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Number, Value};

use crate::{Usage, UsageSource, anthropic, bedrock, cohere, gemini, openai};

/// Accumulates the model, usage and in-band errors of one response.
#[derive(Debug, Default)]
pub struct Meter {
    model: Option<String>,
    acc: Acc,
    error: Option<String>,
    events: u64,
}

/// Raw usage fields seen so far, by shape.
#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    // OpenAI chat completions and embeddings.
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    // OpenAI `*_tokens_details` (chat and Responses).
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
    // Anthropic Messages and OpenAI Responses.
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    /// `total_tokens` or `*_tokens_details` next to `input_tokens`: the
    /// Responses API, whose input count includes cached tokens.
    responses: bool,
    // Bedrock Converse.
    bedrock_input: Option<u64>,
    bedrock_output: Option<u64>,
    bedrock_cache_read: Option<u64>,
    bedrock_cache_write: Option<u64>,
    // Cohere: `billed_units` and `tokens`.
    billed_input: Option<u64>,
    billed_output: Option<u64>,
    billed_search: Option<u64>,
    tokens_input: Option<u64>,
    tokens_output: Option<u64>,
    // Gemini `usageMetadata`.
    gemini: Option<gemini::wire::UsageMetadata>,
    // Replicate `metrics`, Bedrock `amazon-bedrock-invocationMetrics` and
    // Titan `inputTextTokenCount`.
    metrics_input: Option<u64>,
    metrics_output: Option<u64>,
}

/// The top-level fields that may carry a model, usage or an error.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "modelVersion")]
    model_version: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "usageMetadata")]
    usage_metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    meta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metrics: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "amazon-bedrock-invocationMetrics")]
    invocation_metrics: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    /// Bedrock Titan (InvokeModel): the prompt's tokens.
    #[serde(default, rename = "inputTextTokenCount")]
    input_text_token_count: Option<u64>,
}

/// Nested objects (`message`, `response`) are read this deep at most.
const MAX_DEPTH: u8 = 2;

impl Meter {
    /// The model the response named first.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// An error reported inside the response.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Events counted so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Counts one event (for estimates when no usage is reported).
    pub fn count_event(&mut self) {
        self.events += 1;
    }

    /// Records an in-band error (the first one wins).
    pub fn set_error(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    /// Reads one SSE data payload. Payloads that cannot carry anything of
    /// interest are skipped without parsing.
    pub fn observe_sse(&mut self, data: &[u8]) {
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return;
        }
        self.count_event();
        if self.interesting(data) {
            self.observe_bytes(data);
        }
    }

    /// Reads one JSON document: an object, or an array of objects (Gemini's
    /// `streamGenerateContent` without `alt=sse`). Anything else is ignored.
    pub fn observe_bytes(&mut self, data: &[u8]) {
        self.observe_at(data, 0);
    }

    fn observe_at(&mut self, data: &[u8], depth: u8) {
        match data.trim_ascii_start().first() {
            Some(b'{') => {
                if let Ok(top) = serde_json::from_slice::<Top<'_>>(data) {
                    self.observe_top(&top, depth);
                }
            }
            Some(b'[') if depth == 0 => {
                if let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(data) {
                    for item in items {
                        self.observe_at(item.get().as_bytes(), depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    fn observe_top(&mut self, top: &Top<'_>, depth: u8) {
        if self.model.is_none() {
            self.model = top
                .model
                .or(top.model_version)
                .and_then(|m| serde_json::from_str::<String>(m.get()).ok())
                .filter(|m| !m.is_empty());
        }
        if let Some(u) = top.usage.and_then(object) {
            self.acc.usage(&u);
        }
        if let Some(u) = top.usage_metadata
            && let Ok(m) = serde_json::from_str::<gemini::wire::UsageMetadata>(u.get())
        {
            self.acc.gemini = Some(m);
        }
        if let Some(d) = top.delta.and_then(object)
            && let Some(u) = d.get("usage").and_then(Value::as_object)
        {
            // Cohere v2 `message-end`.
            self.acc.usage(u);
        }
        if let Some(m) = top.meta.and_then(object) {
            // Cohere v1 chat, and embed / rerank in both versions.
            if let Some(b) = m.get("billed_units").and_then(Value::as_object) {
                self.acc.billed(b);
            }
            if let Some(t) = m.get("tokens").and_then(Value::as_object) {
                self.acc.tokens_input = count(t.get("input_tokens")).or(self.acc.tokens_input);
                self.acc.tokens_output = count(t.get("output_tokens")).or(self.acc.tokens_output);
            }
        }
        for m in [top.metrics, top.invocation_metrics]
            .into_iter()
            .flatten()
            .filter_map(object)
        {
            let get = |a: &str, b: &str| count(m.get(a)).or_else(|| count(m.get(b)));
            if let Some(i) = get("input_token_count", "inputTokenCount") {
                self.acc.metrics_input = Some(i);
            }
            if let Some(o) = get("output_token_count", "outputTokenCount") {
                self.acc.metrics_output = Some(o);
            }
        }
        if let Some(n) = top.input_text_token_count {
            self.acc.metrics_input = Some(n);
        }
        if let Some(e) = top.error.and_then(object) {
            let msg = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the upstream reported an error");
            self.set_error(crate::error::scrub_secrets(msg).into_owned());
        }
        if depth < MAX_DEPTH {
            // Anthropic `message_start` and the Responses API's events nest
            // the response (model and usage) one level down.
            for nested in [top.message, top.response].into_iter().flatten() {
                self.observe_at(nested.get().as_bytes(), depth + 1);
            }
        }
    }

    /// Usage in Sluice's shape, from the most specific shape seen.
    pub fn usage(&self) -> Option<Usage> {
        self.acc.usage_now()
    }

    /// Whether an SSE payload can carry a model, usage or an error.
    fn interesting(&self, data: &[u8]) -> bool {
        let has = |needle: &[u8]| memchr::memmem::find(data, needle).is_some();
        (self.model.is_none() && (has(b"\"model\"") || has(b"\"modelVersion\"")))
            || object_follows(data, b"\"usage\"")
            || object_follows(data, b"\"metrics\"")
            || has(b"\"usageMetadata\"")
            || has(b"\"billed_units\"")
            || has(b"invocationMetrics")
            || has(b"inputTextTokenCount")
            || object_follows(data, b"\"error\"")
    }
}

/// Whether `key` occurs in `data` followed by `:` and an object.
fn object_follows(data: &[u8], key: &[u8]) -> bool {
    memchr::memmem::find_iter(data, key).any(|at| {
        let rest = data[at + key.len()..].trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|r| r.trim_ascii_start().first() == Some(&b'{'))
    })
}

/// A raw value as an object, if it is one.
fn object(raw: &RawValue) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_str::<Value>(raw.get())
        .ok()
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
}

/// A count: an integer, or a non-negative float rounded (Cohere's units).
fn count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        }),
        _ => None,
    }
}

fn number(v: Option<u64>) -> Option<Number> {
    v.map(Number::from)
}

impl Acc {
    /// Reads a `usage` object of any of the supported shapes.
    fn usage(&mut self, u: &serde_json::Map<String, Value>) {
        let set = |slot: &mut Option<u64>, key: &str| {
            if let Some(v) = count(u.get(key)) {
                *slot = Some(v);
            }
        };
        set(&mut self.prompt_tokens, "prompt_tokens");
        set(&mut self.completion_tokens, "completion_tokens");
        set(&mut self.input_tokens, "input_tokens");
        set(&mut self.output_tokens, "output_tokens");
        set(&mut self.cache_read_input_tokens, "cache_read_input_tokens");
        set(
            &mut self.cache_creation_input_tokens,
            "cache_creation_input_tokens",
        );
        set(&mut self.bedrock_input, "inputTokens");
        set(&mut self.bedrock_output, "outputTokens");
        set(&mut self.bedrock_cache_read, "cacheReadInputTokens");
        set(&mut self.bedrock_cache_write, "cacheWriteInputTokens");
        let detail = |key: &str, field: &str| {
            u.get(key)
                .and_then(Value::as_object)
                .and_then(|d| count(d.get(field)))
        };
        if let Some(c) = detail("prompt_tokens_details", "cached_tokens")
            .or(detail("input_tokens_details", "cached_tokens"))
        {
            self.cached_tokens = Some(c);
        }
        if let Some(r) = detail("completion_tokens_details", "reasoning_tokens")
            .or(detail("output_tokens_details", "reasoning_tokens"))
        {
            self.reasoning_tokens = Some(r);
        }
        if u.contains_key("input_tokens")
            && (u.contains_key("total_tokens")
                || u.contains_key("input_tokens_details")
                || u.contains_key("output_tokens_details"))
        {
            self.responses = true;
        }
        if let Some(b) = u.get("billed_units").and_then(Value::as_object) {
            self.billed(b);
        }
        if let Some(t) = u.get("tokens").and_then(Value::as_object) {
            self.tokens_input = count(t.get("input_tokens")).or(self.tokens_input);
            self.tokens_output = count(t.get("output_tokens")).or(self.tokens_output);
        }
    }

    fn billed(&mut self, b: &serde_json::Map<String, Value>) {
        self.billed_input = count(b.get("input_tokens")).or(self.billed_input);
        self.billed_output = count(b.get("output_tokens")).or(self.billed_output);
        self.billed_search = count(b.get("search_units")).or(self.billed_search);
    }

    fn usage_now(&self) -> Option<Usage> {
        let usage = if self.prompt_tokens.is_some() || self.completion_tokens.is_some() {
            Usage::from(openai::chat::WireUsage {
                prompt_tokens: self.prompt_tokens.unwrap_or(0),
                completion_tokens: self.completion_tokens.unwrap_or(0),
                total_tokens: 0,
                prompt_tokens_details: Some(openai::chat::PromptTokensDetails {
                    cached_tokens: self.cached_tokens.unwrap_or(0),
                }),
                completion_tokens_details: Some(openai::chat::CompletionTokensDetails {
                    reasoning_tokens: self.reasoning_tokens.unwrap_or(0),
                }),
            })
        } else if self.bedrock_input.is_some() || self.bedrock_output.is_some() {
            Usage::from(bedrock::wire::Usage {
                input_tokens: self.bedrock_input.unwrap_or(0),
                output_tokens: self.bedrock_output.unwrap_or(0),
                total_tokens: 0,
                cache_read_input_tokens: self.bedrock_cache_read,
                cache_write_input_tokens: self.bedrock_cache_write,
            })
        } else if self.input_tokens.is_some() || self.output_tokens.is_some() {
            if self.responses {
                Usage {
                    prompt_tokens: self.input_tokens.unwrap_or(0),
                    completion_tokens: self.output_tokens.unwrap_or(0),
                    cached_read_tokens: self.cached_tokens.unwrap_or(0),
                    reasoning_tokens: self.reasoning_tokens.unwrap_or(0),
                    ..Usage::default()
                }
            } else {
                Usage::from(anthropic::wire::Usage {
                    input_tokens: self.input_tokens.unwrap_or(0),
                    output_tokens: self.output_tokens.unwrap_or(0),
                    cache_creation_input_tokens: self.cache_creation_input_tokens,
                    cache_read_input_tokens: self.cache_read_input_tokens,
                })
            }
        } else if let Some(u) = self.cohere() {
            u
        } else if let Some(g) = self.gemini {
            Usage::from(g)
        } else if self.metrics_input.is_some() || self.metrics_output.is_some() {
            Usage {
                prompt_tokens: self.metrics_input.unwrap_or(0),
                completion_tokens: self.metrics_output.unwrap_or(0),
                ..Usage::default()
            }
        } else {
            return None;
        };
        Some(Usage {
            source: UsageSource::Provider,
            ..usage
        })
    }

    /// Cohere: the tokens the model processed, else billed units (search
    /// units count as prompt tokens for rerank, as on `/v1/rerank`).
    fn cohere(&self) -> Option<Usage> {
        let wire = cohere::wire::Usage {
            billed_units: Some(cohere::wire::BilledUnits {
                input_tokens: number(self.billed_input),
                output_tokens: number(self.billed_output),
                ..Default::default()
            }),
            tokens: Some(cohere::wire::Tokens {
                input_tokens: number(self.tokens_input),
                output_tokens: number(self.tokens_output),
            }),
        };
        wire.to_usage().or_else(|| {
            self.billed_search.map(|s| Usage {
                prompt_tokens: s,
                ..Usage::default()
            })
        })
    }
}
