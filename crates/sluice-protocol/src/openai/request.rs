//! The fields the gateway reads from an OpenAI-style request before routing,
//! and the byte-level patch applied when forwarding to an OpenAI-wire upstream.
//!
//! Runs once per request, on the hot path: the body is scanned once into a
//! [`RawObject`]; only `model`, `stream` and `stream_options` are decoded.
//! Everything else, including fields Sluice does not know, is forwarded as the
//! client's original bytes.

use bytes::Bytes;
use serde::Deserialize;

use crate::json::{Patch, RawObject, patch_object};
use crate::{Error, ErrorKind};

/// What routing needs from a chat or embeddings request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The `model` the client asked for.
    pub model: String,
    /// `stream: true` was set.
    pub stream: bool,
    /// `stream_options.include_usage: true` was set by the client.
    pub include_usage: bool,
}

/// A request body, parsed just enough to route and patch it.
#[derive(Debug, Clone)]
pub struct ParsedRequest {
    /// The top-level fields, as ranges of the original body.
    pub object: RawObject,
    /// The decoded head.
    pub head: RequestHead,
}

#[derive(Deserialize)]
struct StreamOptionsHead {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Turns a JSON syntax or type error into the client-facing 400.
pub fn invalid_json(e: &serde_json::Error) -> Error {
    Error::invalid(format!(
        "We could not parse the JSON body of your request: {e}. The body must be a JSON object."
    ))
    .with_code("invalid_json")
}

fn wrong_type(field: &'static str, expected: &str) -> Error {
    Error::new(
        ErrorKind::InvalidRequest,
        format!("`{field}` must be {expected}"),
    )
    .with_param(field)
}

/// Reads the head of a chat completions request and checks the shape of the
/// fields the gateway depends on: `model` (a string), `messages` (an array),
/// `stream` (a boolean) and `stream_options` (an object).
pub fn parse_chat(body: Bytes) -> Result<ParsedRequest, Error> {
    let parsed = parse_common(body)?;
    match parsed.object.get("messages") {
        None => {
            return Err(
                Error::invalid("Missing required parameter: 'messages'.").with_param("messages")
            );
        }
        Some(raw) if !raw.starts_with('[') => {
            return Err(wrong_type("messages", "an array of messages"));
        }
        Some(_) => {}
    }
    Ok(parsed)
}

/// Reads the head of an embeddings request: `model` and `input`.
pub fn parse_embeddings(body: Bytes) -> Result<ParsedRequest, Error> {
    let parsed = parse_common(body)?;
    if !parsed.object.contains("input") {
        return Err(Error::invalid("Missing required parameter: 'input'.").with_param("input"));
    }
    Ok(parsed)
}

/// Reads the head of a rerank request (Cohere's shape): `model`, and
/// checks that `query` and `documents` are present.
pub fn parse_rerank(body: Bytes) -> Result<ParsedRequest, Error> {
    let parsed = parse_common(body)?;
    for field in ["query", "documents"] {
        if !parsed.object.contains(field) {
            return Err(
                Error::invalid(format!("Missing required parameter: '{field}'.")).with_param(field),
            );
        }
    }
    Ok(parsed)
}

fn parse_common(body: Bytes) -> Result<ParsedRequest, Error> {
    let object = RawObject::parse(body).map_err(|e| invalid_json(&e))?;
    let model: String = match object.get_as::<Option<String>>("model") {
        Ok(Some(Some(m))) if !m.is_empty() => m,
        Ok(Some(Some(_)) | None | Some(None)) => {
            return Err(Error::invalid("Missing required parameter: 'model'.").with_param("model"));
        }
        Err(_) => return Err(wrong_type("model", "a string")),
    };
    let stream = match object.get_as::<Option<bool>>("stream") {
        Ok(v) => v.flatten().unwrap_or(false),
        Err(_) => return Err(wrong_type("stream", "a boolean")),
    };
    let include_usage = match object.get_as::<Option<StreamOptionsHead>>("stream_options") {
        Ok(v) => v.flatten().and_then(|o| o.include_usage).unwrap_or(false),
        Err(_) => return Err(wrong_type("stream_options", "an object")),
    };
    Ok(ParsedRequest {
        object,
        head: RequestHead {
            model,
            stream,
            include_usage,
        },
    })
}

impl ParsedRequest {
    /// The body to send to an OpenAI-wire upstream, or `None` when the
    /// client's bytes can go unchanged.
    ///
    /// - `upstream_model`: replaces `model` when it differs from the client's.
    /// - `want_usage`: for streams, sets `stream_options.include_usage` so the
    ///   upstream reports usage in its last chunk.
    pub fn upstream_body(&self, upstream_model: &str, want_usage: bool) -> Option<Vec<u8>> {
        self.upstream_body_with(upstream_model, want_usage, &[])
    }

