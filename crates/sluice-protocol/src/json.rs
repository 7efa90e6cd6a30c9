//! Read a few fields of a JSON object and forward the rest as original bytes.
//!
//! The hot path of a gateway that fronts OpenAI-wire upstreams needs only a
//! handful of fields from the request (the model, `stream`, `stream_options`)
//! and must forward everything else untouched, including fields it does not
//! know yet. [`RawObject`] scans the top level of an object once and keeps,
//! for each field, the byte range of its raw value inside the original
//! buffer; it owns that buffer (a cheap `Bytes` handle), so a parsed request
//! can travel through async services without being parsed again.
//! [`RawObject::write`] re-emits it with fields replaced, added or removed.
//!
//! Duplicate top-level keys are refused: two `model` fields could otherwise
//! be read one way by the gateway and another way by the upstream.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The top level of a JSON object: its keys and the ranges of their raw
/// values in the original bytes, in document order.
#[derive(Debug, Clone)]
pub struct RawObject {
    body: Bytes,
    fields: Vec<(Box<str>, Range<usize>)>,
}

/// A change to apply when re-emitting a [`RawObject`].
#[derive(Debug, Clone, Copy)]
pub enum Patch<'p> {
    /// Replace the field's value (or append the field) with this raw JSON.
    Set(&'p str, &'p [u8]),
    /// Drop the field if present.
    Remove(&'p str),
}

impl RawObject {
    /// Parses `body`, which must hold exactly one JSON object.
    pub fn parse(body: Bytes) -> Result<Self, serde_json::Error> {
        let Fields(borrowed) = serde_json::from_slice::<Fields<'_>>(&body)?;
        let base = body.as_ptr() as usize;
        let fields = borrowed
            .into_iter()
            .map(|(k, v)| {
                // The raw value borrows from `body`, so its address lies inside it.
                let start = v.get().as_ptr() as usize - base;
                (
                    k.into_owned().into_boxed_str(),
                    start..start + v.get().len(),
                )
            })
            .collect();
        Ok(Self { body, fields })
    }

    /// The whole original body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The raw JSON text of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| &**k == key)
            .and_then(|(_, r)| std::str::from_utf8(&self.body[r.clone()]).ok())
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| &**k == key)
    }

    /// Deserializes the value of `key`; `Ok(None)` when the key is absent.
    pub fn get_as<'a, T: serde::Deserialize<'a>>(
        &'a self,
        key: &str,
    ) -> Result<Option<T>, serde_json::Error> {
        self.get(key).map(serde_json::from_str).transpose()
    }

    /// The keys, in document order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| &**k)
    }

    /// Re-emits the object with `patches` applied. Replaced fields keep their
    /// position; new ones are appended in patch order.
    pub fn write(&self, patches: &[Patch<'_>]) -> Vec<u8> {
        write_fields(
            self.fields
                .iter()
                .map(|(k, r)| (&**k, &self.body[r.clone()])),
            patches,
        )
    }
}

/// Re-emits one nested object given as raw JSON text with `patches` applied.
/// Used for small nested objects such as `stream_options`.
pub fn patch_object(raw: &str, patches: &[Patch<'_>]) -> Result<Vec<u8>, serde_json::Error> {
    let Fields(fields) = serde_json::from_str::<Fields<'_>>(raw)?;
    Ok(write_fields(
        fields.iter().map(|(k, v)| (k.as_ref(), v.get().as_bytes())),
        patches,
    ))
}

fn write_fields<'f>(
    fields: impl Iterator<Item = (&'f str, &'f [u8])> + Clone,
    patches: &[Patch<'_>],
) -> Vec<u8> {
    let size: usize = fields
        .clone()
        .map(|(k, v)| k.len() + v.len() + 4)
        .sum::<usize>()
        + patches
            .iter()
            .map(|p| match p {
                Patch::Set(k, v) => k.len() + v.len() + 4,
                Patch::Remove(_) => 0,
            })
            .sum::<usize>()
        + 2;
    let mut out = Vec::with_capacity(size);
    out.push(b'{');
    let mut first = true;
    let mut push = |out: &mut Vec<u8>, key: &str, value: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        write_key(out, key);
        out.push(b':');
        out.extend_from_slice(value);
    };
    for (key, value) in fields.clone() {
        let patch = patches.iter().find(|p| match p {
            Patch::Set(k, _) | Patch::Remove(k) => *k == key,
        });
        match patch {
            Some(Patch::Remove(_)) => {}
            Some(Patch::Set(_, v)) => push(&mut out, key, v),
            None => push(&mut out, key, value),
        }
    }
    for p in patches {
        if let Patch::Set(k, v) = p
            && !fields.clone().any(|(key, _)| key == *k)
        {
            push(&mut out, k, v);
        }
    }
    out.push(b'}');
    out
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    if key
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.push(b'"');
    } else {
        // serde's escaping for unusual keys; writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, key);
    }
}

