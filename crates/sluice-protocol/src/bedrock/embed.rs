//! OpenAI embeddings ⇄ Amazon Titan text embeddings on Bedrock.
//!
//! Titan's InvokeModel body takes one text (`{"inputText": ...}`) and
//! returns one vector with its token count, so an OpenAI request with N
//! inputs becomes N upstream calls; their answers are gathered here into one
//! OpenAI response, floats or base64 (little-endian f32) as asked.

use base64::Engine as _;
use serde_json::Value;

use super::wire::{TitanEmbedRequest, TitanEmbedResponse};
use crate::Error;
use crate::openai::embeddings::{
    Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage,
};
use crate::translate::{Translated, unsupported};

/// Whether `model` is a Titan text embeddings model this module speaks to.
pub fn is_titan_text(model: &str) -> bool {
    model.starts_with("amazon.titan-embed-text") || model.starts_with("amazon.titan-embed-g1-text")
}

/// One Titan request per input text.
pub fn to_titan(
    req: &EmbeddingsRequest,
    upstream_model: &str,
) -> Result<Translated<Vec<TitanEmbedRequest>>, Error> {
    if !is_titan_text(upstream_model) {
        return Err(unsupported(
            "Bedrock",
            "model",
            "embeddings are translated for Amazon Titan text models \
             (amazon.titan-embed-text-*) only",
        ));
    }
    let texts = req
        .input
        .texts()
        .ok_or_else(|| unsupported("Bedrock", "input", "Titan takes text, not token arrays"))?;
    if texts.is_empty() {
        return Err(Error::invalid("`input` must not be empty").with_param("input"));
    }
    match req.encoding_format.as_deref() {
        None | Some("float" | "base64") => {}
        Some(other) => {
            return Err(Error::invalid(format!(
                "`encoding_format` must be `float` or `base64`, not `{other}`"
            ))
            .with_param("encoding_format"));
        }
    }
    let mut dropped = Vec::new();
    if req.user.is_some() {
        dropped.push("user".to_owned());
    }
    dropped.extend(req.extra.keys().cloned());
    // Only Titan v2 takes `dimensions`; v1 has a fixed size.
    let dimensions = match req.dimensions {
        Some(d) if upstream_model.starts_with("amazon.titan-embed-text-v2") => Some(d),
        Some(_) => {
            return Err(unsupported(
                "Bedrock",
                "dimensions",
                "this Titan model has a fixed vector size",
            ));
        }
        None => None,
    };
    Ok(Translated {
        value: texts
            .into_iter()
            .map(|t| TitanEmbedRequest {
                input_text: t.to_owned(),
                dimensions,
            })
            .collect(),
        dropped,
    })
}

/// Gathers Titan answers (in input order) into an OpenAI response.
pub fn from_titan(
    results: Vec<TitanEmbedResponse>,
    model: &str,
    base64: bool,
) -> EmbeddingsResponse {
    let mut tokens = 0;
    let data = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            tokens += r.input_text_token_count;
            let embedding = if base64 {
                let bytes: Vec<u8> = r.embedding.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Value::from(r.embedding)
            };
            Embedding {
                object: "embedding".to_owned(),
                index: u32::try_from(i).unwrap_or(u32::MAX),
                embedding,
            }
        })
        .collect();
    EmbeddingsResponse {
        object: "list".to_owned(),
        data,
        model: model.to_owned(),
        usage: EmbeddingsUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_call_per_input_and_base64() {
        let req: EmbeddingsRequest = serde_json::from_value(
            json!({"model": "e", "input": ["a b", "c"], "dimensions": 256, "user": "u"}),
        )
        .unwrap();
        let t = to_titan(&req, "amazon.titan-embed-text-v2:0").unwrap();
        assert_eq!(
            serde_json::to_value(&t.value).unwrap(),
            json!([{"inputText": "a b", "dimensions": 256}, {"inputText": "c", "dimensions": 256}])
        );
        assert_eq!(t.dropped, ["user"]);
        assert!(to_titan(&req, "cohere.embed-english-v3").is_err());
        let tokens: EmbeddingsRequest =
            serde_json::from_value(json!({"model": "e", "input": [1, 2]})).unwrap();
        assert_eq!(
            to_titan(&tokens, "amazon.titan-embed-text-v2:0")
                .unwrap_err()
                .param(),
            Some("input")
        );

        let answers: Vec<TitanEmbedResponse> = vec![
            serde_json::from_value(json!({"embedding": [0.5, -1.0], "inputTextTokenCount": 2}))
                .unwrap(),
            serde_json::from_value(json!({"embedding": [0.25, 0.0], "inputTextTokenCount": 1}))
                .unwrap(),
        ];
        let floats = from_titan(answers.clone(), "titan", false);
        assert_eq!(floats.data[1].embedding, json!([0.25, 0.0]));
        assert_eq!(floats.usage.prompt_tokens, 3);
        let b64 = from_titan(answers, "titan", true);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.data[0].embedding.as_str().unwrap())
            .unwrap();
        assert_eq!(
            raw,
            [0.5f32.to_le_bytes(), (-1.0f32).to_le_bytes()].concat()
        );
    }
}
