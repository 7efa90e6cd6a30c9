//! Remote content-safety guardrails through the gateway: a mocked Azure AI
//! Content Safety endpoint (the real `text:analyze` request and response
//! shape), the OpenAI moderation endpoint and the generic webhook; timeouts
//! follow the configured fail-open or fail-closed choice, and the ledger
//! never says a check passed when it did not run.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};
use support::{BASIC, Harness, PROVIDER_KEY};

/// What the safety mock received: path and query, headers, body.
type Seen = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

/// One service answering for Azure, OpenAI moderation and the webhook.
/// Text containing `violent` scores high; `slow` answers after 3 s.
async fn service(State(seen): State<Seen>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = v.to_string();
    seen.lock().push((uri.to_string(), headers, v));
    if text.contains("slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let violent = text.contains("violent");
    let path = uri.path();
    let answer = if path.ends_with("/contentsafety/text:analyze") {
        json!({
            "blocklistsMatch": if text.contains("badword") {
                json!([{"blocklistName": "terms", "blocklistItemId": "1", "blocklistItemText": "badword"}])
            } else { json!([]) },
            "categoriesAnalysis": [
                {"category": "Hate", "severity": 0},
                {"category": "SelfHarm", "severity": 0},
                {"category": "Sexual", "severity": 0},
                {"category": "Violence", "severity": if violent { 6 } else { 2 }},
            ]
        })
    } else if path.ends_with("/moderations") {
        json!({"id": "modr-1", "model": "omni-moderation-latest", "results": [{
            "flagged": violent,
            "categories": {"violence": violent, "hate": false},
            "category_scores": {"violence": if violent { 0.93 } else { 0.01 }, "hate": 0.0},
        }]})
    } else {
        json!({"action": if violent { "block" } else { "allow" },
               "reason": "test service", "categories": if violent { json!(["violence"]) } else { json!([]) }})
    };
    axum::Json(answer).into_response()
}

async fn start_service() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new().fallback(service).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn gateway(guardrails: &str) -> (Harness, Seen) {
    let (url, seen) = start_service().await;
    let yaml = format!(
        "{BASIC}\nguardrails:\n{}",
        guardrails.replace("SAFETY_URL", &url)
    );
    (Harness::start(&yaml).await, seen)
}

fn user(text: &str) -> Value {
    json!({"model": "gpt-test", "messages": [{"role": "user", "content": text}]})
}

const AZURE: &str = r#"
  policies:
    azure:
      type: azure_content_safety
      endpoint: SAFETY_URL
      api_key: env:PROVIDER_KEY
      categories: { Hate: 2, Violence: 4 }
      blocklists: [terms]
      timeout: 500ms
      on_error: closed
    azure-open:
      type: azure_content_safety
      endpoint: SAFETY_URL
      api_key: env:PROVIDER_KEY
      timeout: 500ms
      on_error: open
  rules:
    - match: { routes: [default] }
      policies: [azure]
    - match: { routes: [pinned] }
      policies: [azure-open]
"#;

#[tokio::test]
async fn azure_blocks_above_the_severity_threshold() {
    let (h, seen) = gateway(AZURE).await;
    let resp = h.chat(&user("a violent story")).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "content_blocked", "{err}");
    assert!(h.mock.requests().is_empty(), "the prompt never left");

    let (uri, headers, body) = seen.lock()[0].clone();
    assert_eq!(uri, "/contentsafety/text:analyze?api-version=2024-09-01");
    assert_eq!(headers["ocp-apim-subscription-key"], PROVIDER_KEY);
    assert_eq!(body["text"], "a violent story");
    assert_eq!(body["categories"], json!(["Hate", "Violence"]));
    assert_eq!(body["blocklistNames"], json!(["terms"]));
    assert_eq!(body["haltOnBlocklistHit"], false);
    assert_eq!(body["outputType"], "FourSeverityLevels");

    let ok = h.chat(&user("a calm story")).await;
    assert_eq!(ok.status(), 200, "severity 2 is under the threshold of 4");
    let blocklisted = h.chat(&user("say badword")).await;
    assert_eq!(blocklisted.status(), 400);

    let recs = h.records(3).await;
    let by_outcome = |o: &str| {
        recs.iter()
            .flat_map(|r| r.guardrails.iter())
            .filter(|e| e.outcome == o)
            .cloned()
            .collect::<Vec<_>>()
    };
    let blocked = by_outcome("blocked");
    assert_eq!(blocked.len(), 2);
    assert!(blocked.iter().all(|e| e.ran));
    assert!(
        blocked
            .iter()
            .any(|e| e.detections.iter().any(|d| d.detector == "Violence"))
    );
    assert!(
        blocked
            .iter()
            .any(|e| e.detections.iter().any(|d| d.detector == "blocklist:terms"))
    );
    assert_eq!(by_outcome("passed").len(), 1);
}