/// The borrowed top-level fields of an object, duplicates refused.
struct Fields<'de>(Vec<(Cow<'de, str>, &'de RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        const LINEAR_SCAN_MAX: usize = 32;
        let mut fields: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(16);
        let mut seen: Option<HashSet<Cow<'de, str>>> = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let duplicate = match &mut seen {
                Some(set) => !set.insert(key.clone()),
                None => fields.iter().any(|(k, _)| *k == key),
            };
            if duplicate {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            if seen.is_none() && fields.len() >= LINEAR_SCAN_MAX {
                let mut set: HashSet<_> = fields.iter().map(|(k, _)| k.clone()).collect();
                set.insert(key.clone());
                seen = Some(set);
            }
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, value));
        }
        Ok(Fields(fields))
    }
}

struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &'static [u8]) -> Result<RawObject, serde_json::Error> {
        RawObject::parse(Bytes::from_static(s))
    }

    #[test]
    fn reads_and_patches() {
        let o = obj(br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x_future":{"a":[1,2]},"stream":true}"#).unwrap();
        assert_eq!(o.get_as::<&str>("model").unwrap(), Some("gpt-4o"));
        assert_eq!(o.get_as::<bool>("stream").unwrap(), Some(true));
        assert_eq!(o.get("x_future"), Some(r#"{"a":[1,2]}"#));
        let out = o.write(&[
            Patch::Set("model", br#""gpt-4o-2024-08-06""#),
            Patch::Set("stream_options", br#"{"include_usage":true}"#),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "gpt-4o-2024-08-06");
        assert_eq!(v["x_future"]["a"][1], 2);
        assert_eq!(v["stream_options"]["include_usage"], true);
        let keys: Vec<_> = RawObject::parse(out.into())
            .unwrap()
            .keys()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            keys,
            ["model", "messages", "x_future", "stream", "stream_options"]
        );
    }

    #[test]
    fn unpatched_write_is_equivalent() {
        let body = br#"{ "a" : 1 , "b\u0041" : "x\n" }"#;
        let out = obj(body).unwrap().write(&[Patch::Remove("missing")]);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            serde_json::from_slice::<serde_json::Value>(body).unwrap()
        );
    }

    #[test]
    fn nested_patch() {
        let out = patch_object(r#"{"x":1}"#, &[Patch::Set("include_usage", b"true")]).unwrap();
        assert_eq!(out, br#"{"x":1,"include_usage":true}"#);
    }

    #[test]
    fn refuses_duplicates_and_non_objects() {
        assert!(obj(br#"{"model":"a","model":"b"}"#).is_err());
        assert!(obj(br#"[1,2]"#).is_err());
        assert!(obj(br#"{"a":1} trailing"#).is_err());
        let many: String = (0..100).map(|i| format!("\"k{i}\":{i},")).collect();
        let dup = format!("{{{many}\"k7\":1}}");
        assert!(RawObject::parse(dup.into()).is_err());
        let ok = format!("{{{}}}", many.trim_end_matches(','));
        assert_eq!(RawObject::parse(ok.into()).unwrap().keys().count(), 100);
    }

    #[test]
    fn deep_nesting_does_not_crash() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let _ = RawObject::parse(deep.into());
        let unbalanced = format!("{{\"a\":{}", "[".repeat(100_000));
        assert!(RawObject::parse(unbalanced.into()).is_err());
    }
}
