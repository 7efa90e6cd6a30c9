//! Cache keys: a SHA-256 over the tenant scope and the request in canonical
//! form. Computed once per cacheable request, after admission.
//!
//! What goes in (see `docs/caching.md`):
//! - the tenant scope (`team:<id>`, `key:<id>` or `global`);
//! - the API surface (chat, or the native API the client spoke) and whether
//!   the client streams, since the stored answer is in that shape;
//! - the public model after the route's policy, and every target of its
//!   group as `provider/upstream_model`: whichever target would answer, the
//!   key names them all, so a routing change is a new key;
//! - the whole request body with keys sorted, minus the fields that do not
//!   shape the answer ([`INERT`]). Everything else counts, including fields
//!   Sluice does not know, so no response-shaping field can be forgotten.
//!
//! The semantic partition is the same hash without the conversation fields.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Top-level request fields that do not change the answer.
pub const INERT: &[&str] = &[
    "model",
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
];

/// The conversation fields, left out of the semantic partition.
const CONVERSATION: &[&str] = &["messages", "input", "prompt"];

/// A computed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The exact-match key (hex).
    pub exact: String,
    /// The semantic partition: everything but the conversation (hex).
    pub partition: String,
}

/// What the key is computed from.
pub struct Parts<'a> {
    pub scope: &'a str,
    /// `chat`, or the native API's name.
    pub surface: &'a str,
    pub stream: bool,
    pub model: &'a str,
    /// `provider/upstream_model` of every target of the model's group.
    pub targets: &'a [String],
    /// The request body (JSON object).
    pub body: &'a [u8],
    /// A client-chosen key (`x-sluice-cache-key`) replacing the body.
    pub custom: Option<&'a str>,
}

/// Computes the keys; `None` when the body is not a JSON object.
pub fn compute(p: &Parts<'_>) -> Option<Key> {
    let mut head = Sha256::new();
    for part in [
        p.scope,
        p.surface,
        if p.stream { "stream" } else { "json" },
        p.model,
    ] {
        head.update(part.as_bytes());
        head.update([0]);
    }
    for t in p.targets {
        head.update(t.as_bytes());
        head.update([0]);
    }
    if let Some(custom) = p.custom {
        let mut h = head;
        h.update(b"custom\0");
        h.update(custom.as_bytes());
        let exact = hex(&h.finalize());
        return Some(Key {
            partition: exact.clone(),
            exact,
        });
    }
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(p.body) else {
        return None;
    };
    for f in INERT {
        body.remove(*f);
    }
    let mut exact = head.clone();
    exact.update(b"body\0");
    exact.update(canonical(&Value::Object(body.clone())).as_bytes());
    for f in CONVERSATION {
        body.remove(*f);
    }
    let mut partition = head;
    partition.update(b"partition\0");
    partition.update(canonical(&Value::Object(body)).as_bytes());
    Some(Key {
        exact: hex(&exact.finalize()),
        partition: hex(&partition.finalize()),
    })
}

/// JSON text with object keys sorted, at every depth.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(k) {
                    write(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests;
