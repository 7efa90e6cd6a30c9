//! OpenAI embeddings ⇄ Cohere `POST /v2/embed`.
//!
//! Request: `input` (text or texts) becomes `texts`; `input_type` (which
//! Cohere requires for v3+ models) defaults to `search_document` and can be
//! set through `extra_body`, as can `truncate`; `dimensions` becomes
//! `output_dimension`; Sluice always asks for `float` vectors and encodes
//! them itself when the client wants `encoding_format: base64` (the OpenAI
//! SDKs' default). Token-id inputs cannot be sent to Cohere and are refused.
//!
//! Response: `embeddings.float` (or the older flat `embeddings` list)
//! becomes `data[]`; `meta.billed_units.input_tokens` becomes `usage`.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::wire::{BilledUnits, count};
use crate::openai::embeddings::{
    Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage,
};
use crate::translate::{Translated, unsupported};
use crate::{Error, Usage};

/// `input_type` sent when the client gives none.
pub const DEFAULT_INPUT_TYPE: &str = "search_document";

/// `POST /v2/embed` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedRequest {
    pub model: String,
    pub texts: Vec<String>,
    /// `search_document`, `search_query`, `classification`, `clustering`, `image`.
    pub input_type: String,
    pub embedding_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_dimension: Option<u32>,
    /// `NONE`, `START` or `END`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v2/embed` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    #[serde(default)]
    pub id: Option<String>,
    pub embeddings: Embeddings,
    #[serde(default)]
    pub meta: Option<Meta>,
}

/// `embeddings`: by type (`{"float": [[...]]}`), or a flat float list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Embeddings {
    ByType {
        #[serde(default)]
        float: Option<Vec<Vec<f32>>>,
    },
    Floats(Vec<Vec<f32>>),
}

/// `meta` of an embed or rerank response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_units: Option<BilledUnits>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Whether the client asked for base64 vectors.
pub fn wants_base64(req: &EmbeddingsRequest) -> Result<bool, Error> {
    match req.encoding_format.as_deref() {
        None | Some("float") => Ok(false),
        Some("base64") => Ok(true),
        Some(other) => Err(Error::invalid(format!(
            "`encoding_format` must be `float` or `base64`, got `{other}`"
        ))
        .with_param("encoding_format")),
    }
}

/// Translates an OpenAI embeddings request for Cohere.
pub fn to_cohere_embed(
    req: &EmbeddingsRequest,
    upstream_model: &str,
) -> Result<Translated<EmbedRequest>, Error> {
    wants_base64(req)?;
    let texts = req.input.texts().ok_or_else(|| {
        unsupported(
            "Cohere",
            "input",
            "Cohere embeds texts, not token ids; send the text",
        )
    })?;
    let mut out = EmbedRequest {
        model: upstream_model.to_owned(),
        texts: texts.into_iter().map(str::to_owned).collect(),
        input_type: DEFAULT_INPUT_TYPE.to_owned(),
        embedding_types: vec!["float".to_owned()],
        output_dimension: req.dimensions,
        truncate: None,
        extra: Map::new(),
    };
    let mut dropped = Vec::new();
    for (k, v) in &req.extra {
        match (k.as_str(), v) {
            ("input_type", Value::String(t)) => out.input_type.clone_from(t),
            ("truncate", Value::String(t)) => out.truncate = Some(t.clone()),
            ("embedding_types", Value::Array(types)) if types == &[json!("float")] => {}
            ("embedding_types", _) => {
                return Err(unsupported(
                    "Cohere",
                    "embedding_types",
                    "the OpenAI embeddings surface returns float vectors (or their base64 form) only",
                ));
            }
            ("input_type" | "truncate", _) => {
                return Err(Error::invalid(format!("`{k}` must be a string")).with_param(k));
            }
            ("priority", _) => {
                out.extra.insert(k.clone(), v.clone());
            }
            _ => dropped.push(k.clone()),
        }
    }
    if req.user.is_some() {
        dropped.push("user".to_owned());
    }
    Ok(Translated {
        value: out,
        dropped,
    })
}

