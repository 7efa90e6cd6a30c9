//! OpenAI clients reaching Replicate through the gateway: predictions
//! created, waited for or polled, streamed from their SSE URL, and canceled
//! when abandoned.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::Duration;

use serde_json::{Value, json};
use sluice_mock::Received;
use sluice_protocol::UsageSource;
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY, sse_data};

const CONFIG: &str = r#"
providers:
  rep:
    type: replicate
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  rep-short:
    type: replicate
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 2s }
models:
  - name: llama
    provider: rep
    model: meta/meta-llama-3-8b-instruct
    # One attempt: these tests count predictions and cancels exactly.
    retries: { attempts: 1 }
  - name: pinned
    provider: rep
    model: acme/tuned-llm:5c7d5dc6dd8bf75c1acaa8565735e7986bc5b662
  - name: deployed
    provider: rep
    model: deployments/acme/my-llm
  - name: short
    provider: rep-short
    model: meta/meta-llama-3-8b-instruct
"#;

fn bearer(r: &Received) -> bool {
    r.header("authorization") == Some(format!("Bearer {PROVIDER_KEY}").as_str())
}

fn chunks(text: &str) -> Vec<Value> {
    let events = sse_data(text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

#[tokio::test]
async fn waits_then_polls_until_the_prediction_succeeds() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .chat(
            &json!({"model": "llama", "max_tokens": 100, "temperature": 0.5, "stop": ["END"],
            "user": "u1", "messages": [
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "first"}, {"role": "assistant", "content": "ahoy"},
            {"role": "user", "content": "second"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-dropped-params"], "user");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from meta/meta-llama-3-8b-instruct: second"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["model"], "meta/meta-llama-3-8b-instruct");
    let reqs = h.mock.requests();
    let create = &reqs[0];
    assert_eq!(create.method, "POST");
    assert_eq!(
        create.path,
        "/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    );
    assert!(bearer(create));
    assert_eq!(create.header("prefer"), Some("wait=9"));
    assert_eq!(
        create.body,
        json!({"input": {"prompt": "User: first\n\nAssistant: ahoy\n\nUser: second",
            "system_prompt": "You are a pirate.", "max_tokens": 100, "max_new_tokens": 100,
            "temperature": 0.5, "stop_sequences": "END"}})
    );
    // The create call returned `processing`: the first poll still is, the
    // second one has the output.
    let polls: Vec<&Received> = reqs[1..].iter().collect();
    assert_eq!(
        polls.len(),
        2,
        "{:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    for p in &polls {
        assert_eq!(
            (p.method.as_str(), p.path.as_str()),
            ("GET", "/v1/predictions/mockpred1")
        );
        assert!(bearer(p));
    }
    let reported = create.usage.clone().unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], reported["input_token_count"]);
    assert_eq!(
        v["usage"]["completion_tokens"],
        reported["output_token_count"]
    );
    let recs = h.records(1).await;
    assert_eq!(recs[0].usage.unwrap().source, UsageSource::Provider);
}

#[tokio::test]
async fn prefer_wait_can_answer_at_once_and_other_targets() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .chat(&json!({"model": "llama", "max_tokens": 3, "messages": [{"role": "user", "content": "<<mock polls=0>> one two three"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Mock reply from");
    assert_eq!(
        v["choices"][0]["finish_reason"], "length",
        "capped at max_tokens"
    );
    assert_eq!(h.mock.requests().len(), 1, "no polling needed");

    let v: Value = h
        .chat(&json!({"model": "pinned", "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from 5c7d5dc6dd8bf75c1acaa8565735e7986bc5b662: hi"
    );
    let create = &h.mock.requests()[1];
    assert_eq!(create.path, "/v1/predictions");
    assert_eq!(
        create.body["version"],
        "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b662"
    );
    assert_eq!(create.body["input"], json!({"prompt": "hi"}));

    h.chat(&json!({"model": "deployed", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    let paths: Vec<String> = h.mock.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/v1/deployments/acme/my-llm/predictions".to_owned()));
}

#[tokio::test]
async fn streams_from_the_stream_url_with_usage() {
    let h = Harness::start(CONFIG).await;
    let text = h
        .chat(
            &json!({"model": "llama", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream this"}]}),
        )
        .await
        .text()
        .await
        .unwrap();
    let chunks = chunks(&text);
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        content,
        "Mock reply from meta/meta-llama-3-8b-instruct: stream this"
    );
    let finishes: Vec<_> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, ["stop"]);
    let reqs = h.mock.requests();
    let create = &reqs[0];
    assert_eq!(create.body["stream"], true);
    assert_eq!(create.header("prefer"), None);
    let stream = &reqs[1];
    assert_eq!(
        (stream.method.as_str(), stream.path.as_str()),
        ("GET", "/v1/predictions/mockpred1/stream")
    );
    assert_eq!(stream.header("accept"), Some("text/event-stream"));
    assert!(bearer(stream));
    // The finished prediction is fetched once, for its token counts.
    assert_eq!(reqs[2].path, "/v1/predictions/mockpred1");
    let reported = create.usage.clone().unwrap();
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], reported["input_token_count"]);
    assert_eq!(usage["completion_tokens"], reported["output_token_count"]);
    assert!(chunks.iter().all(|c| c["id"] == "mockpred1"));
}

async fn wait_for_cancels(h: &Harness, n: usize) -> Vec<Received> {
    for _ in 0..100 {
        let cancels: Vec<Received> = h
            .mock
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/cancel"))
            .collect();
        if cancels.len() >= n {
            return cancels;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("expected {n} cancel requests: {:?}", h.mock.requests());
}

#[tokio::test]
async fn broken_and_failed_predictions() {
    let h = Harness::start(CONFIG).await;
    // A prediction that fails: the final poll says `failed`.
    let resp = h
        .chat(&json!({"model": "llama", "messages": [{"role": "user", "content": "<<mock error_after=1 message=CUDA+out+of+memory>>"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CUDA out of memory"),
        "{v}"
    );
    assert_eq!(v["error"]["code"], "prediction_failed");
    // In a stream: an `error` event, then an error event for the client.
    for directive in ["error_after=3", "malformed_after=3", "cut_after=3"] {
        let text = h
            .chat(&json!({"model": "llama", "stream": true, "messages": [{"role": "user", "content": format!("<<mock {directive} words=10>>")}]}))
            .await
            .text()
            .await
            .unwrap();
        let last: Value = serde_json::from_str(sse_data(&text).last().unwrap()).unwrap();
        assert!(last["error"].is_object(), "{directive}: {text}");
    }
    // After a malformed event or a cut, the prediction may still be running:
    // it is canceled. After an `error` event it is over already.
    let cancels = wait_for_cancels(&h, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(wait_for_cancels(&h, 2).await.len(), 2);
    let creates: Vec<u64> = h
        .mock
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/predictions"))
        .map(|r| r.seq)
        .collect();
    let ids: Vec<&str> = cancels.iter().map(|c| c.path.as_str()).collect();
    let expected: Vec<String> = creates[2..]
        .iter()
        .map(|seq| format!("/v1/predictions/mockpred{seq}/cancel"))
        .collect();
    assert_eq!(
        ids, expected,
        "the malformed and the cut streams' predictions"
    );
    assert!(cancels.iter().all(|c| c.method == "POST" && bearer(c)));
    let recs = h.records(4).await;
    assert_eq!(
        recs.iter()
            .filter(|r| r.outcome == Outcome::StreamError)
            .count(),
        3
    );
}

#[tokio::test]
async fn an_abandoned_prediction_is_canceled() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .chat(&json!({"model": "short", "messages": [{"role": "user", "content": "<<mock polls=1000>> slow"}]}))
        .await;
    assert_eq!(resp.status(), 504);
    let cancels = wait_for_cancels(&h, 1).await;
    assert_eq!(cancels[0].path, "/v1/predictions/mockpred1/cancel");
    let polls = h
        .mock
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert!((2..=4).contains(&polls), "polled {polls} times in 2s");
}

#[tokio::test]
async fn errors_and_refusals() {
    let h = Harness::start(CONFIG).await;
    for (directive, status, code) in [
        ("status=429 retry_after=2", 429, "rate_limit_exceeded"),
        ("status=500", 502, ""),
        ("status=401", 502, ""),
        ("status=422", 400, ""),
        ("status=404", 404, ""),
    ] {
        let resp = h
            .chat(&json!({"model": "llama", "messages": [{"role": "user", "content": format!("<<mock {directive}>>")}]}))
            .await;
        assert_eq!(resp.status(), status, "{directive}");
        if status == 429 {
            assert_eq!(resp.headers()["retry-after"], "2");
        }
        let v: Value = resp.json().await.unwrap();
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{v}");
        if !code.is_empty() {
            assert_eq!(v["error"]["code"], code);
        }
        assert!(!v.to_string().contains(PROVIDER_KEY));
    }
    h.mock.state().reset();
    for extra in [
        json!({"tools": [{"type": "function", "function": {"name": "f"}}]}),
        json!({"response_format": {"type": "json_object"}}),
        json!({"n": 2}),
        json!({"stop": ["a,b"]}),
    ] {
        let mut body = json!({"model": "llama", "messages": [{"role": "user", "content": "x"}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = h.chat(&body).await;
        assert_eq!(resp.status(), 400, "{extra}");
    }
    assert!(h.mock.requests().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn missing_metrics_are_estimated() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .chat(&json!({"model": "llama", "messages": [{"role": "user", "content": "<<mock no_usage>> hi"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert!(v.get("usage").is_none(), "{v}");
    let recs = h.records(1).await;
    assert_eq!(recs[0].usage.unwrap().source, UsageSource::Estimated);
}
