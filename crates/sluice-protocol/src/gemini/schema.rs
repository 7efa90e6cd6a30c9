//! JSON Schema → Gemini's `Schema` (a subset of OpenAPI 3.0), for function
//! `parameters` and JSON mode's `responseSchema`.
//!
//! Gemini rejects keywords outside its subset (`additionalProperties`,
//! `$schema`, `$ref`, `const`...), so each schema is rewritten:
//! - `$ref` to `#/$defs/..` or `#/definitions/..` is inlined (a recursive
//!   reference cannot be expressed and is refused);
//! - `type: [T, "null"]` becomes `type: T, nullable: true`; several types
//!   become `anyOf`; `oneOf` becomes `anyOf`; `allOf` is merged; `const`
//!   becomes a one-value `enum`; types are written in Gemini's upper case;
//! - every other keyword Gemini does not accept is removed and reported, so
//!   the caller can name it in `x-sluice-dropped-params`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::Error;
use crate::translate::unsupported;

/// Keywords of Gemini's `Schema` kept as they are.
const KEPT: &[&str] = &[
    "title",
    "description",
    "nullable",
    "maxItems",
    "minItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "default",
    "minimum",
    "maximum",
    "required",
    "propertyOrdering",
];

/// `format` values Gemini accepts.
const FORMATS: &[&str] = &["enum", "date-time", "int32", "int64", "float", "double"];

/// Deepest nesting followed, against hostile or runaway schemas.
const MAX_DEPTH: usize = 64;

/// The cleaned schema; removed keywords are added to `dropped` as
/// `{param}.{keyword}` (e.g. `tools.function.parameters.additionalProperties`).
pub fn clean(schema: &Value, param: &str, dropped: &mut BTreeSet<String>) -> Result<Value, Error> {
    let mut defs = Map::new();
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(d)) = schema.get(key) {
            for (k, v) in d {
                defs.insert(format!("#/{key}/{k}"), v.clone());
            }
        }
    }
    let mut cx = Cleaner {
        defs: &defs,
        param,
        dropped,
        stack: Vec::new(),
    };
    cx.node(schema, 0)
}

struct Cleaner<'a> {
    defs: &'a Map<String, Value>,
    param: &'a str,
    dropped: &'a mut BTreeSet<String>,
    stack: Vec<String>,
}

impl Cleaner<'_> {
    fn drop_kw(&mut self, kw: &str) {
        self.dropped.insert(format!("{}.{kw}", self.param));
    }

    fn refuse(&self, why: &str) -> Error {
        unsupported("Gemini", self.param, why)
    }

    fn node(&mut self, v: &Value, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.refuse("the schema nests too deeply"));
        }
        let Value::Object(obj) = v else {
            // `true`/`false` schemas and other oddities: an unconstrained object.
            return Ok(Value::Object(Map::new()));
        };
        let mut out = Map::new();
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            if self.stack.iter().any(|s| s == r) {
                return Err(self.refuse(&format!(
                    "the schema refers to itself through `{r}`, which Gemini cannot express"
                )));
            }
            let Some(target) = self.defs.get(r) else {
                return Err(self.refuse(&format!(
                    "`$ref` `{r}` does not resolve to a local definition"
                )));
            };
            self.stack.push(r.to_owned());
            let resolved = self.node(target, depth + 1);
            self.stack.pop();
            if let Value::Object(m) = resolved? {
                out = m;
            }
        }
        for (k, val) in obj {
            match k.as_str() {
                "$ref" | "$defs" | "definitions" => {}
                "type" => self.types(val, &mut out),
                "properties" => {
                    let mut props = Map::new();
                    if let Value::Object(p) = val {
                        for (name, s) in p {
                            props.insert(name.clone(), self.node(s, depth + 1)?);
                        }
                    }
                    out.insert(k.clone(), Value::Object(props));
                }
                "items" => {
                    let item = match val {
                        Value::Array(tuple) => {
                            self.drop_kw("prefixItems");
                            tuple.first().cloned().unwrap_or(Value::Bool(true))
                        }
                        other => other.clone(),
                    };
                    out.insert(k.clone(), self.node(&item, depth + 1)?);
                }
                "anyOf" | "oneOf" => {
                    let list = val.as_array().map(Vec::as_slice).unwrap_or_default();
                    let mut cleaned = Vec::with_capacity(list.len());
                    for s in list {
                        cleaned.push(self.node(s, depth + 1)?);
                    }
                    out.insert("anyOf".to_owned(), Value::Array(cleaned));
                }
                "allOf" => {
                    for s in val.as_array().map(Vec::as_slice).unwrap_or_default() {
                        if let Value::Object(m) = self.node(s, depth + 1)? {
                            merge(&mut out, m);
                        }
                    }
                }
                "const" => match val {
                    Value::String(_) => {
                        out.insert("enum".to_owned(), Value::Array(vec![val.clone()]));
                    }
                    _ => self.drop_kw("const"),
                },
                "enum" => match val.as_array() {
                    Some(vals) if vals.iter().all(Value::is_string) => {
                        out.insert(k.clone(), val.clone());
                    }
                    _ => self.drop_kw("enum"),
                },
                "format" => match val.as_str() {
                    Some(f) if FORMATS.contains(&f) => {
                        out.insert(k.clone(), val.clone());
                    }
                    _ => self.drop_kw("format"),
                },
                kw if KEPT.contains(&kw) => {
                    out.insert(k.clone(), val.clone());
                }
                kw => self.drop_kw(kw),
            }
        }
        Ok(Value::Object(out))
    }

    fn types(&mut self, val: &Value, out: &mut Map<String, Value>) {
        let names: Vec<&str> = match val {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let non_null: Vec<&str> = names.iter().copied().filter(|t| *t != "null").collect();
        if non_null.len() < names.len() {
            out.insert("nullable".to_owned(), Value::Bool(true));
        }
        match non_null.as_slice() {
            [] if names.is_empty() => self.drop_kw("type"),
            [] => {
                out.insert("type".to_owned(), Value::String("NULL".to_owned()));
            }
            [one] => {
                out.insert("type".to_owned(), Value::String(one.to_ascii_uppercase()));
            }
            many => {
                let alts = many
                    .iter()
                    .map(|t| {
                        let mut m = Map::new();
                        m.insert("type".to_owned(), Value::String(t.to_ascii_uppercase()));
                        Value::Object(m)
                    })
                    .collect();
                out.insert("anyOf".to_owned(), Value::Array(alts));
            }
        }
    }
}