/// Sluice's usage for an embed or rerank `meta`: billed input tokens, or
/// (rerank) search units, as prompt tokens. `None` when Cohere sent none.
pub fn meta_usage(meta: Option<&Meta>) -> Option<Usage> {
    let b = meta?.billed_units.as_ref()?;
    let units = b.input_tokens.as_ref().or(b.search_units.as_ref())?;
    Some(Usage {
        prompt_tokens: count(Some(units)),
        ..Usage::default()
    })
}

/// Translates a Cohere embed response into OpenAI's shape.
pub fn from_cohere_embed(
    resp: EmbedResponse,
    model: &str,
    base64: bool,
) -> Result<EmbeddingsResponse, Error> {
    let vectors = match resp.embeddings {
        Embeddings::ByType { float: Some(v) } | Embeddings::Floats(v) => v,
        Embeddings::ByType { float: None } => {
            return Err(Error::new(
                crate::ErrorKind::UpstreamProtocol,
                "Cohere sent no float embeddings",
            ));
        }
    };
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| Embedding {
            object: "embedding".to_owned(),
            index: u32::try_from(i).unwrap_or(u32::MAX),
            embedding: if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            },
        })
        .collect();
    let tokens = meta_usage(resp.meta.as_ref()).map_or(0, |u| u.prompt_tokens);
    Ok(EmbeddingsResponse {
        object: "list".to_owned(),
        data,
        model: model.to_owned(),
        usage: EmbeddingsUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::embeddings::EmbeddingInput;

    fn req(v: Value) -> EmbeddingsRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn request_defaults_and_overrides() {
        let t = to_cohere_embed(
            &req(json!({"model": "e", "input": "hello", "dimensions": 256, "user": "u"})),
            "embed-v4.0",
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&t.value).unwrap(),
            json!({"model": "embed-v4.0", "texts": ["hello"], "input_type": "search_document",
                "embedding_types": ["float"], "output_dimension": 256})
        );
        assert_eq!(t.dropped, ["user"]);
        let t = to_cohere_embed(
            &req(json!({"model": "e", "input": ["a", "b"], "input_type": "search_query", "truncate": "END", "encoding_format": "base64"})),
            "m",
        )
        .unwrap();
        assert_eq!(t.value.input_type, "search_query");
        assert_eq!(t.value.truncate.as_deref(), Some("END"));
        assert_eq!(t.value.texts, ["a", "b"]);
    }

    #[test]
    fn refusals() {
        let tokens = EmbeddingsRequest {
            model: "e".into(),
            input: EmbeddingInput::Tokens(vec![1, 2]),
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Map::new(),
        };
        assert_eq!(
            to_cohere_embed(&tokens, "m").unwrap_err().param(),
            Some("input")
        );
        let e = to_cohere_embed(
            &req(json!({"model": "e", "input": "x", "embedding_types": ["int8"]})),
            "m",
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        let e = to_cohere_embed(
            &req(json!({"model": "e", "input": "x", "encoding_format": "hex"})),
            "m",
        )
        .unwrap_err();
        assert_eq!(e.param(), Some("encoding_format"));
    }

    #[test]
    fn response_from_documented_example() {
        let body = json!({"id": "da6e531f", "embeddings": {"float": [[0.5, -0.25], [1.0, 0.0]]},
            "texts": ["one", "two"], "response_type": "embeddings_by_type",
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 9}}});
        let resp: EmbedResponse = serde_json::from_value(body.clone()).unwrap();
        let oa = from_cohere_embed(resp, "embed-v4.0", false).unwrap();
        assert_eq!(oa.data.len(), 2);
        assert_eq!(oa.data[1].index, 1);
        assert_eq!(oa.data[0].embedding, json!([0.5, -0.25]));
        assert_eq!((oa.usage.prompt_tokens, oa.usage.total_tokens), (9, 9));
        assert_eq!(oa.model, "embed-v4.0");

        let resp: EmbedResponse = serde_json::from_value(body).unwrap();
        let oa = from_cohere_embed(resp, "m", true).unwrap();
        let b64 = oa.data[0].embedding.as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(floats, [0.5, -0.25]);

        // The older flat shape, and no meta: zero usage, not an error.
        let flat: EmbedResponse = serde_json::from_value(
            json!({"embeddings": [[1.0]], "response_type": "embeddings_floats"}),
        )
        .unwrap();
        let oa = from_cohere_embed(flat, "m", false).unwrap();
        assert_eq!(oa.usage.prompt_tokens, 0);
    }
}
