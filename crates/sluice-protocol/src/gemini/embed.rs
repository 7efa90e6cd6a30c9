//! OpenAI embeddings ⇄ Gemini embeddings: AI Studio's
//! `batchEmbedContents` (one request per input; no token counts in the
//! answer) and Vertex AI's `predict` (one instance per input, with
//! `statistics.token_count`). `dimensions` becomes the output
//! dimensionality; `task_type` and `title` may be passed through the body.
//! The answer is OpenAI's shape, with vectors as floats or, for
//! `encoding_format: base64` (the OpenAI SDK's default), as little-endian
//! `f32` bytes in base64.

use base64::Engine;
use serde_json::{Value, json};

use super::wire::{
    BatchEmbedRequest, BatchEmbedResponse, Content, EmbedContentRequest, Part, PredictInstance,
    PredictParameters, PredictRequest, PredictResponse,
};
use crate::Error;
use crate::openai::embeddings::{
    Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage,
};
use crate::translate::{Translated, unsupported};

/// Whether the client wants base64 vectors; other formats are refused.
pub fn wants_base64(req: &EmbeddingsRequest) -> Result<bool, Error> {
    match req.encoding_format.as_deref() {
        None | Some("float") => Ok(false),
        Some("base64") => Ok(true),
        Some(other) => Err(Error::invalid(format!(
            "`encoding_format` must be `float` or `base64`, not `{other}`"
        ))
        .with_param("encoding_format")),
    }
}

struct Common<'a> {
    texts: Vec<&'a str>,
    task_type: Option<String>,
    title: Option<String>,
    dropped: Vec<String>,
}

fn common(req: &EmbeddingsRequest) -> Result<Common<'_>, Error> {
    let texts = req.input.texts().ok_or_else(|| {
        unsupported(
            "Gemini",
            "input",
            "token arrays cannot be translated; send text",
        )
    })?;
    wants_base64(req)?;
    let mut c = Common {
        texts,
        task_type: None,
        title: None,
        dropped: Vec::new(),
    };
    for (k, v) in &req.extra {
        match k.as_str() {
            "task_type" | "taskType" => c.task_type = v.as_str().map(str::to_owned),
            "title" => c.title = v.as_str().map(str::to_owned),
            _ => c.dropped.push(k.clone()),
        }
    }
    if req.user.is_some() {
        c.dropped.push("user".to_owned());
    }
    Ok(c)
}

/// The AI Studio `batchEmbedContents` body for `model`.
pub fn to_batch_embed(
    req: &EmbeddingsRequest,
    model: &str,
) -> Result<Translated<BatchEmbedRequest>, Error> {
    let c = common(req)?;
    let requests = c
        .texts
        .iter()
        .map(|t| EmbedContentRequest {
            model: format!("models/{model}"),
            content: Content {
                role: None,
                parts: vec![Part::text(*t)],
            },
            task_type: c.task_type.clone(),
            title: c.title.clone(),
            output_dimensionality: req.dimensions,
        })
        .collect();
    Ok(Translated {
        value: BatchEmbedRequest { requests },
        dropped: c.dropped,
    })
}

/// The Vertex AI `predict` body.
pub fn to_predict(req: &EmbeddingsRequest) -> Result<Translated<PredictRequest>, Error> {
    let c = common(req)?;
    let instances = c
        .texts
        .iter()
        .map(|t| PredictInstance {
            content: (*t).to_owned(),
            task_type: c.task_type.clone(),
            title: c.title.clone(),
        })
        .collect();
    Ok(Translated {
        value: PredictRequest {
            instances,
            parameters: req.dimensions.map(|d| PredictParameters {
                output_dimensionality: Some(d),
                auto_truncate: None,
            }),
        },
        dropped: c.dropped,
    })
}