/// Shallow merge for `allOf`: properties and `required` are unioned, other
/// keywords of later members win.
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (k.as_str(), into.get_mut(&k), v) {
            ("properties", Some(Value::Object(a)), Value::Object(b)) => a.extend(b),
            ("required", Some(Value::Array(a)), Value::Array(b)) => {
                for x in b {
                    if !a.contains(&x) {
                        a.push(x);
                    }
                }
            }
            (_, _, v) => {
                into.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inlines_refs_and_drops_what_gemini_rejects() {
        let s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "city": {"type": "string", "format": "uri"},
                "unit": {"$ref": "#/$defs/Unit", "description": "the unit"},
                "note": {"type": ["string", "null"]},
                "n": {"type": ["integer", "string"]},
                "kind": {"const": "weather"},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
                "alt": {"oneOf": [{"type": "string"}, {"type": "number"}]}
            },
            "required": ["city"],
            "$defs": {"Unit": {"type": "string", "enum": ["C", "F"]}}
        });
        let mut dropped = BTreeSet::new();
        let out = clean(&s, "p", &mut dropped).unwrap();
        assert_eq!(
            out,
            json!({
                "type": "OBJECT",
                "properties": {
                    "city": {"type": "STRING"},
                    "unit": {"type": "STRING", "enum": ["C", "F"], "description": "the unit"},
                    "note": {"type": "STRING", "nullable": true},
                    "n": {"anyOf": [{"type": "INTEGER"}, {"type": "STRING"}]},
                    "kind": {"enum": ["weather"]},
                    "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                    "alt": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}
                },
                "required": ["city"]
            })
        );
        let names: Vec<_> = dropped.into_iter().collect();
        assert_eq!(
            names,
            [
                "p.$schema",
                "p.additionalProperties",
                "p.format",
                "p.uniqueItems"
            ]
        );
    }

    #[test]
    fn recursive_refs_are_refused() {
        let s = json!({"$ref": "#/$defs/Node", "$defs": {"Node": {"type": "object",
            "properties": {"next": {"$ref": "#/$defs/Node"}}}}});
        let e = clean(&s, "tools", &mut BTreeSet::new()).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("refers to itself"), "{}", e.message());
        let e = clean(&json!({"$ref": "#/nowhere"}), "tools", &mut BTreeSet::new()).unwrap_err();
        assert!(e.message().contains("does not resolve"));
    }

    #[test]
    fn all_of_is_merged() {
        let s = json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]});
        let out = clean(&s, "p", &mut BTreeSet::new()).unwrap();
        assert_eq!(
            out,
            json!({"type": "OBJECT", "properties": {"a": {"type": "STRING"}, "b": {"type": "INTEGER"}},
                "required": ["a", "b"]})
        );
    }
}
