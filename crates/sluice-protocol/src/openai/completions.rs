//! OpenAI's legacy Completions API (`POST /v1/completions`) for providers
//! that only speak chat: the prompt becomes one user message, the chat
//! answer becomes a `text_completion` (streamed or not).
//!
//! Runs once per completions request routed to a provider without a
//! completions endpoint (OpenAI-wire upstreams receive the client's bytes).
//! The legacy API's defaults are kept: `max_tokens` is 16 when not given.
//! What chat cannot express is refused with a 400 ([`unsupported`]): several
//! prompts or token-id prompts in one request, `suffix`, `best_of > 1` and
//! `logprobs`. `echo: true` is honoured by prefixing the prompt.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::chat::{ChatChunk, ChatRequest, ChatResponse, Message, Role, Stop};
use super::request::{ParsedRequest, RequestHead, invalid_json};
use crate::json::RawObject;
use crate::{Error, ErrorKind};

/// The legacy API's default `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u64 = 16;

/// Reads the head of a completions request: `model`, `stream`,
/// `stream_options.include_usage`, and checks `prompt` is present.
pub fn parse_completions(body: Bytes) -> Result<ParsedRequest, Error> {
    let object = RawObject::parse(body).map_err(|e| invalid_json(&e))?;
    let model = match object.get_as::<Option<String>>("model") {
        Ok(Some(Some(m))) if !m.is_empty() => m,
        Ok(_) => {
            return Err(Error::invalid("Missing required parameter: 'model'.").with_param("model"));
        }
        Err(_) => return Err(Error::invalid("'model' must be a string").with_param("model")),
    };
    if !object.contains("prompt") {
        return Err(Error::invalid("Missing required parameter: 'prompt'.").with_param("prompt"));
    }
    let stream = match object.get_as::<Option<bool>>("stream") {
        Ok(v) => v.flatten().unwrap_or(false),
        Err(_) => return Err(Error::invalid("'stream' must be a boolean").with_param("stream")),
    };
    let include_usage = object
        .get_as::<Option<Value>>("stream_options")
        .ok()
        .flatten()
        .flatten()
        .and_then(|o| o.get("include_usage").and_then(Value::as_bool))
        .unwrap_or(false);
    Ok(ParsedRequest {
        object,
        head: RequestHead {
            model,
            stream,
            include_usage,
        },
    })
}

/// The error for a completions parameter chat cannot carry.
pub fn unsupported(param: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedParam,
        format!(
            "{what} is only supported when the model is served by a provider with a completions \
             endpoint (the OpenAI wire family); this request was routed to a chat-only provider, \
             for which Sluice maps the prompt to a chat message."
        ),
    )
    .with_param(param)
}

/// A translated completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub chat: ChatRequest,
    pub dropped: Vec<String>,
    /// The prompt, when `echo: true` asks for it in front of the answer.
    pub echo: Option<String>,
}

/// Fields mapped below.
const MAPPED: &[&str] = &[
    "model",
    "prompt",
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "seed",
    "user",
    "stream",
    "stream_options",
    "echo",
    "suffix",
    "best_of",
    "logprobs",
];

/// Translates a completions request body into a chat request.
pub fn to_chat(body: &[u8]) -> Result<Prepared, Error> {
    let req: Map<String, Value> = serde_json::from_slice(body).map_err(|e| invalid_json(&e))?;
    let get = |k: &str| req.get(k).filter(|v| !v.is_null());
    let prompt = match get("prompt") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => {
            a[0].as_str().unwrap_or_default().to_owned()
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            return Err(unsupported("prompt", "Several prompts in one request"));
        }
        Some(Value::Array(_)) => {
            return Err(unsupported("prompt", "A prompt given as token ids"));
        }
        _ => return Err(Error::invalid("'prompt' must be a string").with_param("prompt")),
    };
    if get("suffix")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(unsupported("suffix", "`suffix` (insertion)"));
    }
    if get("best_of")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 1)
    {
        return Err(unsupported("best_of", "`best_of`"));
    }
    if get("logprobs").is_some() {
        return Err(unsupported("logprobs", "`logprobs` on completions"));
    }
    let stream = get("stream").and_then(Value::as_bool) == Some(true);
    let num = |k: &str| get(k).and_then(Value::as_f64);
    let stop = match get("stop") {
        Some(Value::String(s)) => Some(Stop::One(s.clone())),
        Some(Value::Array(a)) => Some(Stop::Many(
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
        )),
        _ => None,
    };
    let dropped = req
        .iter()
        .filter(|(k, v)| !MAPPED.contains(&k.as_str()) && !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    let echo = (get("echo").and_then(Value::as_bool) == Some(true)).then(|| prompt.clone());
    let chat = ChatRequest {
        model: get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        messages: vec![Message::text(Role::User, prompt)],
        stream: stream.then_some(true),
        max_tokens: Some(
            get("max_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_MAX_TOKENS),
        ),
        temperature: num("temperature"),
        top_p: num("top_p"),
        n: get("n")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
        stop,
        presence_penalty: num("presence_penalty"),
        frequency_penalty: num("frequency_penalty"),
        logit_bias: get("logit_bias").and_then(Value::as_object).cloned(),
        seed: get("seed").and_then(Value::as_i64),
        user: get("user").and_then(Value::as_str).map(str::to_owned),
        ..ChatRequest::default()
    };
    Ok(Prepared {
        chat,
        dropped,
        echo,
    })
}

/// A completions id for a chat id.
pub fn completion_id(chat_id: &str) -> String {
    let rest = chat_id.strip_prefix("chatcmpl-").unwrap_or(chat_id);
    format!("cmpl-{rest}")
}

/// A `text_completion` for a chat response, every choice kept.
pub fn from_chat(resp: &ChatResponse, echo: Option<&str>) -> Value {
    let choices: Vec<Value> = resp
        .choices
        .iter()
        .map(|c| {
            let text = c.message.content.as_deref().unwrap_or_default();
            let text = match echo {
                Some(p) => format!("{p}{text}"),
                None => text.to_owned(),
            };
            json!({"text": text, "index": c.index, "logprobs": null, "finish_reason": c.finish_reason})
        })
        .collect();
    let mut out = json!({
        "id": completion_id(&resp.id),
        "object": "text_completion",
        "created": resp.created,
        "model": resp.model,
        "choices": choices,
    });
    if let Some(u) = resp.usage {
        out["usage"] = json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens});
    }
    if let Some(fp) = &resp.system_fingerprint {
        out["system_fingerprint"] = json!(fp);
    }
    out
}

