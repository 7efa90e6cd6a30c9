//! Cohere `POST /v2/embed` and `POST /v2/rerank`.
//!
//! Embed requires `model`, `texts`, `input_type` and `embedding_types` (as
//! v2 does) and answers `embeddings_by_type` with the mock's deterministic
//! vectors. Rerank scores each document by the similarity of its mock
//! embedding to the query's, best first, and bills one search unit per 100
//! documents.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::bad_request;
use crate::Ctx;
use crate::stream::Guard;
use crate::text;

const EMBED_FIELDS: &[&str] = &[
    "model",
    "texts",
    "images",
    "inputs",
    "input_type",
    "embedding_types",
    "output_dimension",
    "max_tokens",
    "truncate",
    "priority",
];

const RERANK_FIELDS: &[&str] = &[
    "model",
    "query",
    "documents",
    "top_n",
    "max_tokens_per_doc",
    "priority",
];

fn unknown_field(body: &Value, known: &[&str]) -> Option<String> {
    let obj = body.as_object()?;
    obj.keys()
        .find(|k| !known.contains(&k.as_str()))
        .map(|k| format!("invalid request: unknown field `{k}` (mock)"))
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// `POST /v2/embed`.
pub fn embed(cx: Ctx, body: &Value) -> Response {
    if let Some(msg) = unknown_field(body, EMBED_FIELDS) {
        return bad_request(&msg);
    }
    if !body.get("model").is_some_and(Value::is_string) {
        return bad_request("a model parameter is required for this endpoint.");
    }
    let Some(texts) = strings(body.get("texts")) else {
        return bad_request("invalid request: texts must be a list of strings (mock)");
    };
    if body.get("input_type").and_then(Value::as_str).is_none() {
        return bad_request(
            "invalid request: valid input_type must be provided with the provided model",
        );
    }
    let Some(types) = strings(body.get("embedding_types")) else {
        return bad_request("embedding_types parameter is required");
    };
    if types.iter().any(|t| t != "float") {
        return bad_request("invalid request: the mock only produces float embeddings (mock)");
    }
    let dims = body
        .get("output_dimension")
        .and_then(Value::as_u64)
        .map_or(64, |d| usize::try_from(d).unwrap_or(64));
    let vectors: Vec<Vec<f32>> = texts.iter().map(|t| text::embedding(t, dims)).collect();
    let tokens: u64 = texts.iter().map(|t| text::tokens(t)).sum();
    let billed = json!({"input_tokens": tokens});
    cx.state.set_usage(cx.seq, billed.clone());
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    guard.complete();
    Json(json!({
        "id": format!("e0mock-{:04}", cx.seq),
        "embeddings": {"float": vectors},
        "texts": texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": billed},
        "response_type": "embeddings_by_type",
    }))
    .into_response()
}

/// `POST /v2/rerank`.
pub fn rerank(cx: Ctx, body: &Value) -> Response {
    if let Some(msg) = unknown_field(body, RERANK_FIELDS) {
        return bad_request(&msg);
    }
    if !body.get("model").is_some_and(Value::is_string) {
        return bad_request("a model parameter is required for this endpoint.");
    }
    let query = body.get("query").and_then(Value::as_str).unwrap_or("");
    if query.trim().is_empty() {
        return bad_request("invalid request: query must not be empty or be only whitespace");
    }
    let Some(docs) = strings(body.get("documents")) else {
        return bad_request("invalid request: documents must be a list of strings (mock)");
    };
    if docs.is_empty() {
        return bad_request("invalid request: list of documents must not be empty");
    }
    let q = text::embedding(query, 256);
    let mut results: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = text::embedding(d, 256);
            let dot: f32 = q.iter().zip(&v).map(|(a, b)| a * b).sum();
            (i, (f64::from(dot) * 1e6).round() / 1e6)
        })
        .collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(n) = body.get("top_n").and_then(Value::as_u64) {
        results.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let billed = json!({"search_units": docs.len().div_ceil(100)});
    cx.state.set_usage(cx.seq, billed.clone());
    let mut guard = Guard::new(cx.state.clone(), cx.seq);
    guard.complete();
    let results: Vec<Value> = results
        .into_iter()
        .map(|(index, score)| json!({"index": index, "relevance_score": score}))
        .collect();
    Json(json!({
        "id": format!("r0mock-{:04}", cx.seq),
        "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": billed},
    }))
    .into_response()
}
