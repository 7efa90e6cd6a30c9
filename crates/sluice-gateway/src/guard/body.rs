//! Where the text is in a request or answer body, whatever its API: OpenAI
//! chat, Anthropic Messages, the Responses API or legacy completions.
//!
//! Used by the guardrails on the request path: [`turns`] lists a prompt's
//! messages with their roles for the prompt guard and remote checks;
//! [`rewrite_prompt`] and [`rewrite_answer`] change text in place for
//! redaction and restoration, leaving ids, roles, URLs and base64 data
//! alone; [`chunk_text`] reads the text delta of one streamed chunk.

use serde_json::Value;

/// One message of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// `system`, `user`, `assistant`, `tool`...
    pub role: String,
    pub text: String,
}

/// Top-level fields that hold the prompt.
const PROMPT_FIELDS: &[&str] = &["system", "instructions", "messages", "input", "prompt"];

/// Keys whose string values are never prompt text.
const NOT_TEXT: &[&str] = &[
    "role",
    "type",
    "id",
    "tool_call_id",
    "call_id",
    "tool_use_id",
    "name",
    "url",
    "image_url",
    "data",
    "file_data",
    "file_id",
    "media_type",
    "detail",
    "format",
    "signature",
    "cache_control",
];

/// The messages of a prompt, in order. System prompts given as a field
/// (`system`, `instructions`) come first with the role `system`.
pub fn turns(body: &Value) -> Vec<Turn> {
    let mut out = Vec::new();
    for (field, role) in [("system", "system"), ("instructions", "system")] {
        if let Some(v) = body.get(field) {
            push(&mut out, role, v);
        }
    }
    for field in ["messages", "input"] {
        match body.get(field) {
            Some(Value::Array(items)) => {
                for m in items {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or("tool");
                    let content = m.get("content").or_else(|| m.get("output"));
                    if let Some(c) = content {
                        push(&mut out, role, c);
                    }
                }
            }
            Some(v @ Value::String(_)) => push(&mut out, "user", v),
            _ => {}
        }
    }
    if let Some(p) = body.get("prompt") {
        push(&mut out, "user", p);
    }
    out
}

fn push(out: &mut Vec<Turn>, role: &str, v: &Value) {
    let mut text = String::new();
    collect(v, &mut text);
    out.push(Turn {
        role: role.to_owned(),
        text,
    });
}

fn collect(v: &Value, text: &mut String) {
    match v {
        Value::String(s) => {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(s);
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, text)),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !NOT_TEXT.contains(&k.as_str()))
            .for_each(|(_, v)| collect(v, text)),
        _ => {}
    }
}

/// Replaces prompt text: `f` sees every text string of the prompt fields
/// and returns its replacement, if any. Returns whether anything changed.
pub fn rewrite_prompt(body: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) -> bool {
    let Some(map) = body.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for (k, v) in map.iter_mut() {
        if PROMPT_FIELDS.contains(&k.as_str()) {
            changed |= walk(v, f);
        }
    }
    changed
}

fn walk(v: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) -> bool {
    match v {
        Value::String(s) => match f(s) {
            Some(new) => {
                *s = new;
                true
            }
            None => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |c, i| walk(i, f) | c),
        Value::Object(map) => map
            .iter_mut()
            .filter(|(k, _)| !NOT_TEXT.contains(&k.as_str()))
            .fold(false, |c, (_, v)| walk(v, f) | c),
        _ => false,
    }
}

/// Replaces answer text in a complete body or one stream chunk: every
/// string under a `content`, `text`, `delta` or `refusal` key. Returns
/// whether anything changed.
pub fn rewrite_answer(v: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) -> bool {
    match v {
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |c, i| rewrite_answer(i, f) | c),
        Value::Object(map) => map.iter_mut().fold(false, |c, (k, v)| {
            let hit = match v {
                Value::String(s) if is_answer_key(k) => match f(s) {
                    Some(new) => {
                        *s = new;
                        true
                    }
                    None => false,
                },
                Value::String(_) => false,
                _ if k == "arguments" || k == "input" => false,
                _ => rewrite_answer(v, f),
            };
            hit | c
        }),
        _ => false,
    }
}

fn is_answer_key(k: &str) -> bool {
    matches!(k, "content" | "text" | "delta" | "refusal")
}

/// All answer text of a complete body, joined.
pub fn answer_text(v: &Value) -> String {
    fn visit(v: &Value, out: &mut String) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| visit(i, out)),
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if is_answer_key(k) => out.push_str(s),
                        Value::String(_) => {}
                        _ if k == "arguments" || k == "input" => {}
                        _ => visit(v, out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    visit(v, &mut out);
    out
}

/// The text delta of one streamed chunk: OpenAI chat
/// (`choices[].delta.content`), Anthropic (`delta.text`) or the Responses
/// API (`response.output_text.delta`'s `delta`). Empty when it has none.
pub fn chunk_text(v: &Value) -> String {
    let mut out = String::new();
    if let Some(choices) = v.get("choices").and_then(Value::as_array) {
        for c in choices {
            if let Some(s) = c.pointer("/delta/content").and_then(Value::as_str) {
                out.push_str(s);
            }
        }
    } else if let Some(s) = v.pointer("/delta/text").and_then(Value::as_str) {
        out.push_str(s);
    } else if v.get("type").and_then(Value::as_str) == Some("response.output_text.delta")
        && let Some(s) = v.get("delta").and_then(Value::as_str)
    {
        out.push_str(s);
    }
    out
}

/// Sets the text delta of one streamed chunk (the forms of
/// [`chunk_text`]). `false` when the chunk has no single text slot (an
/// OpenAI chunk with several choices, or an event without text).
pub fn set_chunk_text(v: &mut Value, text: &str) -> bool {
    if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
        let [only] = choices.as_mut_slice() else {
            return false;
        };
        let Some(obj) = only.as_object_mut() else {
            return false;
        };
        let delta = obj
            .entry("delta")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        return match delta.as_object_mut() {
            Some(d) => {
                d.insert("content".to_owned(), Value::from(text));
                true
            }
            None => false,
        };
    }
    if let Some(slot) = v.pointer_mut("/delta/text") {
        *slot = Value::from(text);
        return true;
    }
    if v.get("type").and_then(Value::as_str) == Some("response.output_text.delta")
        && let Some(slot) = v.get_mut("delta")
    {
        *slot = Value::from(text);
        return true;
    }
    false
}

#[cfg(test)]
mod tests;