/// Chat chunks → `text_completion` chunks.
#[derive(Debug, Default)]
pub struct CompletionChunks {
    /// The prompt still to be sent in front of the first text (`echo`).
    echo: Option<String>,
}

impl CompletionChunks {
    /// A translator; `echo` as in [`Prepared::echo`].
    pub fn new(echo: Option<String>) -> Self {
        Self { echo }
    }

    /// The chunk for one chat chunk, if it carries anything. A usage-only
    /// chat chunk becomes a usage-only completion chunk.
    pub fn on_chunk(&mut self, c: &ChatChunk) -> Option<Value> {
        let mut choices = Vec::with_capacity(c.choices.len());
        for ch in &c.choices {
            let mut text = ch.delta.content.clone().unwrap_or_default();
            if ch.index == 0
                && let Some(p) = self.echo.take()
            {
                text.insert_str(0, &p);
            }
            if text.is_empty() && ch.finish_reason.is_none() {
                continue;
            }
            choices.push(json!({"text": text, "index": ch.index, "logprobs": null,
                "finish_reason": ch.finish_reason}));
        }
        if choices.is_empty() && c.usage.is_none() {
            return None;
        }
        let mut out = json!({
            "id": completion_id(&c.id),
            "object": "text_completion",
            "created": c.created,
            "model": c.model,
            "choices": choices,
        });
        if let Some(u) = c.usage {
            out["usage"] = json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                "total_tokens": u.prompt_tokens + u.completion_tokens});
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_maps_to_one_user_message_with_legacy_defaults() {
        let p = to_chat(br#"{"model":"m","prompt":"Once upon","stop":"\n","seed":1,"stream":true,"x_vendor":1}"#)
            .unwrap();
        let v = serde_json::to_value(&p.chat).unwrap();
        assert_eq!(
            v["messages"],
            json!([{"role": "user", "content": "Once upon"}])
        );
        assert_eq!(v["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(v["stop"], "\n");
        assert_eq!(v["stream"], true);
        assert_eq!(p.dropped, ["x_vendor"]);
        assert_eq!(p.echo, None);
        let p = to_chat(br#"{"model":"m","prompt":["one"],"max_tokens":5,"echo":true}"#).unwrap();
        assert_eq!(p.chat.max_tokens, Some(5));
        assert_eq!(p.echo.as_deref(), Some("one"));
    }

    #[test]
    fn what_chat_cannot_carry_is_refused() {
        for (body, param) in [
            (&br#"{"model":"m","prompt":["a","b"]}"#[..], "prompt"),
            (br#"{"model":"m","prompt":[1,2,3]}"#, "prompt"),
            (br#"{"model":"m","prompt":"a","suffix":"z"}"#, "suffix"),
            (br#"{"model":"m","prompt":"a","best_of":3}"#, "best_of"),
            (br#"{"model":"m","prompt":"a","logprobs":2}"#, "logprobs"),
        ] {
            let e = to_chat(body).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnsupportedParam, "{body:?}");
            assert_eq!(e.param(), Some(param));
        }
        assert!(parse_completions(Bytes::from_static(br#"{"model":"m"}"#)).is_err());
    }

    #[test]
    fn responses_and_chunks() {
        let resp: ChatResponse =
            serde_json::from_value(json!({"id": "chatcmpl-7", "object": "chat.completion",
            "created": 5, "model": "m", "choices": [{"index": 0, "finish_reason": "length",
            "message": {"role": "assistant", "content": " a time"}}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}}))
            .unwrap();
        let v = from_chat(&resp, Some("Once upon"));
        assert_eq!(v["id"], "cmpl-7");
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["choices"][0]["text"], "Once upon a time");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["total_tokens"], 5);
        let mut t = CompletionChunks::new(Some("P:".into()));
        let chunk = |delta: Value, finish: Value| -> ChatChunk {
            serde_json::from_value(
                json!({"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 5,
                "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
            )
            .unwrap()
        };
        assert_eq!(
            t.on_chunk(&chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null
            ))
            .unwrap()["choices"][0]["text"],
            "P:"
        );
        assert_eq!(
            t.on_chunk(&chunk(json!({"content": "x"}), Value::Null))
                .unwrap()["choices"][0]["text"],
            "x"
        );
        assert!(t.on_chunk(&chunk(json!({}), Value::Null)).is_none());
        let end = t.on_chunk(&chunk(json!({}), json!("stop"))).unwrap();
        assert_eq!(end["choices"][0]["finish_reason"], "stop");
        let usage: ChatChunk = serde_json::from_value(json!({"id": "chatcmpl-7", "object": "chat.completion.chunk",
            "created": 5, "model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}))
        .unwrap();
        let u = t.on_chunk(&usage).unwrap();
        assert_eq!(u["choices"], json!([]));
        assert_eq!(u["usage"]["total_tokens"], 3);
    }
}
