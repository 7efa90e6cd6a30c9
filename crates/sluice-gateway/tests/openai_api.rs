//! The OpenAI-compatible surface against the mock provider, in process.

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_store::Outcome;
use support::{BASIC, Harness, PROVIDER_KEY, sse_data};

#[tokio::test]
async fn chat_reaches_upstream_with_provider_key_and_intact_body() {
    let h = Harness::start(BASIC).await;
    let body = json!({
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "Hello there"}],
        "temperature": 0.3, "seed": 7, "n": 1, "logprobs": false, "user": "u-1",
        "response_format": {"type": "text"},
        "some_future_param": {"nested": [1, 2, 3]},
    });
    let resp = h
        .client()
        .post(h.endpoint("/v1/chat/completions"))
        .bearer_auth("sk-client-key-should-not-travel")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "mock");
    assert_eq!(resp.headers()["x-sluice-model"], "mock-gpt");
    assert!(resp.headers().contains_key("x-sluice-request-id"));
    assert!(
        resp.headers()["x-sluice-overhead-ms"]
            .to_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            >= 0.0
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from mock-gpt: Hello there"
    );

    let got = h.mock.requests();
    assert_eq!(got.len(), 1);
    let up = &got[0];
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    let mut expected = body.clone();
    expected["model"] = json!("mock-gpt");
    assert_eq!(
        up.body, expected,
        "every parameter reaches the upstream untouched"
    );

    let recs = h.records(1).await;
    let r = &recs[0];
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.meta.request_model.as_deref(), Some("gpt-test"));
    assert_eq!(r.meta.response_model.as_deref(), Some("mock-gpt"));
    assert_eq!(r.meta.provider_name.as_deref(), Some("mock"));
    let usage = r.usage.unwrap();
    assert_eq!(usage.completion_tokens, 6);
    assert_eq!(r.attempts.len(), 1);
}

#[tokio::test]
async fn streaming_passes_chunks_and_injects_usage_upstream() {
    let h = Harness::start(BASIC).await;
    let resp = h.chat(&json!({"model": "gpt-test", "stream": true, "messages": [{"role": "user", "content": "one two three"}]})).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = resp.text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let content: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, "Mock reply from mock-gpt: one two three");
    assert!(
        events.iter().all(|e| !e.contains("\"choices\":[]")),
        "the usage-only chunk the client did not ask for is not forwarded"
    );
    let up = &h.mock.requests()[0];
    assert_eq!(up.body["stream_options"]["include_usage"], true);
    let recs = h.records(1).await;
    assert_eq!(recs[0].usage.unwrap().completion_tokens, 7);
    assert!(recs[0].ttft_ms.is_some());
    assert!(recs[0].stream);
}

