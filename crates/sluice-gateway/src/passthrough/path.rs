//! The client's path and body, as pass-through reads them: checking that a
//! path can only name a path of the provider's API (no traversal, no URL),
//! and the few facts the record needs (model, whether it streams), read
//! from the body or, for APIs that carry the model in the URL, the path.
//!
//! Runs once per pass-through request and per universal step, before
//! anything is sent.

use bytes::Bytes;
use serde::Deserialize;
use sluice_protocol::Error;

use crate::provider::ProviderKind;

/// Checks a client path (percent-encoded as received, starting with `/`)
/// and its query. Refuses dot segments (also percent-encoded), empty
/// segments (`//host`), backslashes, NULs, control characters, fragments
/// and anything that would let the path leave the provider's root.
pub fn check(path: &str, query: Option<&str>) -> Result<(), Error> {
    let refuse = |why: &str| {
        Err(Error::invalid(format!(
            "The path `{}` cannot be forwarded: {why}.",
            path.escape_default()
        )))
    };
    if !path.starts_with('/') {
        return refuse("it must start with `/`");
    }
    let bad_byte = |b: u8| b < 0x20 || b == 0x7f || b == b'\\' || b == b'#';
    if path.bytes().any(bad_byte) || query.is_some_and(|q| q.bytes().any(bad_byte)) {
        return refuse("it contains a control character, `\\` or `#`");
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() && i != last {
            return refuse("it contains an empty segment (`//`)");
        }
        // Also inside an encoded segment (`a%2F..%2Fb`): an upstream that
        // decodes `%2F` before routing would see a `..` segment.
        let decoded = percent_decode(seg);
        if decoded
            .split(|&b| b == b'/')
            .any(|piece| piece == b"." || piece == b"..")
        {
            return refuse("it contains a `.` or `..` segment");
        }
        if decoded.iter().any(|&b| b == 0 || b == b'\\') {
            return refuse("it contains an encoded NUL or `\\`");
        }
    }
    Ok(())
}

/// Decodes `%XX` escapes; other bytes are kept.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// What the record needs to know about a forwarded request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The model asked for: the body's `model`, else the one in the path.
    pub model: Option<String>,
    /// The client asked for a stream (`"stream": true`, a streaming
    /// method in the path, `alt=sse`).
    pub stream: bool,
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    model: Option<serde_json::Value>,
    #[serde(default)]
    stream: Option<serde_json::Value>,
}

/// Reads the model and the stream flag of a request of `kind`'s API.
pub fn facts(kind: ProviderKind, path: &str, query: Option<&str>, body: &Bytes) -> Facts {
    let head = body
        .trim_ascii_start()
        .starts_with(b"{")
        .then(|| serde_json::from_slice::<Head>(body).ok())
        .flatten();
    let body_model = head
        .as_ref()
        .and_then(|h| h.model.as_ref())
        .and_then(|m| m.as_str())
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let body_stream = head
        .as_ref()
        .and_then(|h| h.stream.as_ref())
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    let path_stream = path.ends_with(":streamGenerateContent")
        || path.ends_with("/converse-stream")
        || path.ends_with("/invoke-with-response-stream")
        || query.is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
    Facts {
        model: body_model.or_else(|| model_in_path(kind, path)),
        stream: body_stream || path_stream,
    }
}

/// The model named by a path, for the APIs that put it there: Gemini and
/// Vertex (`.../models/{model}:method`), Bedrock (`/model/{id}/{op}`),
/// Azure deployments, Replicate (`/models/{owner}/{name}/predictions`,
/// `/deployments/{owner}/{name}/predictions`) and Hugging Face serverless
/// (`/models/{org}/{name}`).
pub fn model_in_path(kind: ProviderKind, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let decode = |s: &str| String::from_utf8_lossy(&percent_decode(s)).into_owned();
    // Gemini, Vertex: the segment after `models` is `{model}:{method}`.
    for w in segs.windows(2) {
        if w[0] == "models"
            && let Some((m, _)) = w[1].split_once(':')
            && !m.is_empty()
        {
            return Some(decode(m));
        }
    }
    let at = |name: &str| segs.iter().position(|s| *s == name);
    match kind {
        ProviderKind::Bedrock => {
            let i = at("model")?;
            let id = segs.get(i + 1).filter(|s| !s.is_empty())?;
            segs.get(i + 2)?;
            Some(decode(id))
        }
        ProviderKind::Azure => {
            let i = at("deployments")?;
            segs.get(i + 1).filter(|s| !s.is_empty()).map(|s| decode(s))
        }
        ProviderKind::Replicate | ProviderKind::Huggingface => {
            let i = at("models").or_else(|| at("deployments"))?;
            let (owner, name) = (segs.get(i + 1)?, segs.get(i + 2)?);
            (!owner.is_empty() && !name.is_empty()).then(|| format!("{owner}/{name}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_escape_are_refused() {
        for ok in [
            "/v1/chat/completions",
            "/v1/models/",
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/converse",
            "/v1beta/models/gemini-2.0-flash:generateContent",
            "/",
        ] {
            assert!(check(ok, None).is_ok(), "{ok}");
        }
        for bad in [
            "v1/chat",
            "/v1/../admin",
            "/v1/%2e%2e/admin",
            "/v1/%2E./x",
            "/v1/a%2F..%2Fadmin",
            "/v1/%2F..",
            "/./x",
            "//evil.example/x",
            "/v1//x",
            "/v1\\x",
            "/v1/%5cx",
            "/v1/%00",
            "/v1/a#frag",
            "/v1/\u{7f}",
        ] {
            assert!(check(bad, None).is_err(), "{bad}");
        }
        assert!(check("/v1/x", Some("a=1&b=%2F")).is_ok());
        assert!(check("/v1/x", Some("a=\n")).is_err());
    }

    #[test]
    fn facts_from_body_and_path() {
        let body = Bytes::from_static(br#"{"model": "gpt-4o", "stream": true, "messages": []}"#);
        let f = facts(ProviderKind::Openai, "/v1/chat/completions", None, &body);
        assert_eq!(f.model.as_deref(), Some("gpt-4o"));
        assert!(f.stream);
        let none = Bytes::new();
        let gem = facts(
            ProviderKind::Gemini,
            "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
            Some("alt=sse"),
            &none,
        );
        assert_eq!(gem.model.as_deref(), Some("gemini-2.0-flash"));
        assert!(gem.stream);
        let vertex =
            "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent";
        assert_eq!(
            model_in_path(ProviderKind::Vertex, vertex).as_deref(),
            Some("gemini-2.5-pro")
        );
        assert_eq!(
            model_in_path(
                ProviderKind::Bedrock,
                "/model/anthropic.claude-v2%3A1/converse-stream"
            )
            .as_deref(),
            Some("anthropic.claude-v2:1")
        );
        assert_eq!(
            model_in_path(
                ProviderKind::Azure,
                "/openai/deployments/my-gpt/chat/completions"
            )
            .as_deref(),
            Some("my-gpt")
        );
        assert_eq!(
            model_in_path(
                ProviderKind::Replicate,
                "/v1/models/meta/llama-3/predictions"
            )
            .as_deref(),
            Some("meta/llama-3")
        );
        assert_eq!(
            model_in_path(ProviderKind::Openai, "/v1/chat/completions"),
            None
        );
        let not_json = Bytes::from_static(b"--boundary\r\n");
        assert_eq!(
            facts(ProviderKind::Openai, "/v1/files", None, &not_json),
            Facts::default()
        );
    }
}