#[tokio::test]
async fn azure_timeouts_follow_fail_closed_and_fail_open() {
    let (h, _seen) = gateway(AZURE).await;
    let closed = h.chat(&user("slow request")).await;
    assert_eq!(closed.status(), 400, "fail closed");
    let err: Value = closed.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be checked"),
        "{err}"
    );
    assert!(h.mock.requests().is_empty());

    let open = h
        .post("/pinned/v1/chat/completions", &user("slow request"))
        .await;
    assert_eq!(open.status(), 200, "fail open");
    assert_eq!(h.mock.requests().len(), 1);

    let recs = h.records(2).await;
    let events: Vec<_> = recs.iter().flat_map(|r| r.guardrails.iter()).collect();
    assert_eq!(events.len(), 2);
    for e in &events {
        assert!(!e.ran, "a timed-out check did not run: {e:?}");
        assert_ne!(e.outcome, "passed");
    }
    let outcomes: Vec<_> = events.iter().map(|e| e.outcome.as_str()).collect();
    assert!(outcomes.contains(&"error_fail_closed") && outcomes.contains(&"error_fail_open"));
}

#[tokio::test]
async fn openai_moderation_and_webhook_block_flagged_prompts() {
    let cfg = r#"
  policies:
    moderation:
      type: openai_moderation
      base_url: SAFETY_URL/v1
      api_key: env:PROVIDER_KEY
      on_error: closed
    hook:
      type: webhook
      url: SAFETY_URL/check
      headers: { x-tenant: acme }
      stages: [input, output]
      on_error: open
  rules:
    - match: { routes: [default] }
      policies: [moderation]
    - match: { routes: [pinned] }
      policies: [hook]
"#;
    let (h, seen) = gateway(cfg).await;
    assert_eq!(h.chat(&user("violent")).await.status(), 400);
    assert_eq!(h.chat(&user("fine")).await.status(), 200);
    {
        let seen = seen.lock();
        let (uri, headers, body) = &seen[0];
        assert_eq!(uri, "/v1/moderations");
        assert_eq!(headers["authorization"], format!("Bearer {PROVIDER_KEY}"));
        assert_eq!(body["model"], "omni-moderation-latest");
        assert_eq!(body["input"], "violent");
    }
    assert_eq!(
        h.post("/pinned/v1/chat/completions", &user("violent"))
            .await
            .status(),
        400
    );
    let ok = h.post("/pinned/v1/chat/completions", &user("fine")).await;
    assert_eq!(ok.status(), 200);
    let seen = seen.lock();
    let hooks: Vec<_> = seen.iter().filter(|(u, _, _)| u == "/check").collect();
    // Blocked prompt: one input call. Clean one: input, then output.
    assert_eq!(hooks.len(), 3);
    let (_, headers, body) = hooks[0];
    assert_eq!(headers["x-tenant"], "acme");
    assert_eq!(body["stage"], "input");
    assert_eq!(body["policy"], "hook");
    assert_eq!(body["route"], "pinned");
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(
        body["messages"][0],
        json!({"role": "user", "text": "violent"})
    );
    assert_eq!(hooks[2].2["stage"], "output");
    assert_eq!(hooks[2].2["messages"][0]["role"], "assistant");
}

#[tokio::test]
async fn streamed_answers_say_remote_output_checks_did_not_run() {
    let cfg = r#"
  policies:
    hook: { type: webhook, url: SAFETY_URL/check, stages: [output], on_error: open }
  global: [hook]
"#;
    let (h, _seen) = gateway(cfg).await;
    let mut body = user("fine");
    body["stream"] = json!(true);
    let text = h.chat(&body).await.text().await.unwrap();
    assert!(text.contains("[DONE]"));
    let rec = &h.records(1).await[0];
    assert_eq!(rec.guardrails.len(), 1);
    assert!(!rec.guardrails[0].ran);
    assert_eq!(rec.guardrails[0].outcome, "not_run");
}
