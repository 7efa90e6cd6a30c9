//! Key tests: field order does not matter, every response-shaping field
//! does (a property test over the field list), scopes never collide.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn key(scope: &str, body: &Value) -> Key {
    let bytes = serde_json::to_vec(body).unwrap();
    compute(&Parts {
        scope,
        surface: "chat",
        stream: false,
        model: "m",
        targets: &["mock/gpt-4o-mini".to_owned()],
        body: &bytes,
        custom: None,
    })
    .unwrap()
}

fn base() -> Value {
    json!({
        "model": "m",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto",
        "response_format": {"type": "text"},
        "seed": 1, "temperature": 0.5, "top_p": 0.9, "max_tokens": 100,
        "max_completion_tokens": 100, "stop": ["x"], "n": 1, "logit_bias": {"50256": -100},
        "reasoning_effort": "low", "presence_penalty": 0.0, "frequency_penalty": 0.0,
    })
}

/// The response-shaping fields and a different value for each.
fn changes() -> Vec<(&'static str, Value)> {
    vec![
        ("messages", json!([{"role": "user", "content": "hi!"}])),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}}]),
        ),
        ("tool_choice", json!("none")),
        ("response_format", json!({"type": "json_object"})),
        ("seed", json!(2)),
        ("temperature", json!(0.6)),
        ("top_p", json!(0.8)),
        ("max_tokens", json!(101)),
        ("max_completion_tokens", json!(99)),
        ("stop", json!(["y"])),
        ("n", json!(2)),
        ("logit_bias", json!({"50256": -99})),
        ("reasoning_effort", json!("high")),
        ("presence_penalty", json!(0.1)),
        ("frequency_penalty", json!(0.1)),
        ("some_future_field", json!(true)),
    ]
}

#[test]
fn key_order_and_inert_fields_do_not_matter() {
    let a = key(
        "global",
        &json!({"model": "m", "temperature": 1, "messages": []}),
    );
    let b = key(
        "global",
        &json!({"messages": [], "temperature": 1, "model": "other", "user": "u", "stream_options": {"include_usage": true}}),
    );
    assert_eq!(a, b);
}

#[test]
fn scopes_do_not_collide() {
    assert_ne!(key("team:a", &base()).exact, key("team:b", &base()).exact);
    assert_ne!(key("global", &base()).exact, key("key:a", &base()).exact);
}

#[test]
fn the_conversation_is_outside_the_partition() {
    let mut b = base();
    b["messages"] = json!([{"role": "user", "content": "other"}]);
    let (x, y) = (key("g", &base()), key("g", &b));
    assert_ne!(x.exact, y.exact);
    assert_eq!(x.partition, y.partition);
    b["temperature"] = json!(0.1);
    assert_ne!(x.partition, key("g", &b).partition);
}

#[test]
fn routing_surface_and_stream_are_in_the_key() {
    let bytes = serde_json::to_vec(&base()).unwrap();
    let t1 = ["mock/a".to_owned()];
    let t2 = ["mock/b".to_owned()];
    let p = |surface, stream, targets: &[String]| {
        compute(&Parts {
            scope: "g",
            surface,
            stream,
            model: "m",
            targets,
            body: &bytes,
            custom: None,
        })
        .unwrap()
        .exact
    };
    assert_ne!(p("chat", false, &t1), p("chat", false, &t2));
    assert_ne!(p("chat", false, &t1), p("chat", true, &t1));
    assert_ne!(p("chat", false, &t1), p("messages", false, &t1));
}

proptest! {
    #[test]
    fn changing_any_response_shaping_field_is_a_miss(i in 0usize..16, scope in "[a-z]{1,8}") {
        let all = changes();
        let (field, value) = &all[i % all.len()];
        let mut changed = base();
        changed[*field] = value.clone();
        prop_assert_ne!(key(&scope, &base()).exact, key(&scope, &changed).exact, "field {}", field);
    }

    #[test]
    fn removing_any_response_shaping_field_is_a_miss(i in 0usize..15) {
        let all = changes();
        let (field, _) = &all[i % (all.len() - 1)];
        let mut changed = base();
        changed.as_object_mut().unwrap().remove(*field);
        prop_assert_ne!(key("g", &base()).exact, key("g", &changed).exact, "field {}", field);
    }
}
