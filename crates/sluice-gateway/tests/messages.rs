//! Anthropic Messages clients (`POST /v1/messages`, `count_tokens`) through
//! the gateway: passed through faithfully to Anthropic, translated both ways
//! for OpenAI-wire and Gemini upstreams, errors in Anthropic's shape.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_mock::{Behavior, Step};
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY};

const CONFIG: &str = r#"
providers:
  claude:
    type: anthropic
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  oai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  gem:
    type: gemini
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - name: claude-test
    provider: claude
    model: claude-sonnet-4-5
  - name: gpt-test
    provider: oai
    model: mock-gpt
  - name: gemini-test
    provider: gem
    model: gemini-2.0-flash
  - name: claude-or-gpt
    targets:
      - { provider: claude, model: claude-sonnet-4-5 }
      - { provider: oai, model: mock-gpt }
routes:
  - name: pinned
    path: /pinned
    model: gpt-test
"#;

/// Splits an SSE body into `(event name, data)` pairs.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

async fn messages(h: &Harness, body: &Value) -> reqwest::Response {
    h.client()
        .post(h.endpoint("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-client-key-not-forwarded")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn tools() -> Value {
    json!([
        {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}}
    ])
}

#[tokio::test]
async fn anthropic_upstream_gets_the_clients_bytes_and_answers_untouched() {
    let h = Harness::start(CONFIG).await;
    let body = json!({
        "model": "claude-test", "max_tokens": 300,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "x_future_field": {"nested": [1, 2]},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello Claude", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]
    });
    let resp = h
        .client()
        .post(h.endpoint("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .header("x-api-key", "sk-client-key-not-forwarded")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "claude");
    assert!(resp.headers().get("x-sluice-dropped-params").is_none());
    let v: Value = resp.json().await.unwrap();
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/messages");
    let mut expected = body.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    assert_eq!(up.body, expected, "the upstream got the client's body");
    assert_eq!(up.header("x-api-key"), Some(PROVIDER_KEY));
    assert_eq!(
        up.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    // The answer is the upstream's own, thinking signature included.
    assert_eq!(v["type"], "message");
    assert_eq!(v["id"], format!("msg_mock{}", up.seq));
    assert_eq!(v["content"][0]["type"], "thinking");
    let signature = v["content"][0]["signature"].as_str().unwrap().to_owned();
    assert!(signature.starts_with("mock-signature-"));
    assert_eq!(
        v["content"][1]["text"],
        "Mock reply from claude-sonnet-4-5: Hello Claude"
    );
    let recs = h.records(1).await;
    let r = &recs[0];
    assert_eq!(r.meta.endpoint, "messages");
    assert_eq!(r.meta.provider_name.as_deref(), Some("claude"));
    assert_eq!(r.meta.request_model.as_deref(), Some("claude-test"));
    assert_eq!(r.meta.upstream_model.as_deref(), Some("claude-sonnet-4-5"));
    let u = r.usage.unwrap();
    assert_eq!(
        u.prompt_tokens,
        v["usage"]["input_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        u.completion_tokens,
        v["usage"]["output_tokens"].as_u64().unwrap()
    );

    // The thinking block goes back with its signature, byte for byte.
    let turn2 = json!({"model": "claude-test", "max_tokens": 300,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": "Hello Claude"},
            {"role": "assistant", "content": v["content"]},
            {"role": "user", "content": "Again"}]});
    assert_eq!(messages(&h, &turn2).await.status(), 200);
    let up2 = &h.mock.requests()[1];
    assert_eq!(
        up2.body["messages"][1]["content"][0]["signature"],
        signature
    );
    assert_eq!(up2.body["messages"], turn2["messages"]);
}

#[tokio::test]
async fn anthropic_stream_is_passed_through_event_by_event() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "claude-test", "max_tokens": 100, "stream": true, "tools": tools(),
        "tool_choice": {"type": "any"}, "messages": [{"role": "user", "content": "weather?"}]});
    let resp = messages(&h, &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let ev = events(&resp.text().await.unwrap());
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(
        names.contains(&"ping"),
        "events of every type are forwarded"
    );
    for (name, data) in &ev {
        assert_eq!(data["type"], name.as_str());
    }
    let tool_starts = ev
        .iter()
        .filter(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .count();
    assert_eq!(tool_starts, 2);
    let recs = h.records(1).await;
    let r = &recs[0];
    assert_eq!(r.outcome, Outcome::Ok);
    assert!(r.stream);
    assert!(r.ttft_ms.is_some());
    let up_usage = h.mock.requests()[0].usage.clone().unwrap();
    let u = r.usage.unwrap();
    assert_eq!(u.prompt_tokens, up_usage["input_tokens"].as_u64().unwrap());
    assert_eq!(
        u.completion_tokens,
        up_usage["output_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn openai_wire_upstream_is_translated_both_ways() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "gpt-test", "max_tokens": 64, "system": "Be brief.", "top_k": 5,
        "metadata": {"user_id": "u-1"}, "stop_sequences": ["END"],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello GPT", "cache_control": {"type": "ephemeral"}}]}]});
    let resp = messages(&h, &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "oai");
    assert_eq!(
        resp.headers()["x-sluice-dropped-params"],
        "cache_control,top_k"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Mock reply from mock-gpt: Hello GPT"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(
        up.body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello GPT"}])
    );
    // OpenAI's reasoning models only take `max_completion_tokens`.
    assert_eq!(up.body["max_completion_tokens"], 64);
    assert!(up.body.get("max_tokens").is_none());
    assert_eq!(up.body["stop"], json!(["END"]));
    assert_eq!(up.body["user"], "u-1");
    let up_usage = up.usage.clone().unwrap();
    assert_eq!(v["usage"]["input_tokens"], up_usage["prompt_tokens"]);
    assert_eq!(v["usage"]["output_tokens"], up_usage["completion_tokens"]);
    let recs = h.records(1).await;
    assert_eq!(recs[0].meta.endpoint, "messages");
    assert_eq!(recs[0].dropped_params, ["cache_control", "top_k"]);
    assert_eq!(
        recs[0].usage.unwrap().completion_tokens,
        up_usage["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn tool_use_round_trip_on_openai_wire() {
    let h = Harness::start(CONFIG).await;
    let v: Value = messages(
        &h,
        &json!({"model": "gpt-test", "max_tokens": 64, "tools": tools(),
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "messages": [{"role": "user", "content": "weather in Paris"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    let call = &v["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["input"], json!({"city": "mock"}));
    let up = &h.mock.requests()[0];
    assert_eq!(
        up.body["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    assert_eq!(
        up.body["tools"][0]["function"]["parameters"]["properties"]["city"]["type"],
        "string"
    );
    // The result goes back as a tool message.
    let v: Value = messages(&h, &json!({"model": "gpt-test", "max_tokens": 64, "tools": tools(),
        "messages": [{"role": "user", "content": "weather in Paris"},
            {"role": "assistant", "content": [call.clone()]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18C"}]}]}))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["content"][0]["text"], "Tool result received: 18C");
    let up = &h.mock.requests()[1];
    assert_eq!(up.body["messages"][1]["tool_calls"][0]["id"], call["id"]);
    assert_eq!(
        up.body["messages"][2],
        json!({"role": "tool", "content": "18C", "tool_call_id": call["id"]})
    );
}

#[tokio::test]
async fn openai_wire_stream_becomes_messages_events() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "gpt-test", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "stream it"}]});
    let resp = messages(&h, &body).await;
    assert_eq!(resp.status(), 200);
    let ev = events(&resp.text().await.unwrap());
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "message_start");
    assert_eq!(names[1], "content_block_start");
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    let text: String = ev
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Mock reply from mock-gpt: stream it");
    let up = &h.mock.requests()[0];
    assert_eq!(up.body["stream_options"], json!({"include_usage": true}));
    let up_usage = up.usage.clone().unwrap();
    let delta = &ev[ev.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(
        delta["usage"]["output_tokens"],
        up_usage["completion_tokens"]
    );
    assert_eq!(delta["usage"]["input_tokens"], up_usage["prompt_tokens"]);
    let recs = h.records(1).await;
    assert_eq!(recs[0].outcome, Outcome::Ok);
    assert_eq!(
        recs[0].usage.unwrap().prompt_tokens,
        up_usage["prompt_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn gemini_upstream_text_tools_and_stream() {
    let h = Harness::start(CONFIG).await;
    let v: Value = messages(
        &h,
        &json!({"model": "gemini-test", "max_tokens": 64, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello Gemini"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        v["content"][0]["text"],
        "Mock reply from gemini-2.0-flash: Hello Gemini"
    );
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let up = &h.mock.requests()[0];
    assert!(up.path.ends_with("gemini-2.0-flash:generateContent"));
    assert_eq!(
        up.body["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );
    let body = json!({"model": "gemini-test", "max_tokens": 64, "stream": true, "tools": tools(),
        "tool_choice": {"type": "any"}, "messages": [{"role": "user", "content": "weather and time"}]});
    let ev = events(&messages(&h, &body).await.text().await.unwrap());
    let tools_started: Vec<&Value> = ev
        .iter()
        .filter(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(tools_started.len(), 2);
    assert_eq!(tools_started[0]["content_block"]["name"], "get_weather");
    let json_parts: String = ev
        .iter()
        .filter(|(n, d)| n == "content_block_delta" && d["index"] == tools_started[0]["index"])
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json_parts).unwrap(),
        json!({"city": "mock"})
    );
    let delta = &ev[ev.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn falls_back_from_anthropic_to_openai_and_translates() {
    let h = Harness::start(CONFIG).await;
    h.mock.state().push_script([Step {
        model: Some("claude-sonnet-4-5".into()),
        behavior: Behavior {
            status: Some(529),
            ..Behavior::default()
        },
    }]);
    let resp = messages(
        &h,
        &json!({"model": "claude-or-gpt", "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "oai");
    assert_eq!(resp.headers()["x-sluice-attempts"], "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "Mock reply from mock-gpt: Hello");
    let reqs = h.mock.requests();
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[1].path, "/v1/chat/completions");
    let recs = h.records(1).await;
    assert_eq!(recs[0].attempts.len(), 2);
    assert_eq!(recs[0].meta.provider_name.as_deref(), Some("oai"));
}

#[tokio::test]
async fn errors_come_back_in_anthropic_shape() {
    let h = Harness::start(CONFIG).await;
    let check = |v: &Value, kind: &str| {
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    };
    let resp = messages(
        &h,
        &json!({"model": "nope", "max_tokens": 5, "messages": []}),
    )
    .await;
    assert_eq!(resp.status(), 404);
    check(&resp.json().await.unwrap(), "not_found_error");
    let resp = messages(&h, &json!({"model": "gpt-test", "messages": []})).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    check(&v, "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );
    let resp = h
        .client()
        .post(h.endpoint("/v1/messages"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    check(&resp.json().await.unwrap(), "invalid_request_error");
    let resp = messages(
        &h,
        &json!({"model": "claude-test", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi <<mock status=429 retry_after=7>>"}]}),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    check(&resp.json().await.unwrap(), "rate_limit_error");
    let resp = messages(
        &h,
        &json!({"model": "gpt-test", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi <<mock status=503>>"}]}),
    )
    .await;
    assert_eq!(resp.status(), 503);
    check(&resp.json().await.unwrap(), "overloaded_error");
    // Anthropic's server tools cannot be translated: a clear 400.
    let resp = messages(
        &h,
        &json!({"model": "gpt-test", "max_tokens": 5,
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "messages": [{"role": "user", "content": "search"}]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    check(&v, "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Anthropic upstream")
    );
    // ... but pass through to Anthropic.
    let resp = messages(
        &h,
        &json!({"model": "claude-test", "max_tokens": 5,
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "messages": [{"role": "user", "content": "search"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = h
        .client()
        .get(h.endpoint("/v1/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    check(&resp.json().await.unwrap(), "api_error");
    let recs = h.records(8).await;
    assert!(
        recs.iter()
            .all(|r| r.meta.endpoint == "messages" || r.meta.endpoint.is_empty())
    );
}

#[tokio::test]
async fn a_broken_translated_stream_ends_with_an_error_event() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "gpt-test", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "go <<mock words=20 error_after=3>>"}]});
    let resp = messages(&h, &body).await;
    assert_eq!(resp.status(), 200);
    let ev = events(&resp.text().await.unwrap());
    let (name, data) = ev.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["type"], "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(!ev.iter().any(|(n, _)| n == "message_stop"));
    let recs = h.records(1).await;
    assert_eq!(recs[0].outcome, Outcome::StreamError);
    // Natively, too.
    let body = json!({"model": "claude-test", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "go <<mock words=20 cut_after=3>>"}]});
    let ev = events(&messages(&h, &body).await.text().await.unwrap());
    assert_eq!(ev.last().unwrap().0, "error");
    assert!(!ev.iter().any(|(n, _)| n == "message_stop"));
}

#[tokio::test]
async fn count_tokens_upstream_or_estimated() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "claude-test", "system": "Be brief.",
        "messages": [{"role": "user", "content": "count these words please"}]});
    let resp = h
        .client()
        .post(h.endpoint("/v1/messages/count_tokens"))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-sluice-token-count").is_none());
    let v: Value = resp.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/messages/count_tokens");
    assert_eq!(up.body["model"], "claude-sonnet-4-5");
    let mut body = body;
    body["model"] = json!("gpt-test");
    let resp = h.post("/v1/messages/count_tokens", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-token-count"], "estimated");
    let v: Value = resp.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() >= 5);
    assert_eq!(
        h.mock.requests().len(),
        1,
        "nothing sent upstream to estimate"
    );
    let recs = h.records(2).await;
    assert!(
        recs.iter()
            .all(|r| r.meta.endpoint == "count_tokens" && r.outcome == Outcome::Ok)
    );
    let resp = h
        .post("/v1/messages/count_tokens", &json!({"model": "gpt-test"}))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["type"], "error");
}

#[tokio::test]
async fn route_prefixes_serve_messages_too() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/pinned/v1/messages",
            &json!({"model": "anything", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "oai");
    let recs = h.records(1).await;
    assert_eq!(recs[0].meta.route, "pinned");
    assert_eq!(recs[0].meta.endpoint, "messages");
}
