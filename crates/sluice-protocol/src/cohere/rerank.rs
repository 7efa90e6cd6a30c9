//! The gateway's rerank surface (`POST /v1/rerank`, in Cohere's shape) and
//! its translation to Cohere's `POST /v2/rerank`.
//!
//! Clients send `model`, `query`, `documents` (strings, or objects with a
//! `text` field), `top_n`, `return_documents` and `max_tokens_per_doc`. Cohere
//! v2 ranks plain strings and does not echo documents, so Sluice sends each
//! document's text and, when `return_documents` is true, fills each result's
//! `document` from the request (`{"text": ...}` for a string, the object as
//! sent otherwise). Fields of the v1 API that v2 dropped (`rank_fields`,
//! `max_chunks_per_doc`) and unknown fields are refused with a 400 rather
//! than ignored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::embed::{Meta, meta_usage};
use crate::translate::unsupported;
use crate::{Error, Usage};

/// The gateway's rerank request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerankRequest {
    pub model: String,
    pub query: String,
    pub documents: Vec<Document>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Value>,
    /// v1 only; refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_fields: Option<Value>,
    /// v1 only; refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chunks_per_doc: Option<Value>,
}

/// A document to rank: a string, or an object with a `text` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Document {
    Text(String),
    Object(Map<String, Value>),
}

impl Document {
    /// The text to rank.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            Self::Object(o) => o.get("text").and_then(Value::as_str),
        }
    }

    /// The document as a result's `document` field.
    pub fn echo(&self) -> Value {
        match self {
            Self::Text(t) => json!({"text": t}),
            Self::Object(o) => Value::Object(o.clone()),
        }
    }
}

/// `POST /v2/rerank` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohereRerankRequest {
    pub model: String,
    pub query: String,
    pub documents: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Value>,
}

/// A rerank response: Cohere's, and the gateway's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub results: Vec<RerankResult>,
    /// Passed through as Cohere sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

impl RerankResponse {
    /// Sluice's usage: billed search units as prompt tokens.
    pub fn usage(&self) -> Option<Usage> {
        let meta: Meta = serde_json::from_value(self.meta.clone()?).ok()?;
        meta_usage(Some(&meta))
    }
}

/// One ranked document, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// Position of the document in the request's `documents`.
    pub index: usize,
    pub relevance_score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

/// Parses the gateway's rerank request body.
pub fn parse_request(body: &[u8]) -> Result<RerankRequest, Error> {
    serde_json::from_slice(body).map_err(|e| Error::invalid(format!("invalid rerank request: {e}")))
}

/// Translates a rerank request for Cohere v2.
pub fn to_cohere_rerank(
    req: &RerankRequest,
    upstream_model: &str,
) -> Result<CohereRerankRequest, Error> {
    if req.rank_fields.is_some() {
        return Err(unsupported(
            "Cohere v2 rerank",
            "rank_fields",
            "it ranks plain text; put the text to rank in each document's `text`",
        ));
    }
    if req.max_chunks_per_doc.is_some() {
        return Err(unsupported(
            "Cohere v2 rerank",
            "max_chunks_per_doc",
            "use `max_tokens_per_doc`",
        ));
    }
    if req.query.trim().is_empty() {
        return Err(Error::invalid("`query` must not be empty").with_param("query"));
    }
    let documents = req
        .documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            d.text().map(str::to_owned).ok_or_else(|| {
                Error::invalid(format!(
                    "document {i} must be a string or an object with a string `text` field"
                ))
                .with_param("documents")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if documents.is_empty() {
        return Err(Error::invalid("`documents` must not be empty").with_param("documents"));
    }
    Ok(CohereRerankRequest {
        model: upstream_model.to_owned(),
        query: req.query.clone(),
        documents,
        top_n: req.top_n,
        max_tokens_per_doc: req.max_tokens_per_doc,
        priority: req.priority.clone(),
    })
}

/// The gateway's answer for Cohere's: documents are filled in from the
/// request when asked for, and left out otherwise.
pub fn from_cohere_rerank(mut resp: RerankResponse, req: &RerankRequest) -> RerankResponse {
    let echo = req.return_documents == Some(true);
    for r in &mut resp.results {
        r.document = if echo {
            req.documents.get(r.index).map(Document::echo)
        } else {
            None
        };
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let req = parse_request(
            br#"{"model": "rerank", "query": "capital of the US?", "top_n": 2, "return_documents": true,
                "documents": ["Carson City is the capital city of Nevada.",
                              {"text": "Washington, D.C. is the capital of the United States.", "id": "dc"}]}"#,
        )
        .unwrap();
        let co = to_cohere_rerank(&req, "rerank-v3.5").unwrap();
        assert_eq!(
            serde_json::to_value(&co).unwrap(),
            json!({"model": "rerank-v3.5", "query": "capital of the US?", "top_n": 2,
                "documents": ["Carson City is the capital city of Nevada.",
                              "Washington, D.C. is the capital of the United States."]})
        );
        let resp: RerankResponse = serde_json::from_value(json!({"id": "07734bd2",
            "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}}))
        .unwrap();
        let out = from_cohere_rerank(resp.clone(), &req);
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(
            v["results"][0]["document"],
            json!({"text": "Washington, D.C. is the capital of the United States.", "id": "dc"})
        );
        assert_eq!(
            v["results"][1]["document"],
            json!({"text": "Carson City is the capital city of Nevada."})
        );
        assert_eq!(v["meta"]["billed_units"]["search_units"], 1);
        assert_eq!(resp.usage().unwrap().prompt_tokens, 1);
        let mut plain = req.clone();
        plain.return_documents = None;
        let out = from_cohere_rerank(resp, &plain);
        assert!(out.results.iter().all(|r| r.document.is_none()));
    }

    #[test]
    fn refusals_are_400s() {
        for (body, param) in [
            (
                &br#"{"model":"m","query":"q","documents":["a"],"rank_fields":["title"]}"#[..],
                Some("rank_fields"),
            ),
            (
                br#"{"model":"m","query":"q","documents":["a"],"max_chunks_per_doc":3}"#,
                Some("max_chunks_per_doc"),
            ),
            (
                br#"{"model":"m","query":"q","documents":[{"title":"no text"}]}"#,
                Some("documents"),
            ),
            (
                br#"{"model":"m","query":"q","documents":[]}"#,
                Some("documents"),
            ),
            (
                br#"{"model":"m","query":" ","documents":["a"]}"#,
                Some("query"),
            ),
        ] {
            let e = parse_request(body)
                .and_then(|r| to_cohere_rerank(&r, "m"))
                .unwrap_err();
            assert_eq!(e.status(), 400);
            assert_eq!(e.param(), param);
        }
        let e =
            parse_request(br#"{"model":"m","query":"q","documents":["a"],"bogus":1}"#).unwrap_err();
        assert!(e.message().contains("bogus"), "{}", e.message());
    }
}
