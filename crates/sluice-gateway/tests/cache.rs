//! The response cache, end to end against the mock provider: exact hits,
//! tenant isolation, per-request controls, streaming replay, coalescing,
//! the semantic cache and the Messages surface.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Harness, sse_data};

const CONFIG: &str = r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 5s, idle: 5s, total: 20s }
models:
  - name: gpt
    provider: mock
    model: mock-gpt
  - name: embed
    provider: mock
    model: mock-embed
  - name: claude
    provider: mock
    model: mock-claude
pricing:
  - { provider: mock, model: mock-gpt, input: 1, output: 2 }
routes:
  - name: nocache
    path: /nocache
cache:
  enabled: true
  ttl: 10m
  routes:
    nocache: { enabled: false }
  keys:
    opt-out: { enabled: false }
"#;

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

fn status(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-sluice-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn send(h: &Harness, body: &Value, headers: &[(&str, &str)]) -> (String, String) {
    let mut req = h
        .client()
        .post(h.endpoint("/v1/chat/completions"))
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let s = status(&resp);
    (s, resp.text().await.unwrap())
}

#[tokio::test]
async fn a_repeated_request_is_a_hit_with_the_same_bytes() {
    let h = Harness::start(CONFIG).await;
    let (s1, b1) = send(&h, &ask("hello cache"), &[]).await;
    let r = h.chat(&ask("hello cache")).await;
    let saved: f64 = r.headers()["x-sluice-cache-saved-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(saved > 0.0, "the hit says what it saved");
    let (s2, b2) = (status(&r), r.text().await.unwrap());
    assert_eq!((s1.as_str(), s2.as_str()), ("miss", "hit"));
    assert_eq!(b1, b2, "the hit is byte-for-byte the stored answer");
    assert_eq!(chat_calls(&h), 1, "the mock got one request");
    let recs = h.records(2).await;
    assert_eq!(recs[0].cache.as_deref(), Some("miss"));
    assert_eq!(recs[1].cache.as_deref(), Some("hit"));
    let (u1, u2) = (recs[0].usage.unwrap(), recs[1].usage.unwrap());
    assert_eq!(u2.source, sluice_protocol::UsageSource::Cache);
    assert_eq!(u1.total_tokens(), u2.total_tokens());
    assert!(recs[0].cost_usd.unwrap() > 0.0);
    assert_eq!(recs[1].cost_usd, Some(0.0));
    assert_eq!(recs[1].route_reason.as_deref(), Some("cache_hit"));
}

#[tokio::test]
async fn a_different_field_is_a_miss_and_errors_are_not_stored() {
    let h = Harness::start(CONFIG).await;
    send(&h, &ask("q"), &[]).await;
    let mut other = ask("q");
    other["temperature"] = json!(0.2);
    assert_eq!(send(&h, &other, &[]).await.0, "miss");
    other["tools"] =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    other["tool_choice"] = json!("none");
    assert_eq!(send(&h, &other, &[]).await.0, "miss");
    assert_eq!(chat_calls(&h), 3);
    // An upstream error is never stored.
    let bad = ask("<<mock status=400>> fail");
    for _ in 0..2 {
        let r = h.chat(&bad).await;
        assert_eq!(r.status(), 400);
        assert_eq!(status(&r), "miss");
    }
    assert_eq!(chat_calls(&h), 5);
}

#[tokio::test]
async fn tenants_never_share_entries() {
    let h = Harness::start(CONFIG).await;
    let (a, _) = h.create_key(json!({"name": "tenant-a"})).await;
    let (b, _) = h.create_key(json!({"name": "tenant-b"})).await;
    let r = h.chat_as(&a, &ask("shared question")).await;
    assert_eq!(status(&r), "miss");
    let r = h.chat_as(&b, &ask("shared question")).await;
    assert_eq!(status(&r), "miss", "another tenant's answer is not served");
    let r = h.chat_as(&a, &ask("shared question")).await;
    assert_eq!(status(&r), "hit");
    assert_eq!(chat_calls(&h), 2);
    // A key can opt out by name.
    let (c, _) = h.create_key(json!({"name": "opt-out"})).await;
    for _ in 0..2 {
        let r = h.chat_as(&c, &ask("shared question")).await;
        assert_eq!(status(&r), "bypass");
    }
    assert_eq!(chat_calls(&h), 4);
}

#[tokio::test]
async fn request_headers_control_the_cache() {
    let h = Harness::start(CONFIG).await;
    let q = ask("controls");
    assert_eq!(
        send(&h, &q, &[("x-sluice-skip-cache", "true")]).await.0,
        "bypass"
    );
    assert_eq!(send(&h, &q, &[]).await.0, "miss");
    assert_eq!(
        send(&h, &q, &[("cache-control", "no-store")]).await.0,
        "bypass"
    );
    assert_eq!(
        send(&h, &q, &[("cache-control", "no-cache")]).await.0,
        "refresh"
    );
    assert_eq!(
        send(&h, &q, &[("x-sluice-cache-refresh", "1")]).await.0,
        "refresh"
    );
    assert_eq!(send(&h, &q, &[]).await.0, "hit");
    assert_eq!(chat_calls(&h), 5);
    // A custom key replaces the body in the key.
    let k = [("x-sluice-cache-key", "faq-42")];
    assert_eq!(send(&h, &ask("one wording"), &k).await.0, "miss");
    assert_eq!(send(&h, &ask("another wording"), &k).await.0, "hit");
    // A per-request TTL.
    let t = [("x-sluice-cache-ttl", "1")];
    assert_eq!(send(&h, &ask("short lived"), &t).await.0, "miss");
    assert_eq!(send(&h, &ask("short lived"), &[]).await.0, "hit");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(send(&h, &ask("short lived"), &[]).await.0, "miss");
}

#[tokio::test]
async fn a_route_can_turn_the_cache_off() {
    let h = Harness::start(CONFIG).await;
    for _ in 0..2 {
        let r = h.post("/nocache/v1/chat/completions", &ask("route")).await;
        assert_eq!(status(&r), "bypass");
    }
    assert_eq!(chat_calls(&h), 2);
}

#[tokio::test]
async fn a_streamed_answer_is_stored_and_replayed_as_chunks() {
    let h = Harness::start(CONFIG).await;
    let mut q = ask("tell me a story <<mock words=12>>");
    q["stream"] = json!(true);
    q["stream_options"] = json!({"include_usage": true});
    let (s1, b1) = send(&h, &q, &[]).await;
    let (s2, b2) = send(&h, &q, &[]).await;
    assert_eq!((s1.as_str(), s2.as_str()), ("miss", "hit"));
    assert_eq!(chat_calls(&h), 1);
    let text = |b: &str| -> (String, usize, bool) {
        let mut t = String::new();
        let mut n = 0;
        let mut usage = false;
        for d in sse_data(b) {
            if d == "[DONE]" {
                continue;
            }
            let v: Value = serde_json::from_str(&d).unwrap();
            if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
                t.push_str(c);
                n += 1;
            }
            usage |= v["usage"].is_object();
        }
        (t, n, usage)
    };
    let (t1, n1, u1) = text(&b1);
    let (t2, n2, u2) = text(&b2);
    assert_eq!(t1, t2);
    assert!(n2 >= 5, "replayed as several chunks: {n2}");
    assert_eq!(n1, n2);
    assert!(u1 && u2);
    assert!(b2.trim_end().ends_with("data: [DONE]"));
    // A streaming request is served a non-streamed answer cut into chunks.
    let plain = ask("plain first, then streamed <<mock words=9>>");
    let (s, complete) = send(&h, &plain, &[]).await;
    assert_eq!(s, "miss");
    let mut streamed = plain.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (s, b) = send(&h, &streamed, &[]).await;
    assert_eq!(s, "hit");
    let v: Value = serde_json::from_str(&complete).unwrap();
    let (t, n, u) = text(&b);
    assert_eq!(t, v["choices"][0]["message"]["content"].as_str().unwrap());
    assert!(n >= 5 && u, "{n} chunks");
    assert_eq!(chat_calls(&h), 2);
    // A cut stream is never stored.
    let mut cut = ask("cut me <<mock words=12 cut_after=3>>");
    cut["stream"] = json!(true);
    for _ in 0..2 {
        let _ = h.chat(&cut).await.text().await;
    }
    assert_eq!(chat_calls(&h), 4);
}

#[tokio::test]
async fn fifty_concurrent_identical_misses_make_one_upstream_call() {
    let h = Harness::start(CONFIG).await;
    let q = ask("slow one <<mock ttft_ms=300>>");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url, q) = (h.client(), h.endpoint("/v1/chat/completions"), q.clone());
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).json(&q).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let s = status(&r);
            (s, r.text().await.unwrap())
        }));
    }
    let mut bodies = Vec::new();
    let mut misses = 0;
    for t in tasks {
        let (s, b) = t.await.unwrap();
        misses += usize::from(s == "miss");
        bodies.push(b);
    }
    assert_eq!(chat_calls(&h), 1, "one upstream call for 50 requests");
    assert_eq!(misses, 1);
    assert!(bodies.iter().all(|b| *b == bodies[0]));
}

