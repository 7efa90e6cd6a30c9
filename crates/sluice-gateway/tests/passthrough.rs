//! Provider pass-through (`/{provider}/...`) against the mock provider, in
//! process: forwarding, both credential modes, streaming, records, errors,
//! deadlines and the guards that keep requests on the configured host.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY, sse_data};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT_KEY: &str = "sk-client-canary-5e1d0c9b8a77";

const CONFIG: &str = r#"
providers:
  openai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 1s, idle: 1s, total: 3s }
  claude:
    type: anthropic
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
  byok:
    type: openai
    base_url: MOCK_URL/v1
    passthrough: { credentials: client }
  byok-claude:
    type: anthropic
    base_url: MOCK_URL
    passthrough: { credentials: client }
  narrow:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    passthrough:
      paths: [/v1/chat/completions, "/v1/models*"]
      models: ["mock-*"]
  off:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    passthrough: { enabled: false }
models:
  - name: "openai/*"
    provider: openai
routes:
  # A route may share its first segment with a provider whose pass-through is off.
  - name: off-route
    path: /off/team
    model: openai/mock-gpt
"#;

fn chat_body(stream: bool) -> Value {
    json!({"model": "mock-gpt", "stream": stream, "unknown_field": {"kept": [1, 2]},
        "messages": [{"role": "user", "content": "Hello there"}]})
}

/// Every header value and the query the mock saw, as one string.
fn everything_sent(r: &sluice_mock::Received) -> String {
    let mut s: String = r
        .headers
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    s.push_str(r.query.as_deref().unwrap_or(""));
    s.push_str(&r.body.to_string());
    s
}

#[tokio::test]
async fn openai_request_is_forwarded_unchanged_with_the_gateways_key() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .client()
        .post(h.endpoint("/openai/v1/chat/completions?trace=1"))
        .bearer_auth(CLIENT_KEY)
        .header("cookie", "session=abc")
        .header("x-sluice-metadata", r#"{"team":"ml"}"#)
        .header("openai-organization", "org-client")
        .header("user-agent", "OpenAI/Python 9.9")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "openai");
    assert_eq!(resp.headers()["x-sluice-model"], "mock-gpt");
    assert!(resp.headers().contains_key("x-sluice-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from mock-gpt: Hello there"
    );

    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(up.query.as_deref(), Some("trace=1"));
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(up.body, chat_body(false), "the body is not touched");
    assert_eq!(up.header("user-agent"), Some("OpenAI/Python 9.9"));
    let sent = everything_sent(up);
    for leaked in [
        CLIENT_KEY,
        "session=abc",
        "org-client",
        "x-sluice",
        "cookie",
    ] {
        assert!(!sent.contains(leaked), "{leaked} reached the upstream");
    }

    let r = &h.records(1).await[0];
    assert_eq!(r.meta.endpoint, "passthrough:openai");
    assert_eq!(r.meta.provider_name.as_deref(), Some("openai"));
    assert_eq!(r.meta.request_model.as_deref(), Some("mock-gpt"));
    assert_eq!(r.meta.response_model.as_deref(), Some("mock-gpt"));
    assert_eq!(r.status, 200);
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.usage.unwrap().completion_tokens, 6);
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.metadata.as_ref().unwrap()["team"], "ml");
    assert!(r.latency_ms > 0.0);
}

#[tokio::test]
async fn streams_pass_through_as_they_arrive_and_are_metered() {
    let h = Harness::start(CONFIG).await;
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let started = Instant::now();
    let mut resp = h
        .client()
        .post(h.endpoint("/openai/v1/chat/completions"))
        .header("x-mock", "words=6 itl_ms=150")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let first = resp.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let mut text = String::from_utf8_lossy(&first).into_owned();
    while let Some(c) = resp.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    let total = started.elapsed();
    assert!(
        total >= Duration::from_millis(700) && first_at < total - Duration::from_millis(400),
        "the first chunk ({first_at:?}) arrives long before the end ({total:?})"
    );
    let events = sse_data(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    let up = &h.mock.requests()[0];
    assert_eq!(up.body, body, "no stream_options were added or changed");

    let r = &h.records(1).await[0];
    assert!(r.stream);
    assert!(r.ttft_ms.is_some());
    let u = r.usage.unwrap();
    assert_eq!(
        u.completion_tokens,
        usage_chunk["usage"]["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(u.source, sluice_protocol::UsageSource::Provider);
    assert_eq!(r.outcome, Outcome::Ok);
}

#[tokio::test]
async fn anthropic_request_in_both_credential_modes() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "Hi Claude"}]});
    for (path, key, expect) in [
        (
            "/claude/v1/messages",
            "sk-ant-client-0000000001",
            PROVIDER_KEY,
        ),
        (
            "/byok-claude/v1/messages",
            "sk-ant-client-0000000002",
            "sk-ant-client-0000000002",
        ),
    ] {
        let text = h
            .client()
            .post(h.endpoint(path))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .header("authorization", format!("Bearer {CLIENT_KEY}"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("event: message_stop"), "{text}");
        let up = h.mock.requests().pop().unwrap();
        assert_eq!(up.path, "/v1/messages");
        assert_eq!(up.header("x-api-key"), Some(expect));
        assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    }
    let recs = h.records(2).await;
    for r in &recs {
        assert_eq!(r.outcome, Outcome::Ok);
        assert_eq!(r.meta.response_model.as_deref(), Some("claude-sonnet-4-5"));
        let u = r.usage.unwrap();
        assert!(u.prompt_tokens > 0 && u.completion_tokens > 0, "{u:?}");
        assert_eq!(u.source, sluice_protocol::UsageSource::Provider);
    }
    // Gateway mode forwards no client credential of any kind.
    let gateway = &h.mock.requests()[0];
    assert!(!everything_sent(gateway).contains(CLIENT_KEY));
    assert!(!everything_sent(gateway).contains("sk-ant-client-0000000001"));
}

