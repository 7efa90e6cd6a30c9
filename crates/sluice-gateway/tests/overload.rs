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
