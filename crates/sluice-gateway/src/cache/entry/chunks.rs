//! A complete OpenAI chat answer cut into stream chunks, so a cached
//! non-streamed answer can serve a streaming request: a role chunk, the
//! text a word at a time (at most [`MAX_PIECES`] pieces), tool calls, the
//! finish reason, and a usage-only chunk.

use serde_json::{Map, Value, json};
use sluice_protocol::Usage;

use super::StoredChunk;

/// Text pieces per choice at most; longer answers get longer pieces.
const MAX_PIECES: usize = 256;

/// The chunks of `body` (a `chat.completion`), or `None` when it is not one.
pub fn of_completion(body: &str, usage: Option<Usage>) -> Option<Vec<StoredChunk>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let choices = v.get("choices")?.as_array()?;
    let mut head = Map::new();
    head.insert("id".into(), v.get("id").cloned().unwrap_or(Value::Null));
    head.insert("object".into(), json!("chat.completion.chunk"));
    for f in ["created", "model", "system_fingerprint"] {
        if let Some(x) = v.get(f) {
            head.insert(f.into(), x.clone());
        }
    }
    let chunk = |choices: Value, usage: Option<&Value>| -> Option<StoredChunk> {
        let mut c = head.clone();
        c.insert("choices".into(), choices);
        if let Some(u) = usage {
            c.insert("usage".into(), u.clone());
        }
        Some(StoredChunk {
            data: serde_json::to_string(&Value::Object(c)).ok()?,
            usage: None,
            usage_only: false,
        })
    };
    let mut out = Vec::new();
    for (i, choice) in choices.iter().enumerate() {
        let index = choice.get("index").cloned().unwrap_or(json!(i));
        let message = choice.get("message").cloned().unwrap_or(Value::Null);
        let delta = |d: Value, finish: Value| json!([{"index": index, "delta": d, "finish_reason": finish}]);
        out.push(chunk(
            delta(json!({"role": "assistant", "content": ""}), Value::Null),
            None,
        )?);
        if let Some(text) = message.get("content").and_then(Value::as_str) {
            for piece in pieces(text) {
                out.push(chunk(delta(json!({"content": piece}), Value::Null), None)?);
            }
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let mut c = c.clone();
                    if let Some(o) = c.as_object_mut() {
                        o.insert("index".into(), json!(j));
                    }
                    c
                })
                .collect();
            out.push(chunk(
                delta(json!({"tool_calls": calls}), Value::Null),
                None,
            )?);
        }
        let finish = choice
            .get("finish_reason")
            .cloned()
            .unwrap_or(json!("stop"));
        out.push(chunk(delta(json!({}), finish), None)?);
    }
    if let Some(u) = v.get("usage") {
        let mut last = chunk(json!([]), Some(u))?;
        last.usage = usage;
        last.usage_only = true;
        out.push(last);
    }
    Some(out)
}

/// `text` in word pieces (spaces kept), grouped so there are at most
/// [`MAX_PIECES`].
fn pieces(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_inclusive(char::is_whitespace).collect();
    let per = words.len().div_ceil(MAX_PIECES).max(1);
    words.chunks(per).map(|w| w.concat()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_becomes_chunks_with_the_same_text_and_usage() {
        let body = json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "one two three"},
                "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}})
        .to_string();
        let u = Usage {
            prompt_tokens: 3,
            completion_tokens: 3,
            ..Usage::default()
        };
        let chunks = of_completion(&body, Some(u)).unwrap();
        let mut text = String::new();
        for c in &chunks {
            let v: Value = serde_json::from_str(&c.data).unwrap();
            assert_eq!(v["object"], "chat.completion.chunk");
            if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
                text.push_str(t);
            }
        }
        assert_eq!(text, "one two three");
        assert_eq!(chunks.len(), 1 + 3 + 1 + 1);
        let last = chunks.last().unwrap();
        assert!(last.usage_only);
        assert_eq!(last.usage, Some(u));
        assert_eq!(pieces(&"w ".repeat(1000)).len(), 250);
    }
}