    /// [`upstream_body`](Self::upstream_body) with `extra` patches applied
    /// as well.
    pub fn upstream_body_with(
        &self,
        upstream_model: &str,
        want_usage: bool,
        extra: &[Patch<'_>],
    ) -> Option<Vec<u8>> {
        let model_json;
        let options_json;
        let mut patches: Vec<Patch<'_>> = Vec::with_capacity(2 + extra.len());
        patches.extend_from_slice(extra);
        if upstream_model != self.head.model {
            model_json = serde_json::Value::from(upstream_model).to_string();
            patches.push(Patch::Set("model", model_json.as_bytes()));
        }
        if self.head.stream && want_usage && !self.head.include_usage {
            let set = [Patch::Set("include_usage", b"true")];
            options_json = match self.object.get("stream_options") {
                Some(raw) if raw.starts_with('{') => patch_object(raw, &set).unwrap_or_default(),
                _ => br#"{"include_usage":true}"#.to_vec(),
            };
            patches.push(Patch::Set("stream_options", &options_json));
        }
        if patches.is_empty() {
            None
        } else {
            Some(self.object.write(&patches))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_read() {
        let p = parse_chat(Bytes::from_static(
            br#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
        ))
        .unwrap();
        assert_eq!(
            p.head,
            RequestHead {
                model: "m".into(),
                stream: true,
                include_usage: true
            }
        );
        let p = parse_chat(Bytes::from_static(
            br#"{"model":"m","messages":[],"stream":null}"#,
        ))
        .unwrap();
        assert!(!p.head.stream);
    }

    #[test]
    fn shape_errors_are_400s_naming_the_param() {
        for (body, param) in [
            (&br#"{"messages":[]}"#[..], Some("model")),
            (br#"{"model":7,"messages":[]}"#, Some("model")),
            (br#"{"model":"m"}"#, Some("messages")),
            (br#"{"model":"m","messages":"hi"}"#, Some("messages")),
            (
                br#"{"model":"m","messages":[],"stream":"yes"}"#,
                Some("stream"),
            ),
            (br#"{"model":"m","#, None),
            (b"\xff\xfe", None),
            (br#"[]"#, None),
        ] {
            let e = parse_chat(Bytes::from_static(body)).unwrap_err();
            assert_eq!(e.status(), 400, "{body:?}");
            assert_eq!(e.param(), param, "{body:?}");
        }
    }

    #[test]
    fn unchanged_when_nothing_to_patch() {
        let p = parse_chat(Bytes::from_static(br#"{"model":"m","messages":[]}"#)).unwrap();
        assert!(p.upstream_body("m", true).is_none());
    }

    #[test]
    fn patches_model_and_usage() {
        let p = parse_chat(Bytes::from_static(br#"{"model":"pub","messages":[],"stream":true,"stream_options":{"x":1},"tools":[{"type":"function"}]}"#)).unwrap();
        let out = p.upstream_body("up", true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "up");
        assert_eq!(
            v["stream_options"],
            serde_json::json!({"x":1,"include_usage":true})
        );
        assert_eq!(v["tools"][0]["type"], "function");
    }
}