#[tokio::test]
async fn client_mode_forwards_the_clients_key_and_refuses_requests_without_one() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .client()
        .post(h.endpoint("/byok/v1/chat/completions"))
        .bearer_auth(CLIENT_KEY)
        .header("x-api-key", "sk-ant-not-for-openai-000")
        .header("cookie", "a=b")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let up = &h.mock.requests()[0];
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {CLIENT_KEY}").as_str())
    );
    let sent = everything_sent(up);
    assert!(!sent.contains(PROVIDER_KEY));
    assert!(
        !sent.contains("sk-ant-not-for-openai"),
        "only this provider's header"
    );
    assert!(!sent.contains("a=b"));

    let resp = h.post("/byok/v1/chat/completions", &chat_body(false)).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`authorization`")
    );
    assert_eq!(h.mock.requests().len(), 1, "nothing was sent");
    // Anthropic targets answer in Anthropic's error shape.
    let resp = h
        .client()
        .post(h.endpoint("/byok-claude/v1/messages"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn a_byok_key_for_one_provider_never_reaches_another_host() {
    let h = Harness::start_two(
        r#"
providers:
  a:
    type: openai
    base_url: MOCK_URL/v1
    passthrough: { credentials: client }
  b:
    type: anthropic
    base_url: MOCK_B_URL
    passthrough: { credentials: client }
"#,
    )
    .await;
    let b = h.mock_b.as_ref().unwrap();
    let key_a = "sk-key-for-a-canary-1111111111";
    let key_b = "sk-ant-key-for-b-canary-22222222";
    let resp = h
        .client()
        .post(h.endpoint("/a/v1/chat/completions"))
        .bearer_auth(key_a)
        .header("x-api-key", key_b)
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = h
        .client()
        .post(h.endpoint("/b/v1/messages"))
        .header("x-api-key", key_b)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let on_a: String = h.mock.requests().iter().map(everything_sent).collect();
    let on_b: String = b.requests().iter().map(everything_sent).collect();
    assert!(on_a.contains(key_a) && !on_a.contains(key_b), "{on_a}");
    assert!(on_b.contains(key_b) && !on_b.contains(key_a), "{on_b}");
    assert_eq!(h.mock.requests().len(), 1);
    assert_eq!(b.requests().len(), 1);
}

#[tokio::test]
async fn upstream_errors_come_back_as_the_provider_sent_them() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .client()
        .post(h.endpoint("/openai/v1/chat/completions"))
        .header("x-mock", "status=429 retry_after=7")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(resp.headers()["x-sluice-provider"], "openai");
    let v: Value = resp.json().await.unwrap();
    // The mock's own body (Sluice's own rendering would say `rate_limit_error`).
    assert_eq!(v["error"]["type"], "requests");
    let r = &h.records(1).await[0];
    assert_eq!(r.status, 429);
    assert_eq!(r.outcome, Outcome::UpstreamError);
    assert_eq!(r.error.as_deref(), Some("upstream_rate_limited"));
    assert_eq!(r.attempts[0].status, Some(429));
    assert!(r.error_message.is_some());
    assert_eq!(h.mock.requests().len(), 1, "pass-through never retries");
}

#[tokio::test]
async fn other_methods_and_paths_are_forwarded() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .client()
        .get(h.endpoint("/openai/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    let up = &h.mock.requests()[0];
    assert_eq!(
        (up.method.as_str(), up.path.as_str()),
        ("GET", "/v1/models")
    );
    let r = &h.records(1).await[0];
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.usage, None, "no model, no estimate");
    // A path the mock does not serve: its 404 comes back as is.
    let resp = h
        .client()
        .delete(h.endpoint("/openai/v1/files/file-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(h.mock.requests()[1].method, "DELETE");
}

#[tokio::test]
async fn redirects_are_passed_back_not_followed() {
    let h = Harness::start_two(CONFIG).await;
    let b = h.mock_b.as_ref().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .post(h.endpoint(&format!("/openai/__mock/redirect?to={}/v1/models", b.url())))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(
        resp.headers()["location"],
        format!("{}/v1/models", b.url()).as_str()
    );
    assert!(b.requests().is_empty(), "the gateway did not follow it");
}

/// Sends a raw HTTP/1.1 request line (paths no HTTP client would send).
async fn raw(h: &Harness, request_line: &str) -> (u16, String) {
    let addr = h.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req =
        format!("{request_line}\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    (status, text)
}

#[tokio::test]
async fn the_target_host_comes_only_from_configuration() {
    let h = Harness::start(CONFIG).await;
    for line in [
        "GET /openai/v1/../../admin HTTP/1.1",
        "GET /openai/v1/%2e%2e/%2E%2E/admin HTTP/1.1",
        "GET /openai//evil.example/v1/models HTTP/1.1",
        "GET /openai/http://evil.example/v1/models HTTP/1.1",
        "GET /openai/v1/models%5c..%5cx HTTP/1.1",
        "GET /openai/v1/%00 HTTP/1.1",
    ] {
        let (status, text) = raw(&h, line).await;
        assert_eq!(status, 400, "{line}: {text}");
    }
    assert!(h.mock.requests().is_empty(), "nothing was forwarded");
    // An absolute-form request target: only the path is used, the host is
    // the configured one.
    let (status, _) = raw(&h, "GET http://evil.example/openai/v1/models HTTP/1.1").await;
    assert_eq!(status, 200);
    assert_eq!(h.mock.requests()[0].path, "/v1/models");
    // Unknown and disabled providers are not forwarded anywhere.
    let (status, _) = raw(&h, "GET /nobody/v1/models HTTP/1.1").await;
    assert_eq!(status, 404);
    let (status, text) = raw(&h, "GET /off/v1/models HTTP/1.1").await;
    assert_eq!(status, 404);
    assert!(text.contains("disabled"));
    assert_eq!(h.mock.requests().len(), 1);
    let resp = h
        .post("/off/team/v1/chat/completions", &chat_body(false))
        .await;
    assert_eq!(resp.status(), 200, "the route is still served");
}

#[tokio::test]
async fn path_and_model_allow_lists() {
    let h = Harness::start(CONFIG).await;
    let ok = h
        .post("/narrow/v1/chat/completions", &chat_body(false))
        .await;
    assert_eq!(ok.status(), 200);
    let resp = h
        .post(
            "/narrow/v1/embeddings",
            &json!({"model": "mock-embed", "input": "x"}),
        )
        .await;
    assert_eq!(resp.status(), 403);
    let mut other = chat_body(false);
    other["model"] = json!("gpt-4o");
    let resp = h.post("/narrow/v1/chat/completions", &other).await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_allowed");
    assert_eq!(h.mock.requests().len(), 1);
}

#[tokio::test]
async fn deadlines_apply_before_and_during_the_answer() {
    let h = Harness::start(CONFIG).await;
    let started = Instant::now();
    let resp = h
        .client()
        .post(h.endpoint("/openai/v1/chat/completions"))
        .header("x-mock", "hang")
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "first_token, not total"
    );
    // A stream that stalls mid-way: the client's response is cut, not ended cleanly.
    let resp = h
        .client()
        .post(h.endpoint("/openai/v1/chat/completions"))
        .header("x-mock", "words=10 stall_after=2")
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err(), "the body breaks");
    let recs = h.records(2).await;
    assert_eq!(recs[0].outcome, Outcome::Timeout);
    assert_eq!(recs[1].outcome, Outcome::Timeout);
    assert!(recs[1].error_message.as_deref().unwrap().contains("idle"));
    // Usage so far is kept (estimated: the stream never reported it).
    assert!(recs[1].usage.is_some());
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream() {
    let h = Harness::start(CONFIG).await;
    let mut resp = h
        .client()
        .post(h.endpoint("/openai/v1/chat/completions"))
        .header("x-mock", "words=50 itl_ms=50")
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    resp.chunk().await.unwrap();
    drop(resp);
    let r = &h.records(1).await[0];
    assert_eq!(r.outcome, Outcome::ClientCancelled);
    for _ in 0..100 {
        if h.mock.requests()[0].outcome == "disconnected" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the upstream never saw the disconnect");
}

#[tokio::test]
async fn an_error_inside_a_successful_stream_is_recorded() {
    let h = Harness::start(CONFIG).await;
    let text = h
        .client()
        .post(h.endpoint("/openai/v1/chat/completions"))
        .header("x-mock", "words=5 error_after=2")
        .json(&chat_body(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"error\""), "passed through as sent: {text}");
    let r = &h.records(1).await[0];
    assert_eq!(r.status, 200);
    assert_eq!(r.outcome, Outcome::StreamError);
}
