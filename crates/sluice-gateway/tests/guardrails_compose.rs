//! Prompt templates and decorators through the gateway: what the mock
//! provider receives is the rendered, decorated prompt; a missing variable
//! or a required-but-absent template is a 400 in the client's dialect.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use support::{BASIC, Harness};

const CONFIG: &str = r#"
  policies:
    preamble:
      type: decorate
      prepend: [{ role: system, content: "Follow the ACME policy." }]
      append: [{ role: user, content: "Answer in one line." }]
    prompts:
      type: template
      templates:
        summarize:
          - { role: system, content: "You summarise {{ kind }} texts." }
          - { role: user, content: "Summarise in {{lang}}: {{text}}" }
    prompts-only:
      type: template
      require: true
      templates:
        greet: [{ role: user, content: "Say hello to {{name}}." }]
  rules:
    - match: { routes: [default] }
      policies: [prompts, preamble]
    - match: { routes: [strict] }
      policies: [prompts-only]
"#;

async fn start() -> Harness {
    Harness::start(&format!("{BASIC}\nguardrails:\n{CONFIG}")).await
}

fn contents(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn templates_render_and_decorators_wrap_what_the_provider_receives() {
    let h = start().await;
    let resp = h
        .chat(&json!({
            "model": "gpt-test",
            "messages": [{"role": "user", "content": "{template://summarize}"}],
            "properties": {"kind": "legal", "lang": "French", "text": "The contract ends in May."},
        }))
        .await;
    assert_eq!(resp.status(), 200);
    let sent = &h.mock.requests()[0].body;
    assert!(
        sent.get("properties").is_none(),
        "properties never leave: {sent}"
    );
    let pairs = contents(sent);
    let want = [
        ("system", "Follow the ACME policy."),
        ("system", "You summarise legal texts."),
        ("user", "Summarise in French: The contract ends in May."),
        ("user", "Answer in one line."),
    ];
    assert_eq!(pairs.len(), want.len(), "{pairs:?}");
    for ((role, text), (wr, wt)) in pairs.iter().zip(want) {
        assert_eq!((role.as_str(), text.as_str()), (wr, wt));
    }
    let rec = &h.records(1).await[0];
    let outcomes: Vec<_> = rec.guardrails.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["rendered", "decorated"]);
}

#[tokio::test]
async fn decorators_apply_to_anthropic_clients_too() {
    let h = start().await;
    let resp = h
        .post(
            "/v1/messages",
            &json!({"model": "gpt-test", "max_tokens": 20,
                    "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message", "answered in Anthropic's shape: {v}");
    let pairs = contents(&h.mock.requests()[0].body);
    assert_eq!(pairs.first().unwrap().1, "Follow the ACME policy.");
    assert_eq!(pairs.last().unwrap().1, "Answer in one line.");
}

#[tokio::test]
async fn a_missing_variable_or_template_is_a_400() {
    let h = start().await;
    let resp = h
        .chat(&json!({"model": "gpt-test",
                      "messages": [{"role": "user", "content": "{template://summarize}"}],
                      "properties": {"kind": "legal"}}))
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "properties", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("lang"));

    let resp = h
        .post(
            "/strict/v1/chat/completions",
            &json!({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(resp.status(), 400, "untemplated requests are refused here");
    let resp = h
        .post(
            "/strict/v1/chat/completions",
            &json!({"model": "gpt-test", "messages": [{"role": "user", "content": "{template://greet}"}],
                    "properties": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        contents(&sent[0].body),
        [("user".to_owned(), "Say hello to Ada.".to_owned())]
    );
}