#[tokio::test]
async fn streaming_keeps_usage_chunk_when_client_asks() {
    let h = Harness::start(BASIC).await;
    let text = h
        .client()
        .post(h.endpoint("/v1/chat/completions"))
        .json(
            &json!({"model": "gpt-test", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_data(&text);
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn tool_calls_pass_through_streamed_and_not() {
    let h = Harness::start(BASIC).await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let v: Value = h
        .client()
        .post(h.endpoint("/v1/chat/completions"))
        .json(
            &json!({"model": "gpt-test", "tools": tools, "tool_choice": "auto",
            "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(h.mock.requests()[0].body["tools"], tools);
    let text = h
        .chat(&json!({"model": "gpt-test", "tools": tools, "stream": true,
            "messages": [{"role": "user", "content": "weather?"}]}))
        .await
        .text()
        .await
        .unwrap();
    let args: String = sse_data(&text)
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock"})
    );
}

#[tokio::test]
async fn embeddings_and_models() {
    let h = Harness::start(BASIC).await;
    let v: Value = h
        .post(
            "/v1/embeddings",
            &json!({"model": "embed-test", "input": ["a cat", "a dog"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(h.mock.requests()[0].path, "/v1/embeddings");
    assert_eq!(h.mock.requests()[0].body["model"], "mock-embed");
    let v: Value = h
        .client()
        .get(h.endpoint("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gpt-test", "gpt-alias", "embed-test"]);
    assert_eq!(v["object"], "list");
}

#[tokio::test]
async fn wildcard_and_alias_resolution() {
    let h = Harness::start(BASIC).await;
    for (model, upstream) in [("mock/some-model", "some-model"), ("gpt-alias", "mock-gpt")] {
        let resp = h
            .chat(&json!({"model": model, "messages": [{"role": "user", "content": "x"}]}))
            .await;
        assert_eq!(resp.status(), 200, "{model}");
        assert_eq!(resp.headers()["x-sluice-model"], upstream);
    }
}

#[expect(clippy::unwrap_used, reason = "test helper")]
async fn error_of(
    h: &Harness,
    path: &str,
    body: reqwest::Body,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = h
        .client()
        .post(h.endpoint(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap(), headers)
}

#[tokio::test]
async fn client_errors_have_openai_shape() {
    let h = Harness::start(BASIC).await;
    let (s, v, _) = error_of(&h, "/v1/chat/completions", "{not json".into()).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (s, v, _) = error_of(
        &h,
        "/v1/chat/completions",
        r#"{"model":"nope","messages":[]}"#.into(),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("gpt-test"));
    let big = format!(
        r#"{{"model":"gpt-test","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(33 * 1024 * 1024)
    );
    let (s, v, _) = error_of(&h, "/v1/chat/completions", big.clone().into()).await;
    assert_eq!(s, 413);
    assert_eq!(v["error"]["code"], "request_too_large");
    // Chunked (no Content-Length): refused as it crosses the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(1 << 20)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let (s, _, _) = error_of(
        &h,
        "/v1/chat/completions",
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
    )
    .await;
    assert_eq!(s, 413);
    let resp = h
        .client()
        .get(h.endpoint("/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = h
        .client()
        .get(h.endpoint("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(h.mock.requests().is_empty(), "nothing reached the upstream");
    let recs = h.records(6).await;
    assert!(
        recs.iter().all(|r| r.outcome == Outcome::BadRequest),
        "{recs:?}"
    );
}

#[tokio::test]
async fn upstream_errors_map_to_clear_statuses() {
    let h = Harness::start(BASIC).await;
    for (directive, status, kind) in [
        ("status=429 retry_after=3", 429, "rate_limit_error"),
        ("status=500", 502, "server_error"),
        ("status=503", 503, "server_error"),
        ("status=400", 400, "invalid_request_error"),
        ("status=401", 502, "server_error"),
        ("invalid_json", 502, "server_error"),
    ] {
        let body = json!({"model": "gpt-test", "messages": [{"role": "user", "content": format!("<<mock {directive}>>")}]});
        let (s, v, headers) = error_of(&h, "/v1/chat/completions", body.to_string().into()).await;
        assert_eq!(s, status, "{directive}: {v}");
        assert_eq!(v["error"]["type"], kind, "{directive}");
        assert!(!v.to_string().contains(PROVIDER_KEY));
        if status == 429 {
            assert_eq!(headers["retry-after"], "3");
        }
    }
}

#[tokio::test]
async fn broken_streams_end_with_an_error_event_not_done() {
    let h = Harness::start(BASIC).await;
    for directive in ["cut_after=3", "error_after=2", "malformed_after=2"] {
        let text = h.chat(&json!({"model": "gpt-test", "stream": true,
                "messages": [{"role": "user", "content": format!("<<mock {directive} words=20>>")}]})).await
            .text()
            .await
            .unwrap();
        let events = sse_data(&text);
        let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert!(last["error"]["message"].is_string(), "{directive}: {text}");
        assert!(!text.contains("[DONE]"), "{directive}");
    }
    let recs = h.records(3).await;
    assert!(
        recs.iter().all(|r| r.outcome == Outcome::StreamError),
        "{recs:?}"
    );
}

#[tokio::test]
async fn hang_before_first_token_times_out() {
    let h = Harness::start(BASIC).await;
    let started = std::time::Instant::now();
    let resp = h.chat(&json!({"model": "gpt-test", "stream": true, "messages": [{"role": "user", "content": "<<mock hang>>"}]})).await;
    assert_eq!(resp.status(), 504);
    // One target: the default policy tries it twice (2s first-token timeout each).
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
    let recs = h.records(1).await;
    assert_eq!(recs[0].outcome, Outcome::Timeout);
    let outcomes: Vec<_> = recs[0]
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["upstream_timeout", "upstream_timeout"]);
    assert_eq!(h.mock.requests().len(), 2);
}

#[tokio::test]
async fn client_disconnect_cancels_upstream_and_is_recorded() {
    use futures_util::StreamExt;
    let h = Harness::start(BASIC).await;
    let resp = h
        .chat(&json!({"model": "gpt-test", "stream": true,
            "messages": [{"role": "user", "content": "<<mock words=200 itl_ms=20>>"}]}))
        .await;
    let mut body = resp.bytes_stream();
    let mut got = 0;
    while got < 3 {
        body.next().await.unwrap().unwrap();
        got += 1;
    }
    drop(body);
    let mut outcome = String::new();
    for _ in 0..100 {
        outcome = h.mock.requests()[0].outcome.clone();
        if outcome != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        outcome, "disconnected",
        "the upstream request was cancelled"
    );
    let recs = h.records(1).await;
    assert_eq!(recs[0].outcome, Outcome::ClientCancelled);
    let usage = recs[0].usage.expect("usage seen so far is recorded");
    assert!(usage.prompt_tokens > 0);
    assert_eq!(usage.source, sluice_protocol::UsageSource::Estimated);
}

#[tokio::test]
async fn routes_pin_or_reject_models() {
    let h = Harness::start(BASIC).await;
    let body = json!({"model": "mock/other", "messages": [{"role": "user", "content": "x"}]});
    let resp = h.post("/pinned/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-model"], "mock-gpt");
    let resp = h.post("/strict/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_allowed");
    let recs = h.records(2).await;
    assert!(recs.iter().any(|r| r.meta.route == "pinned"));
}

#[tokio::test]
async fn azure_urls_and_api_key_header() {
    let yaml = r#"
providers:
  az:
    type: azure
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    api_version: 2024-10-21
models:
  - name: gpt-4o
    provider: az
    model: my-deployment
  - name: emb
    provider: az
    model: my-embed
"#;
    let h = Harness::start(yaml).await;
    let resp = h
        .chat(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let resp = h
        .post("/v1/embeddings", &json!({"model": "emb", "input": "x"}))
        .await;
    assert_eq!(resp.status(), 200);
    let reqs = h.mock.requests();
    assert_eq!(
        reqs[0].path,
        "/openai/deployments/my-deployment/chat/completions"
    );
    assert_eq!(reqs[0].query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(reqs[0].header("api-key"), Some(PROVIDER_KEY));
    assert_eq!(reqs[0].header("authorization"), None);
    assert_eq!(reqs[1].path, "/openai/deployments/my-embed/embeddings");
}

#[tokio::test]
async fn keys_rotate_and_extra_headers_are_sent() {
    let yaml = r#"
providers:
  mock:
    type: openrouter
    base_url: MOCK_URL/api/v1
    api_keys: [env:PROVIDER_KEY, env:SECOND_KEY]
    headers: { HTTP-Referer: "https://example.com" }
models:
  - name: m
    provider: mock
"#;
    let h = Harness::start(yaml).await;
    for _ in 0..2 {
        let r = h
            .chat(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
            .await;
        assert_eq!(r.status(), 200);
    }
    let reqs = h.mock.requests();
    let auths: Vec<_> = reqs
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_ne!(auths[0], auths[1]);
    assert_eq!(reqs[0].path, "/api/v1/chat/completions");
    assert_eq!(reqs[0].header("http-referer"), Some("https://example.com"));
}

#[tokio::test]
async fn readiness_and_liveness() {
    let h = Harness::start(BASIC).await;
    let v: Value = h
        .client()
        .get(h.endpoint("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "ok");
    let v: Value = h
        .client()
        .get(h.endpoint("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["providers"], 1);
    assert!(!v.to_string().contains(PROVIDER_KEY));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(h.sink.records().is_empty(), "probes are not recorded");
}
