//! `POST /v1/universal` (Cloudflare's universal endpoint): ordered steps of
//! native requests to configured providers, with fallback on errors, rate
//! limits and timeouts, against two mock providers in process.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY, sse_data};

const CONFIG: &str = r#"
providers:
  openai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 5s }
  huggingface:
    type: huggingface
    base_url: MOCK_B_URL/v1
    api_key: env:SECOND_KEY
  byok-a:
    type: openai
    base_url: MOCK_URL/v1
    passthrough: { credentials: client }
  byok-b:
    type: anthropic
    base_url: MOCK_B_URL
    passthrough: { credentials: client }
  hidden:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    passthrough: { enabled: false }
"#;

const SECOND_KEY: &str = "sk-second-canary-9876543210";

fn openai_step(headers: Value, stream: bool) -> Value {
    json!({"provider": "openai", "endpoint": "v1/chat/completions", "headers": headers,
        "query": {"model": "mock-gpt", "stream": stream, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "What is Sluice?"}]}})
}

fn hf_step(stream: bool) -> Value {
    json!({"provider": "huggingface", "endpoint": "/v1/chat/completions",
        "headers": {"Authorization": "Bearer sk-client-should-not-travel-0"},
        "query": {"model": "meta-llama/Llama-3.1-8B-Instruct", "stream": stream,
            "messages": [{"role": "user", "content": "What is Sluice?"}]}})
}

#[tokio::test]
async fn the_first_step_fails_with_a_500_and_the_second_answers() {
    let h = Harness::start_two(CONFIG).await;
    let b = h.mock_b.as_ref().unwrap();
    let resp = h
        .post(
            "/v1/universal",
            &json!([
                openai_step(json!({"x-mock": "status=500"}), false),
                hf_step(false)
            ]),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-step"], "1");
    assert_eq!(resp.headers()["x-sluice-provider"], "huggingface");
    assert_eq!(resp.headers()["x-sluice-attempts"], "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from meta-llama/Llama-3.1-8B-Instruct: What is Sluice?"
    );
    assert_eq!(h.mock.requests()[0].path, "/v1/chat/completions");
    let up = &b.requests()[0];
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {SECOND_KEY}").as_str()),
        "gateway mode: the step's own Authorization is replaced"
    );
    let r = &h.records(1).await[0];
    assert_eq!(r.meta.endpoint, "universal");
    assert_eq!(r.status, 200);
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.meta.provider_name.as_deref(), Some("huggingface"));
    assert_eq!(
        r.meta.request_model.as_deref(),
        Some("meta-llama/Llama-3.1-8B-Instruct")
    );
    assert_eq!(
        r.route_reason.as_deref(),
        Some("fallback_after_upstream_server_error")
    );
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(
        (r.attempts[0].provider.as_str(), r.attempts[0].status),
        ("openai", Some(500))
    );
    assert_eq!(r.attempts[0].outcome, "upstream_server_error");
    assert_eq!(
        (r.attempts[1].provider.as_str(), r.attempts[1].status),
        ("huggingface", Some(200))
    );
    assert!(r.usage.unwrap().completion_tokens > 0);
}

#[tokio::test]
async fn a_rate_limited_step_falls_back_to_a_streamed_answer() {
    let h = Harness::start_two(CONFIG).await;
    let resp = h
        .post(
            "/v1/universal",
            &json!([
                openai_step(json!({"x-mock": "status=429 retry_after=30"}), true),
                hf_step(true)
            ]),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-step"], "1");
    let text = resp.text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let r = &h.records(1).await[0];
    assert!(r.stream);
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.attempts[0].status, Some(429));
    assert!(r.usage.is_some());
}

#[tokio::test]
async fn a_step_that_times_out_falls_back() {
    let h = Harness::start_two(CONFIG).await;
    let mut slow = openai_step(json!({"x-mock": "hang"}), false);
    slow["config"] = json!({"requestTimeout": 300});
    let started = Instant::now();
    let resp = h
        .post("/v1/universal", &json!([slow, hf_step(false)]))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-step"], "1");
    assert!(started.elapsed() < Duration::from_secs(2));
    let r = &h.records(1).await[0];
    assert_eq!(r.attempts[0].outcome, "upstream_timeout");
    assert_eq!(
        r.route_reason.as_deref(),
        Some("fallback_after_upstream_timeout")
    );
}

