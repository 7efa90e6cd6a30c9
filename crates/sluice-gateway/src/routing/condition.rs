//! Matching a request against a target's `when` condition.
//!
//! Evaluated by the planner for every request to a group whose targets have
//! conditions. Every field the condition sets must match; header names are
//! case-insensitive; `*` matches any present value.

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::config::routing::RawCondition;

/// What routing may look at in a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteCtx<'a> {
    pub headers: Option<&'a HeaderMap>,
    pub path: &'a str,
    /// The `x-sluice-metadata` object, if the client sent one.
    pub metadata: Option<&'a Map<String, Value>>,
    /// The caller, when a key was presented (limits and budgets read it).
    pub identity: Option<&'a crate::tenancy::Identity>,
    /// The key's id.
    pub key_id: Option<&'a str>,
    /// The consumer's name.
    pub consumer: Option<&'a str>,
    /// The team's name.
    pub team: Option<&'a str>,
    /// The request body's `user` field.
    pub user: Option<&'a str>,
}

impl RouteCtx<'_> {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers?.get(name)?.to_str().ok()
    }

    /// A metadata field as text.
    pub fn metadata_field(&self, name: &str) -> Option<String> {
        match self.metadata?.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

fn value_matches(want: &str, have: Option<&str>) -> bool {
    match have {
        Some(h) => want == "*" || want == h,
        None => false,
    }
}

fn one_of(list: &[String], have: Option<&str>) -> bool {
    list.is_empty() || have.is_some_and(|h| list.iter().any(|x| x == h))
}

/// Whether `ctx` satisfies `cond`.
pub fn matches(cond: &RawCondition, ctx: &RouteCtx<'_>) -> bool {
    cond.headers
        .iter()
        .all(|(k, v)| value_matches(v, ctx.header(k)))
        && cond
            .metadata
            .iter()
            .all(|(k, v)| value_matches(v, ctx.metadata_field(k).as_deref()))
        && one_of(&cond.consumers, ctx.consumer)
        && one_of(&cond.teams, ctx.team)
        && one_of(&cond.keys, ctx.key_id)
        && cond
            .path_prefix
            .as_deref()
            .is_none_or(|p| ctx.path.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fields_must_match() {
        let mut headers = HeaderMap::new();
        headers.insert("x-canary", "1".parse().unwrap());
        let meta: Map<String, Value> = serde_json::from_str(r#"{"team":"ml","tier":3}"#).unwrap();
        let ctx = RouteCtx {
            headers: Some(&headers),
            path: "/support/v1/chat/completions",
            metadata: Some(&meta),
            consumer: Some("alice"),
            ..RouteCtx::default()
        };
        let mut c = RawCondition::default();
        assert!(matches(&c, &ctx), "empty condition matches everything");
        c.headers.insert("X-Canary".into(), "1".into());
        assert!(matches(&c, &ctx));
        c.metadata.insert("tier".into(), "3".into());
        c.consumers = vec!["alice".into()];
        c.path_prefix = Some("/support".into());
        assert!(matches(&c, &ctx));
        c.teams = vec!["blue".into()];
        assert!(!matches(&c, &ctx), "no team on the request");
        let mut c = RawCondition::default();
        c.headers.insert("x-other".into(), "*".into());
        assert!(!matches(&c, &ctx));
    }
}
