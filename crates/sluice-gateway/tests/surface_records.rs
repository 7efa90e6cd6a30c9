//! Every API surface produces the same request record as the chat endpoint:
//! model, provider, upstream model, tokens, latency, status, outcome, with
//! its own `endpoint`.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_store::{Outcome, RequestRecord};
use support::Harness;

const CONFIG: &str = r#"
providers:
  oai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
  claude:
    type: anthropic
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
models:
  - name: gpt-test
    provider: oai
    model: mock-gpt
  - name: claude-test
    provider: claude
    model: claude-sonnet-4-5
"#;

/// One request of each surface for `model`, streamed or not.
fn requests(model: &str, stream: bool) -> Vec<(&'static str, &'static str, Value)> {
    let prompt = "Hello records";
    vec![
        (
            "/v1/chat/completions",
            "chat",
            json!({"model": model, "stream": stream,
            "messages": [{"role": "user", "content": prompt}]}),
        ),
        (
            "/v1/messages",
            "messages",
            json!({"model": model, "stream": stream, "max_tokens": 50,
            "messages": [{"role": "user", "content": prompt}]}),
        ),
        (
            "/v1/responses",
            "responses",
            json!({"model": model, "stream": stream, "input": prompt}),
        ),
        (
            "/v1/completions",
            "completions",
            json!({"model": model, "stream": stream, "prompt": prompt,
            "max_tokens": 50}),
        ),
    ]
}

fn check(
    r: &RequestRecord,
    endpoint: &str,
    model: &str,
    provider: &str,
    upstream: &str,
    stream: bool,
) {
    let what = format!("{endpoint} {model} stream={stream}: {r:?}");
    assert_eq!(r.meta.endpoint, endpoint, "{what}");
    assert_eq!(r.meta.request_model.as_deref(), Some(model), "{what}");
    assert_eq!(r.meta.provider_name.as_deref(), Some(provider), "{what}");
    assert_eq!(r.meta.upstream_model.as_deref(), Some(upstream), "{what}");
    assert_eq!(r.meta.route, "default", "{what}");
    assert_eq!(r.status, 200, "{what}");
    assert_eq!(r.outcome, Outcome::Ok, "{what}");
    assert_eq!(r.stream, stream, "{what}");
    assert!(r.latency_ms > 0.0, "{what}");
    assert!(r.gateway_ms.is_some(), "{what}");
    assert_eq!(r.ttft_ms.is_some(), stream, "{what}");
    assert_eq!(r.attempts.len(), 1, "{what}");
    let u = r.usage.unwrap_or_else(|| panic!("no usage: {what}"));
    assert_eq!(u.source, sluice_protocol::UsageSource::Provider, "{what}");
    assert!(u.prompt_tokens > 0 && u.completion_tokens > 0, "{what}");
}

#[tokio::test]
async fn every_surface_records_like_chat() {
    let h = Harness::start(CONFIG).await;
    let mut n = 0;
    for (model, provider, upstream) in [
        ("gpt-test", "oai", "mock-gpt"),
        ("claude-test", "claude", "claude-sonnet-4-5"),
    ] {
        for stream in [false, true] {
            for (path, endpoint, body) in requests(model, stream) {
                let resp = h.post(path, &body).await;
                assert_eq!(resp.status(), 200, "{path} {model}");
                let id = resp.headers()["x-sluice-request-id"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let _ = resp.bytes().await.unwrap();
                n += 1;
                let recs = h.records(n).await;
                let r = recs.iter().find(|r| r.request_id == id).unwrap();
                check(r, endpoint, model, provider, upstream, stream);
                // The tokens are the ones the upstream reported.
                let up = h.mock.requests().last().cloned().unwrap();
                let up_usage = up.usage.unwrap();
                let completion = up_usage
                    .get("completion_tokens")
                    .or_else(|| up_usage.get("output_tokens"))
                    .and_then(Value::as_u64)
                    .unwrap();
                assert_eq!(
                    r.usage.unwrap().completion_tokens,
                    completion,
                    "{path} {model} {stream}"
                );
            }
        }
    }
}