#[tokio::test]
async fn the_messages_surface_is_cached_in_its_own_dialect() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "claude", "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello messages"}]});
    let r1 = h.post("/v1/messages", &body).await;
    assert_eq!(status(&r1), "miss");
    let b1 = r1.text().await.unwrap();
    let r2 = h.post("/v1/messages", &body).await;
    assert_eq!(status(&r2), "hit");
    assert_eq!(b1, r2.text().await.unwrap());
    let v: Value = serde_json::from_str(&b1).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(chat_calls(&h), 1);
}

const SEMANTIC: &str = r#"
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
cache:
  enabled: true
  semantic:
    embedding_model: embed
    threshold: 0.7
    path: INDEX_PATH
"#;

#[tokio::test]
async fn a_paraphrase_hits_the_semantic_cache_and_an_unrelated_question_misses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("semantic.json");
    let yaml = SEMANTIC.replace("INDEX_PATH", &path.display().to_string());
    let h = Harness::start(&yaml).await;
    let r = h.chat(&ask("What is the capital city of France?")).await;
    assert_eq!(status(&r), "miss");
    let original = r.text().await.unwrap();
    let r = h
        .chat(&ask("Tell me the capital city of France please"))
        .await;
    assert_eq!(status(&r), "hit");
    let sim: f64 = r.headers()["x-sluice-cache-similarity"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.7..1.0).contains(&sim), "{sim}");
    assert_eq!(r.text().await.unwrap(), original);
    let r = h.chat(&ask("How do I bake sourdough bread at home?")).await;
    assert_eq!(status(&r), "miss");
    assert_eq!(chat_calls(&h), 2);
    let hit = h
        .records(6)
        .await
        .into_iter()
        .find(|r| r.cache.as_deref() == Some("hit"))
        .unwrap();
    assert!((hit.cache_similarity.unwrap() - sim).abs() < 1e-3);
    // The index is saved, and a restarted gateway finds it (the answers
    // themselves are in memory, so only the index file is checked).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let saved = std::fs::read(&path).unwrap();
    let items: Vec<Value> = serde_json::from_slice(&saved).unwrap();
    assert_eq!(items.len(), 2);
}

#[tokio::test]
async fn a_failed_leader_hands_over_instead_of_releasing_the_herd() {
    let h = Harness::start(CONFIG).await;
    h.client()
        .post(format!("{}/__mock/script", h.mock.url()))
        .json(&json!([{"status": 400, "header_delay_ms": 200}]))
        .send()
        .await
        .unwrap();
    let q = ask("herd <<mock ttft_ms=300>>");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, url, q) = (h.client(), h.endpoint("/v1/chat/completions"), q.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&q)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort_unstable();
    assert_eq!(codes.iter().filter(|c| **c == 400).count(), 1, "{codes:?}");
    assert_eq!(chat_calls(&h), 2, "the failed leader, then one new leader");
}
