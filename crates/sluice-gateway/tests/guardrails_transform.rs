//! AI request and response transformers through the gateway: a configured
//! model rewrites the request (what the mock provider receives is the
//! rewritten body) or the answer; failures follow fail-open or fail-closed,
//! and the transformer's own call is recorded as its own request.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_mock::{Behavior, Step};
use support::Harness;

const CONFIG: &str = r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - { name: gpt-test, provider: mock, model: mock-gpt }
  - { name: rewriter, provider: mock, model: mock-rewriter }
routes:
  - { name: answers, path: /answers }
  - { name: strict, path: /strict }
guardrails:
  policies:
    translate:
      type: request_transformer
      model: rewriter
      instruction: "Translate the user messages to English. Answer with the JSON body only."
      on_error: open
    translate-strict:
      type: request_transformer
      model: rewriter
      instruction: "Translate."
      timeout: 300ms
      on_error: closed
    shout:
      type: response_transformer
      model: rewriter
      instruction: "Rewrite the answer in capitals."
      on_error: open
  rules:
    - { match: { routes: [default] }, policies: [translate] }
    - { match: { routes: [answers] }, policies: [shout] }
    - { match: { routes: [strict] }, policies: [translate-strict] }
"#;

fn script(h: &Harness, behavior: Behavior) {
    h.mock.state().push_script([Step {
        model: Some("mock-rewriter".into()),
        behavior,
    }]);
}

fn user(text: &str) -> Value {
    json!({"model": "gpt-test", "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn the_rewritten_body_is_what_the_provider_receives() {
    let h = Harness::start(CONFIG).await;
    let rewritten = json!({"model": "ignored", "messages": [{"role": "user", "content": "Hello, how are you?"}]});
    script(
        &h,
        Behavior {
            reply: Some(format!("```json\n{rewritten}\n```")),
            ..Default::default()
        },
    );
    let resp = h.chat(&user("Bonjour, comment ça va ?")).await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock.requests();
    assert_eq!(sent.len(), 2, "the transformer call, then the real one");
    assert_eq!(sent[0].body["model"], "mock-rewriter");
    let asked = sent[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        asked.contains("Bonjour"),
        "the transformer got the body: {asked}"
    );
    assert_eq!(
        sent[1].body["model"], "mock-gpt",
        "routing kept the client's model"
    );
    assert_eq!(sent[1].body["messages"], rewritten["messages"]);

    let recs = h.records(2).await;
    let child = recs
        .iter()
        .find(|r| r.meta.endpoint == "transformer")
        .expect("its own record");
    let parent = recs.iter().find(|r| r.meta.endpoint == "chat").unwrap();
    assert_eq!(
        child.metadata.as_ref().unwrap()["parent_request_id"],
        parent.request_id
    );
    assert!(child.usage.is_some());
    assert_eq!(parent.guardrails[0].outcome, "transformed");
}

#[tokio::test]
async fn failures_follow_fail_open_and_fail_closed() {
    let h = Harness::start(CONFIG).await;
    // Not JSON: the open policy keeps the body.
    script(
        &h,
        Behavior {
            reply: Some("sorry, no".into()),
            ..Default::default()
        },
    );
    let resp = h.chat(&user("original")).await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock.requests();
    assert_eq!(sent[1].body["messages"][0]["content"], "original");

    // Too slow: the closed policy refuses.
    script(
        &h,
        Behavior {
            ttft_ms: 2000,
            ..Default::default()
        },
    );
    let resp = h
        .post("/strict/v1/chat/completions", &user("original"))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        h.mock.requests().len(),
        3,
        "nothing sent after the failed transformer"
    );

    let recs = h.records(3).await;
    let outcomes: Vec<_> = recs
        .iter()
        .flat_map(|r| r.guardrails.iter())
        .map(|e| (e.outcome.as_str(), e.ran))
        .collect();
    assert!(
        outcomes.contains(&("error_fail_open", false)),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("error_fail_closed", false)),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_response_transformer_rewrites_the_answer() {
    let h = Harness::start(CONFIG).await;
    // Scripted by model: the main call answers normally, the transformer
    // with the rewrite.
    script(
        &h,
        Behavior {
            reply: Some("HELLO THERE".into()),
            ..Default::default()
        },
    );
    let resp = h.post("/answers/v1/chat/completions", &user("hello")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "HELLO THERE");
    assert_eq!(v["object"], "chat.completion");
    let sent = h.mock.requests();
    let last = sent.last().unwrap();
    assert_eq!(last.body["model"], "mock-rewriter");
    assert!(
        last.body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Mock reply")
    );
}