fn vector(values: &[f32], base64: bool) -> Value {
    if base64 {
        let bytes: Vec<u8> = values.iter().flat_map(|f| f.to_le_bytes()).collect();
        json!(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        json!(values)
    }
}

fn response(vectors: Vec<Value>, model: &str, tokens: u64) -> EmbeddingsResponse {
    EmbeddingsResponse {
        object: "list".to_owned(),
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(i, embedding)| Embedding {
                object: "embedding".to_owned(),
                index: u32::try_from(i).unwrap_or(u32::MAX),
                embedding,
            })
            .collect(),
        model: model.to_owned(),
        usage: EmbeddingsUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }
}

/// The OpenAI answer for a `batchEmbedContents` response. AI Studio reports
/// no token counts: `tokens` is the caller's estimate.
pub fn from_batch_embed(
    resp: &BatchEmbedResponse,
    model: &str,
    base64: bool,
    tokens: u64,
) -> EmbeddingsResponse {
    let vectors = resp
        .embeddings
        .iter()
        .map(|e| vector(&e.values, base64))
        .collect();
    response(vectors, model, tokens)
}

/// The OpenAI answer for a Vertex `predict` response, and whether Vertex
/// reported token counts (`statistics.token_count`) for every input.
pub fn from_predict(
    resp: &PredictResponse,
    model: &str,
    base64: bool,
) -> (EmbeddingsResponse, bool) {
    let mut tokens = 0u64;
    let mut counted = true;
    let vectors = resp
        .predictions
        .iter()
        .map(|p| {
            match p.embeddings.statistics {
                Some(s) if s.token_count.is_finite() && s.token_count >= 0.0 => {
                    // Counts arrive as JSON numbers that may be written as floats.
                    tokens += s.token_count.round() as u64;
                }
                _ => counted = false,
            }
            vector(&p.embeddings.values, base64)
        })
        .collect();
    (response(vectors, model, tokens), counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> EmbeddingsRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ai_studio_batch() {
        let r = req(json!({"model": "m", "input": ["a b", "c"], "dimensions": 8,
            "task_type": "RETRIEVAL_QUERY", "user": "u"}));
        let t = to_batch_embed(&r, "gemini-embedding-001").unwrap();
        assert_eq!(
            serde_json::to_value(&t.value).unwrap()["requests"][1],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "c"}]},
                "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8})
        );
        assert_eq!(t.dropped, ["user"]);
        let resp: BatchEmbedResponse = serde_json::from_value(
            json!({"embeddings": [{"values": [1.0, 0.5]}, {"values": [0.25]}]}),
        )
        .unwrap();
        let out = from_batch_embed(&resp, "gemini-embedding-001", false, 3);
        assert_eq!(out.data[0].embedding, json!([1.0, 0.5]));
        assert_eq!(out.usage.prompt_tokens, 3);
        let b64 = from_batch_embed(&resp, "m", true, 3);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.data[1].embedding.as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, 0.25f32.to_le_bytes());
    }

    #[test]
    fn vertex_predict() {
        let r = req(json!({"model": "m", "input": "hello", "dimensions": 256}));
        let t = to_predict(&r).unwrap();
        assert_eq!(
            serde_json::to_value(&t.value).unwrap(),
            json!({"instances": [{"content": "hello"}], "parameters": {"outputDimensionality": 256}})
        );
        // Vertex's documented response shape.
        let resp: PredictResponse = serde_json::from_value(json!({"predictions": [
            {"embeddings": {"statistics": {"truncated": false, "token_count": 6}, "values": [0.1, 0.2]}}],
            "metadata": {"billableCharacterCount": 20}})).unwrap();
        let (out, counted) = from_predict(&resp, "text-embedding-005", false);
        assert!(counted);
        assert_eq!(out.usage.prompt_tokens, 6);
        assert_eq!(out.data.len(), 1);
    }

    #[test]
    fn refusals() {
        let r = req(json!({"model": "m", "input": [1, 2, 3]}));
        assert_eq!(to_predict(&r).unwrap_err().param(), Some("input"));
        let r = req(json!({"model": "m", "input": "x", "encoding_format": "int8"}));
        assert_eq!(
            to_batch_embed(&r, "m").unwrap_err().param(),
            Some("encoding_format")
        );
    }
}
