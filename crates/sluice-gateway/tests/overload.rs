//! Load shedding: over `server.max_in_flight`, requests are refused at once
//! with 503 and `Retry-After` in the client's dialect, recorded as `shed`,
//! and the in-flight gauge returns to zero.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::Harness;

const CONFIG: &str = r#"
server:
  max_in_flight: 4
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: gpt
    provider: mock
    model: mock-gpt
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn excess_requests_are_shed_fast_and_recorded() {
    let h = Harness::start(CONFIG).await;
    let slow = json!({"model": "gpt", "stream": true,
        "messages": [{"role": "user", "content": "<<mock ttft_ms=3000>> slow"}]});
    let started = Instant::now();
    let results = futures_util::future::join_all((0..20).map(|_| async {
        let r = h.post("/v1/chat/completions", &slow).await;
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let took = started.elapsed();
        let body = r.text().await.unwrap();
        (status, retry, took, body)
    }))
    .await;
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let shed: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert_eq!(
        ok,
        4,
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert_eq!(shed.len(), 16);
    for (_, retry, took, body) in &shed {
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(
            *took < Duration::from_millis(2500),
            "shed at once, not queued: {took:?}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["type"], "server_error");
        assert_eq!(v["error"]["code"], "overloaded");
    }
    // The Anthropic surface refuses in its own dialect.
    let hold = tokio::spawn({
        let client = h.client();
        let url = h.endpoint("/v1/chat/completions");
        let slow = slow.clone();
        async move {
            let f = (0..4).map(|_| client.post(&url).json(&slow).send());
            for r in futures_util::future::join_all(f).await {
                let _ = r.unwrap().bytes().await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = h
        .post("/v1/messages", &json!({"model": "gpt", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "overloaded_error");
    hold.await.unwrap();

    let records = h.records(25).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r.outcome.as_str() == "shed")
            .count(),
        17
    );
    let metrics = h
        .client()
        .get(h.endpoint("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sluice_in_flight_requests 0"),
        "the gauge returns to zero"
    );
    assert!(metrics.contains("sluice_rejections_total{reason=\"shed\"} 17"));
}

const PER_UPSTREAM: &str = r#"
providers:
  small:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    max_in_flight: 2
  spare:
    type: openai
    base_url: MOCK_B_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: only-small
    provider: small
    model: mock-gpt
  - name: with-spare
    strategy: priority
    targets:
      - { provider: small, model: mock-gpt }
      - { provider: spare, model: mock-gpt }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_upstream_falls_back_or_sheds_without_tripping_its_breaker() {
    let h = Harness::start_two(PER_UPSTREAM).await;
    let slow = |model: &str| {
        json!({"model": model, "stream": true,
            "messages": [{"role": "user", "content": "<<mock ttft_ms=1500>> slow"}]})
    };
    // Five at once to a provider that takes two: three are shed at once.
    let started = Instant::now();
    let results = futures_util::future::join_all((0..5).map(|_| async {
        let r = h.post("/v1/chat/completions", &slow("only-small")).await;
        let status = r.status().as_u16();
        let retry = r.headers().get("retry-after").cloned();
        let took = started.elapsed();
        let body = r.text().await.unwrap();
        (status, retry, took, body)
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 503, 503, 503], "{results:?}");
    for (_, retry, took, body) in results.iter().filter(|r| r.0 == 503) {
        assert_eq!(retry.as_ref().unwrap(), "1");
        assert!(
            *took < Duration::from_millis(1200),
            "shed, not queued: {took:?}"
        );
        assert!(body.contains("max_in_flight"), "{body}");
    }
    // With a second target, the overflow falls back instead.
    let results = futures_util::future::join_all((0..4).map(|_| async {
        h.post("/v1/chat/completions", &slow("with-spare"))
            .await
            .status()
    }))
    .await;
    assert!(results.iter().all(|s| s.as_u16() == 200), "{results:?}");
    let spare = h.mock_b.as_ref().unwrap().requests().len();
    assert_eq!(spare, 2, "two of four went to the spare target");
    // Being full is not a failure: the breakers stay closed.
    let routes = serde_json::to_value(h.gw.routes_view())
        .unwrap()
        .to_string();
    assert!(!routes.contains("\"open\""), "{routes}");
    let records = h.records(9).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r.outcome.as_str() == "shed")
            .count(),
        3
    );
    assert_eq!(
        h.gw.stats().gate("small").in_flight(),
        0,
        "permits are returned"
    );
}
