//! The semantic cache: finds a stored answer to a question worded
//! differently.
//!
//! On an exact miss, the prompt's text (the last user turn, or the whole
//! conversation) is embedded through `cache.semantic.embedding_model`, a
//! model Sluice routes like any other (the call gets its own ledger
//! record). The vector is compared (cosine) with those of earlier answers
//! in the same partition: same tenant scope, surface, model and every
//! request field but the conversation (see [`super::key`]). The best score
//! at or above the threshold names the exact key of the answer to serve.
//! After a miss is stored, its vector joins the index.
//!
//! The index is in memory, linear-scanned (fine for the default 10,000
//! entries), oldest dropped first, and saved to a JSON file half a second
//! after a change (off the request path), so it survives a restart.

mod index;

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use sluice_protocol::Error;
use sluice_protocol::openai::request::parse_embeddings;

use crate::config::cache::{SemanticConfig, SemanticInput};
use crate::exec::{self, Job};
use crate::ledger::Ledger;
use crate::provider::{ChatInput, EmbedInput};
use crate::record::RecordHandle;

pub use index::Index;

/// The text the semantic cache embeds, or `None` when there is none.
pub fn text_of(input: &ChatInput, what: SemanticInput) -> Option<String> {
    let v: Value = serde_json::from_slice(input.raw().object.body()).ok()?;
    let messages = v.get("messages")?.as_array()?;
    let text = |m: &Value| -> String {
        match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    };
    let out = match what {
        SemanticInput::LastUser => messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .map(text)?,
        SemanticInput::Conversation => messages
            .iter()
            .map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                format!("{role}: {}", text(m))
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    (!out.trim().is_empty()).then_some(out)
}

/// Embeds `text` with the configured model, routed by Sluice.
pub async fn embed(
    job: &Job<'_>,
    cfg: &SemanticConfig,
    ledger: &Ledger,
    text: &str,
) -> Result<Vec<f32>, Error> {
    let record = RecordHandle::start(ledger.clone(), "POST", "/v1/embeddings");
    let (identity, route) = job
        .record
        .read(|r| (r.identity.clone(), r.meta.route.clone()));
    record.update(|r| {
        r.identity = identity;
        r.meta.route = route;
        r.meta.endpoint = "embeddings".to_owned();
        r.meta.request_model = Some(cfg.embedding_model.clone());
        r.route_reason = Some("semantic_cache".to_owned());
    });
    let body = serde_json::to_vec(&json!({"model": cfg.embedding_model, "input": text}))
        .map_err(|e| Error::internal(format!("cannot encode a request: {e}")))?;
    let input = EmbedInput {
        parsed: parse_embeddings(Bytes::from(body))?,
    };
    let sub = Job {
        rt: job.rt,
        ctx: job.ctx,
        record: &record,
        model: &cfg.embedding_model,
        prompt_tokens: &|| 0,
    };
    let answer = match exec::embeddings(&sub, &input).await {
        Ok(a) => a,
        Err(e) => {
            record.finish_err(&e, false);
            return Err(e);
        }
    };
    record.set_price(answer.price);
    record.update(|r| {
        r.meta.provider_name = Some(answer.provider.name().to_owned());
        r.meta.upstream_model = Some(answer.upstream_model.clone());
        r.usage = answer.value.usage;
    });
    record.finish_ok();
    vector_of(&answer.value.body)
}

fn vector_of(body: &[u8]) -> Result<Vec<f32>, Error> {
    #[derive(serde::Deserialize)]
    struct Resp {
        data: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        embedding: Vec<f32>,
    }
    let r: Resp = serde_json::from_slice(body)
        .map_err(|e| Error::internal(format!("unreadable embeddings answer: {e}")))?;
    r.data
        .into_iter()
        .next()
        .map(|i| i.embedding)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::internal("the embeddings answer has no vector"))
}

/// Loads (or starts) the index of `cfg`.
pub fn open(cfg: &SemanticConfig) -> Arc<Index> {
    Arc::new(Index::load(cfg.path.clone(), cfg.max_entries))
}