#[tokio::test]
async fn a_step_retries_before_falling_back_when_its_config_says_so() {
    let h = Harness::start_two(CONFIG).await;
    h.client()
        .post(format!("{}/__mock/script", h.mock.url()))
        .json(&json!([{"status": 503}]))
        .send()
        .await
        .unwrap();
    let mut step = openai_step(json!({}), false);
    step["config"] = json!({"maxAttempts": 2, "retryDelay": 20, "backoff": "exponential"});
    let resp = h
        .post("/v1/universal", &json!([step, hf_step(false)]))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-step"], "0");
    assert_eq!(resp.headers()["x-sluice-attempts"], "2");
    assert!(h.mock_b.as_ref().unwrap().requests().is_empty());
    let r = &h.records(1).await[0];
    assert_eq!(
        r.route_reason.as_deref(),
        Some("retry_after_upstream_overloaded")
    );
}

#[tokio::test]
async fn when_every_step_fails_the_last_answer_is_returned() {
    let h = Harness::start_two(CONFIG).await;
    let mut last = hf_step(false);
    last["headers"] = json!({"x-mock": "status=503"});
    let resp = h
        .post(
            "/v1/universal",
            &json!([openai_step(json!({"x-mock": "status=500"}), false), last]),
        )
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["x-sluice-step"], "1");
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"].is_object(), "the upstream's own error body: {v}");
    let r = &h.records(1).await[0];
    assert_eq!(r.status, 503);
    assert_ne!(r.outcome, Outcome::Ok);
    assert_eq!(r.attempts.len(), 2);
}

#[tokio::test]
async fn steps_name_configured_providers_and_paths_only() {
    let h = Harness::start_two(CONFIG).await;
    let hf = hf_step(false);
    let cases = [
        json!([{"provider": "nobody", "endpoint": "v1/chat/completions", "query": {}}, hf]),
        json!([{"provider": "hidden", "endpoint": "v1/chat/completions", "query": {}}, hf]),
        json!([{"provider": "openai", "endpoint": "https://evil.example/v1/chat", "query": {}}, hf]),
        json!([{"provider": "openai", "endpoint": "//evil.example/v1/chat", "query": {}}, hf]),
        json!([{"provider": "openai", "endpoint": "v1/../../admin", "query": {}}, hf]),
        json!([{"provider": "openai", "endpoint": "v1/chat", "query": {}, "url": "http://x"}]),
        json!([{"provider": "openai", "endpoint": "v1/chat", "config": {"maxAttempts": 9}}]),
        json!([]),
        json!({"provider": "openai"}),
    ];
    for body in cases {
        let resp = h.post("/v1/universal", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    }
    assert!(h.mock.requests().is_empty());
    assert!(h.mock_b.as_ref().unwrap().requests().is_empty());
    let resp = h
        .client()
        .get(h.endpoint("/v1/universal"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn each_steps_own_key_reaches_only_its_own_provider() {
    let h = Harness::start_two(CONFIG).await;
    let b = h.mock_b.as_ref().unwrap();
    let key_a = "sk-step-a-canary-111111111111";
    let key_b = "sk-ant-step-b-canary-2222222";
    let steps = json!([
        {"provider": "byok-a", "endpoint": "v1/chat/completions",
         "headers": {"authorization": format!("Bearer {key_a}"), "x-mock": "status=500"},
         "query": {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}},
        {"provider": "byok-b", "endpoint": "v1/messages",
         "headers": {"x-api-key": key_b, "anthropic-version": "2023-06-01"},
         "query": {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}}
    ]);
    let resp = h
        .client()
        .post(h.endpoint("/v1/universal"))
        .bearer_auth("sk-sluice-consumer-key-3333")
        .json(&steps)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-step"], "1");
    let dump = |rs: Vec<sluice_mock::Received>| format!("{:?}", rs);
    let on_a = dump(h.mock.requests());
    let on_b = dump(b.requests());
    assert!(on_a.contains(key_a) && !on_a.contains(key_b), "{on_a}");
    assert!(on_b.contains(key_b) && !on_b.contains(key_a), "{on_b}");
    for seen in [&on_a, &on_b] {
        assert!(!seen.contains("sk-sluice-consumer-key"));
        assert!(!seen.contains(PROVIDER_KEY));
    }
}
