//! Deterministic content: reply text, token counts, tool arguments and
//! embedding vectors. The same request always gets the same answer, so tests
//! can assert exact values.

use serde_json::{Map, Value, json};

use crate::behavior::Behavior;

const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
];

/// Removes `<<mock ...>>` directives from `text`.
pub fn strip_directives(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<<mock") {
        out.push_str(&rest[..start]);
        match rest[start..].find(">>") {
            Some(end) => rest = &rest[start + end + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

/// The answer text for a request whose last user message is `last_user`.
///
/// Default: `Mock reply from {model}: {last user text}`. With `words=N`: N
/// words from a fixed list. With `reply=...`: exactly that.
pub fn reply(last_user: &str, model: &str, b: &Behavior) -> String {
    let mut text = if let Some(r) = &b.reply {
        r.clone()
    } else if let Some(n) = b.words {
        (0..n)
            .map(|i| WORDS[i % WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        let user = strip_directives(last_user);
        let user: String = user.chars().take(200).collect();
        format!("Mock reply from {model}: {user}")
    };
    if let Some(extra) = b.huge_bytes {
        text.push(' ');
        text.push_str(&"x".repeat(extra));
    }
    text
}

/// Splits `text` into stream pieces: one word per piece, spaces kept, so
/// that the pieces concatenate back to `text` exactly.
pub fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch == ' ' && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The mock's token count: whitespace-separated words.
pub fn tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Arguments for a tool call, filled from the tool's JSON schema: strings
/// get `"mock"` (or the enum's first value), numbers `1`, booleans `true`.
pub fn tool_args(schema: Option<&Value>) -> Value {
    let mut out = Map::new();
    let props = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    for (name, prop) in props.into_iter().flatten() {
        let v = if let Some(first) = prop.get("enum").and_then(|e| e.get(0)) {
            first.clone()
        } else {
            match prop.get("type").and_then(Value::as_str) {
                Some("integer" | "number") => json!(1),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!("mock"),
            }
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}

/// A deterministic, L2-normalised bag-of-words embedding: texts sharing
/// words get similar vectors, so semantic tests behave plausibly.
pub fn embedding(text: &str, dims: usize) -> Vec<f32> {
    let dims = dims.clamp(1, 4096);
    let mut v = vec![0f32; dims];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.to_lowercase().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let idx = (h % dims as u64) as usize;
        if let Some(slot) = v.get_mut(idx) {
            *slot += 1.0;
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else if let Some(first) = v.first_mut() {
        *first = 1.0;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_rejoin() {
        let t = "Mock reply from m: hello  there world";
        assert_eq!(pieces(t).concat(), t);
        assert_eq!(pieces("a b c").len(), 3);
    }

    #[test]
    fn directives_are_stripped() {
        assert_eq!(
            strip_directives("hi <<mock status=500>> there"),
            "hi  there"
        );
    }

    #[test]
    fn similar_texts_have_similar_embeddings() {
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let a = embedding("What is the capital of France?", 64);
        let b = embedding("Tell me the capital of France", 64);
        let c = embedding("How do I bake sourdough bread?", 64);
        assert!(dot(&a, &b) > 0.6, "{}", dot(&a, &b));
        assert!(dot(&a, &c) < 0.3, "{}", dot(&a, &c));
    }
}
