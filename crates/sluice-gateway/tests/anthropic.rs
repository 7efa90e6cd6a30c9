//! OpenAI clients reaching an Anthropic upstream through the gateway.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY, sse_data};

const CONFIG: &str = r#"
providers:
  claude:
    type: anthropic
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    default_max_tokens: 777
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - name: claude-test
    provider: claude
    model: claude-sonnet-4-5
"#;

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    ])
}

#[tokio::test]
async fn chat_is_translated_both_ways() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .chat(&json!({"model": "claude-test", "seed": 3, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello Claude"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-dropped-params"], "seed");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from claude-sonnet-4-5: Hello Claude"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(up.header("x-api-key"), Some(PROVIDER_KEY));
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(up.header("authorization"), None);
    assert_eq!(up.body["system"], "Be brief.");
    assert_eq!(up.body["max_tokens"], 777);
    assert_eq!(
        up.body["messages"],
        json!([{"role": "user", "content": "Hello Claude"}])
    );
    assert!(up.body.get("seed").is_none());
    let recs = h.records(1).await;
    assert_eq!(recs[0].dropped_params, ["seed"]);
    assert_eq!(recs[0].usage.unwrap().completion_tokens, 6);
}

#[tokio::test]
async fn streamed_text_and_usage() {
    let h = Harness::start(CONFIG).await;
    let text = h
        .chat(&json!({"model": "claude-test", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream it"}]}))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Mock reply from claude-sonnet-4-5: stream it");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 6);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(h.mock.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn parallel_tool_calls_streamed_and_not() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .chat(
            &json!({"model": "claude-test", "tools": tools(), "tool_choice": "required",
            "messages": [{"role": "user", "content": "weather and time"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "mock"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        h.mock.requests()[0].body["tool_choice"],
        json!({"type": "any"})
    );

    // The tool results go back as tool_result blocks.
    let assistant = v["choices"][0]["message"].clone();
    let follow: Value = h
        .chat(
            &json!({"model": "claude-test", "tools": tools(), "messages": [
            {"role": "user", "content": "weather and time"}, assistant,
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18C"},
            {"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        follow["choices"][0]["message"]["content"],
        "Tool result received: 18C noon"
    );
    let sent = &h.mock.requests()[1].body["messages"];
    assert_eq!(sent[1]["content"][0]["type"], "tool_use");
    assert_eq!(
        sent[2]["content"][1],
        json!({"type": "tool_result", "tool_use_id": calls[1]["id"], "content": "noon"})
    );

    let text = h
        .chat(
            &json!({"model": "claude-test", "stream": true, "tools": tools(),
            "messages": [{"role": "user", "content": "weather and time"}]}),
        )
        .await
        .text()
        .await
        .unwrap();
    let mut args = [String::new(), String::new()];
    for e in sse_data(&text).iter().filter(|e| *e != "[DONE]") {
        let c: Value = serde_json::from_str(e).unwrap();
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap() as usize;
            args[i].push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(
        serde_json::from_str::<Value>(&args[1]).unwrap(),
        json!({"tz": "mock"})
    );
}

#[tokio::test]
async fn json_mode_uses_a_forced_tool() {
    let h = Harness::start(CONFIG).await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let v: Value = h
        .chat(&json!({"model": "claude-test", "messages": [{"role": "user", "content": "json please"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}}))
        .await
        .json()
        .await
        .unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(content).unwrap(),
        json!({"answer": "mock"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn images_and_thinking() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .chat(&json!({"model": "claude-test", "reasoning_effort": "low", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}))
        .await
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["reasoning_content"], "Mock reasoning.");
    assert!(
        msg["thinking_blocks"][0]["signature"]
            .as_str()
            .unwrap()
            .starts_with("mock-signature-")
    );
    let sent = &h.mock.requests()[0].body;
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(
        sent["messages"][0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(
        sent["messages"][0]["content"][2]["source"],
        json!({"type": "url", "url": "https://example.com/cat.png"})
    );
}

#[tokio::test]
async fn errors_are_mapped() {
    let h = Harness::start(CONFIG).await;
    for (directive, status) in [
        ("status=429 retry_after=2", 429),
        ("status=529", 503),
        ("status=500", 502),
        ("status=400", 400),
    ] {
        let resp = h
            .chat(&json!({"model": "claude-test", "messages": [{"role": "user", "content": format!("<<mock {directive}>>")}]}))
            .await;
        assert_eq!(resp.status(), status, "{directive}");
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().contains("mock"),
            "{v}"
        );
    }
    let resp = h
        .chat(&json!({"model": "claude-test", "n": 2, "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "n");
    for directive in ["error_after=3", "cut_after=3", "malformed_after=3"] {
        let text = h
            .chat(&json!({"model": "claude-test", "stream": true, "messages": [{"role": "user", "content": format!("<<mock {directive} words=10>>")}]}))
            .await
            .text()
            .await
            .unwrap();
        let last: Value = serde_json::from_str(sse_data(&text).last().unwrap()).unwrap();
        assert!(last["error"].is_object(), "{directive}: {text}");
    }
    let recs = h.records(8).await;
    assert_eq!(
        recs.iter()
            .filter(|r| r.outcome == Outcome::StreamError)
            .count(),
        3
    );
}
