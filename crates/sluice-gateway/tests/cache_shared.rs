//! Two gateway instances sharing one response cache in the machine's real
//! Redis (127.0.0.1:6379): an answer fetched through one is a hit on the
//! other, for exact and semantic lookups, and the semantic index survives
//! a restart. Each test uses its own key prefix.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Harness;

fn config(prefix: &str, index: &str) -> String {
    format!(
        r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: gpt
    provider: mock
    model: mock-gpt
  - name: embed
    provider: mock
    model: mock-embed
store:
  redis: redis://127.0.0.1:6379
cache:
  enabled: true
  ttl: 2m
  store: redis
  redis_prefix: "{prefix}"
  semantic:
    embedding_model: embed
    threshold: 0.7
    path: {index}
"#
    )
}

fn ask(text: &str) -> Value {
    json!({"model": "gpt", "messages": [{"role": "user", "content": text}]})
}

fn chat_calls(h: &Harness) -> usize {
    h.mock
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .count()
}

async fn ask_status(h: &Harness, text: &str) -> (String, String) {
    let r = h.chat(&ask(text)).await;
    assert_eq!(r.status(), 200);
    let s = r.headers()["x-sluice-cache"].to_str().unwrap().to_owned();
    (s, r.text().await.unwrap())
}

#[tokio::test]
async fn two_instances_share_the_redis_cache() {
    let prefix = format!("sluice-test:{}:", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let a = Harness::start(&config(
        &prefix,
        &dir.path().join("a.json").display().to_string(),
    ))
    .await;
    let b = Harness::start(&config(
        &prefix,
        &dir.path().join("b.json").display().to_string(),
    ))
    .await;
    let (s, body_a) = ask_status(&a, "shared between instances").await;
    assert_eq!(s, "miss");
    // The entry is written just after the answer; give it a moment.
    let mut hit = None;
    for _ in 0..50 {
        let (s, body) = ask_status(&b, "shared between instances").await;
        if s == "hit" {
            hit = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hit.as_deref(), Some(body_a.as_str()));
    assert_eq!(chat_calls(&a), 1);
    assert_eq!(chat_calls(&b), 0, "instance B never went upstream");
}

#[tokio::test]
async fn the_semantic_index_survives_a_restart() {
    let prefix = format!("sluice-test:{}:", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("semantic.json").display().to_string();
    let yaml = config(&prefix, &index);
    let first = Harness::start(&yaml).await;
    let (s, original) = ask_status(&first, "What is the capital city of France?").await;
    assert_eq!(s, "miss");
    // Saved half a second after the change.
    for _ in 0..100 {
        if std::fs::metadata(&index).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first);
    let second = Harness::start(&yaml).await;
    let (s, body) = ask_status(&second, "Tell me the capital city of France please").await;
    assert_eq!(s, "hit", "the restarted instance found the paraphrase");
    assert_eq!(body, original);
    assert_eq!(chat_calls(&second), 0);
}
