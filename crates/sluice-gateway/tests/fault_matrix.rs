//! The fault matrix: every upstream fault, streamed and not, before and
//! after the first byte. For each: what the client sees, what the ledger
//! records, that no request goes unrecorded, and that the in-flight gauge
//! returns to zero. `docs/failure-modes.md` is the same table in prose.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::Duration;

use serde_json::json;
use support::Harness;

const CONFIG: &str = r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { connect: 1s, first_token: 2s, idle: 2s, total: 20s }
  dead:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: env:PROVIDER_KEY
    timeouts: { connect: 1s, first_token: 1s, idle: 1s, total: 10s }
models:
  - name: gpt
    provider: mock
    model: mock-gpt
  - name: dead
    provider: dead
    model: mock-gpt
"#;

/// One row: the fault, the model, streamed or not, and what must happen.
struct Case {
    name: &'static str,
    model: &'static str,
    directive: &'static str,
    stream: bool,
    /// The HTTP status the client gets.
    status: u16,
    /// A streamed answer that started must end with an error event, never
    /// with `[DONE]`.
    error_in_stream: bool,
    /// The ledger's outcome.
    outcome: &'static str,
}

const fn case(
    name: &'static str,
    model: &'static str,
    directive: &'static str,
    stream: bool,
    status: u16,
    error_in_stream: bool,
    outcome: &'static str,
) -> Case {
    Case {
        name,
        model,
        directive,
        stream,
        status,
        error_in_stream,
        outcome,
    }
}

const CASES: &[Case] = &[
    case(
        "429 + Retry-After",
        "gpt",
        "status=429 retry_after=5",
        false,
        429,
        false,
        "upstream_error",
    ),
    case(
        "429 + Retry-After, streamed",
        "gpt",
        "status=429 retry_after=5",
        true,
        429,
        false,
        "upstream_error",
    ),
    case(
        "5xx",
        "gpt",
        "status=500",
        false,
        502,
        false,
        "upstream_error",
    ),
    case(
        "5xx, streamed",
        "gpt",
        "status=503",
        true,
        503,
        false,
        "upstream_error",
    ),
    case(
        "connect refused",
        "dead",
        "",
        false,
        502,
        false,
        "upstream_error",
    ),
    case(
        "connect refused, streamed",
        "dead",
        "",
        true,
        502,
        false,
        "upstream_error",
    ),
    case(
        "hang before headers",
        "gpt",
        "hang",
        false,
        504,
        false,
        "timeout",
    ),
    case(
        "hang before headers, streamed",
        "gpt",
        "hang",
        true,
        504,
        false,
        "timeout",
    ),
    case(
        "stall mid-stream",
        "gpt",
        "stall_after=2",
        true,
        200,
        true,
        "timeout",
    ),
    case(
        "cut stream",
        "gpt",
        "cut_after=2",
        true,
        200,
        true,
        "stream_error",
    ),
    case(
        "error event inside a 200",
        "gpt",
        "error_after=2",
        true,
        200,
        true,
        "stream_error",
    ),
    case(
        "malformed SSE",
        "gpt",
        "malformed_after=2",
        true,
        200,
        true,
        "stream_error",
    ),
    case(
        "invalid JSON",
        "gpt",
        "invalid_json",
        false,
        502,
        false,
        "upstream_error",
    ),
    case(
        "huge response",
        "gpt",
        "huge_bytes=2000000",
        false,
        200,
        false,
        "ok",
    ),
    case(
        "huge response, streamed",
        "gpt",
        "huge_bytes=2000000",
        true,
        200,
        false,
        "ok",
    ),
];

async fn record_of(h: &Harness, id: &str) -> sluice_store::RequestRecord {
    for _ in 0..500 {
        if let Some(r) = h.sink.records().into_iter().find(|r| r.request_id == id) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no record for {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_is_answered_recorded_and_released() {
    let h = Harness::start(CONFIG).await;
    let mut failures = Vec::new();
    for c in CASES {
        let text = if c.directive.is_empty() {
            "hello".to_owned()
        } else {
            format!("<<mock {}>> hello", c.directive)
        };
        let mut body = json!({"model": c.model, "messages": [{"role": "user", "content": text}]});
        if c.stream {
            body["stream"] = json!(true);
        }
        let r = h.post("/v1/chat/completions", &body).await;
        let status = r.status().as_u16();
        let id = r.headers()["x-sluice-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = tokio::time::timeout(Duration::from_secs(15), r.text())
            .await
            .expect("the answer ends")
            .unwrap_or_default();
        let ended_with_error =
            text.contains("\"error\"") && !text.trim_end().ends_with("data: [DONE]");
        let record = record_of(&h, &id).await;
        let got = (
            status,
            c.stream && status == 200 && ended_with_error,
            record.outcome.as_str(),
        );
        if got != (c.status, c.error_in_stream, c.outcome) {
            failures.push(format!(
                "{}: want ({}, {}, {}), got {:?}",
                c.name, c.status, c.error_in_stream, c.outcome, got
            ));
        }
        if status >= 400 {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if v["error"]["message"].as_str().is_none() {
                failures.push(format!(
                    "{}: error body not in OpenAI shape: {text:.200}",
                    c.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let records = h.records(CASES.len()).await;
    assert_eq!(records.len(), CASES.len(), "no request goes unrecorded");
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
        "in-flight returns to zero"
    );
}
