//! Where guardrail policies apply (by key and by team, through config
//! rules), DLP on answers, and refusals in the Anthropic dialect.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{BASIC, Harness};

const CANARY: &str = "sk-canary0123456789abcdefghijkl";

const CONFIG: &str = r#"
  policies:
    no-secrets-talk: { type: prompt_guard, deny: ["(?i)top secret"] }
    redact-keys: { type: dlp, detectors: [openai_key] }
    answers-no-mail: { type: dlp, detectors: [email], stages: [output] }
    refuse-dogs:
      type: prompt_guard
      deny: ["(?i)dogs"]
      on_block: refuse
      refusal: "Cats only."
  global: [refuse-dogs]
  rules:
    - { match: { keys: [app] }, policies: [no-secrets-talk] }
    - { match: { teams: [ml] }, policies: [redact-keys] }
    - { match: { routes: [pinned] }, policies: [answers-no-mail] }
"#;

fn user(text: &str) -> Value {
    json!({"model": "gpt-test", "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn policies_follow_keys_and_teams() {
    let h = Harness::start(&format!("{BASIC}\nguardrails:\n{CONFIG}")).await;
    let (app, _) = h.create_key(json!({"name": "app"})).await;
    let (s, _) = h
        .admin(Method::POST, "/v1/teams", Some(json!({"name": "ml"})))
        .await;
    assert_eq!(s, 201);
    let (s, _) = h
        .admin(
            Method::POST,
            "/v1/consumers",
            Some(json!({"name": "alice", "team": "ml"})),
        )
        .await;
    assert_eq!(s, 201);
    let (alice, _) = h.create_key(json!({"consumer": "alice"})).await;

    assert_eq!(
        h.chat_as(&app, &user("the top secret plan")).await.status(),
        400
    );
    assert_eq!(
        h.chat_as(&alice, &user("the top secret plan"))
            .await
            .status(),
        200
    );

    assert_eq!(
        h.chat_as(&alice, &user(&format!("key {CANARY}")))
            .await
            .status(),
        200
    );
    assert_eq!(
        h.chat_as(&app, &user(&format!("key {CANARY}")))
            .await
            .status(),
        200
    );
    let sent = h.mock.requests();
    assert_eq!(sent.len(), 3);
    assert!(
        !sent[1].body.to_string().contains(CANARY),
        "team ml is redacted"
    );
    assert!(
        sent[2].body.to_string().contains(CANARY),
        "key app is not in team ml"
    );
}

#[tokio::test]
async fn answers_are_redacted_on_the_output_stage() {
    let h = Harness::start(&format!("{BASIC}\nguardrails:\n{CONFIG}")).await;
    // The mock echoes the prompt: the address reaches the provider (input
    // is not redacted on this route) but not the client.
    let resp = h
        .post(
            "/pinned/v1/chat/completions",
            &user("write to jane@example.com"),
        )
        .await;
    let v: Value = resp.json().await.unwrap();
    let text = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("[REDACTED_EMAIL]"), "{text}");
    assert!(!text.contains("jane@example.com"), "{text}");
    assert!(
        h.mock.requests()[0]
            .body
            .to_string()
            .contains("jane@example.com")
    );
    let rec = &h.records(1).await[0];
    let out = rec.guardrails.iter().find(|e| e.stage == "output").unwrap();
    assert_eq!(out.outcome, "redacted");
    assert_eq!(out.detections[0].detector, "email");
}

#[tokio::test]
async fn refusals_are_answers_in_the_anthropic_dialect_too() {
    let h = Harness::start(&format!("{BASIC}\nguardrails:\n{CONFIG}")).await;
    let resp = h
        .post(
            "/v1/messages",
            &json!({"model": "gpt-test", "max_tokens": 20,
                    "messages": [{"role": "user", "content": "tell me about dogs"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["content"][0]["text"], "Cats only.");
    assert!(h.mock.requests().is_empty());
}

#[tokio::test]
async fn native_bodies_are_redacted_too() {
    let cfg = r#"
providers:
  claude:
    type: anthropic
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
  oai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - { name: claude-test, provider: claude, model: claude-sonnet-4-5 }
  - { name: gpt-test, provider: oai, model: mock-gpt }
guardrails:
  policies:
    redact-keys: { type: dlp, detectors: [openai_key] }
  global: [redact-keys]
"#;
    let h = Harness::start(cfg).await;
    for model in ["claude-test", "gpt-test"] {
        let resp = h
            .post(
                "/v1/messages",
                &json!({"model": model, "max_tokens": 20, "system": format!("ops key {CANARY}"),
                        "messages": [{"role": "user", "content": format!("use {CANARY}")}]}),
            )
            .await;
        assert_eq!(resp.status(), 200, "{model}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["type"], "message");
    }
    let sent = h.mock.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/v1/messages", "sent natively to Anthropic");
    assert_eq!(
        sent[1].path, "/v1/chat/completions",
        "translated for OpenAI"
    );
    for s in &sent {
        let body = s.body.to_string();
        assert!(!body.contains(CANARY), "{body}");
        assert_eq!(body.matches("[REDACTED_OPENAI_KEY]").count(), 2, "{body}");
    }
}
