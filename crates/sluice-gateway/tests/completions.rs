//! OpenAI's legacy Completions API (`/v1/completions`) through the gateway:
//! passed through to OpenAI-wire upstreams, mapped to chat for the others.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_store::Outcome;
use support::{Harness, sse_data};

const CONFIG: &str = r#"
providers:
  oai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  claude:
    type: anthropic
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - name: instruct
    provider: oai
    model: gpt-3.5-turbo-instruct
  - name: claude-test
    provider: claude
    model: claude-sonnet-4-5
"#;

#[tokio::test]
async fn openai_wire_gets_the_clients_bytes() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "instruct", "prompt": "Once upon", "max_tokens": 30, "suffix": "END",
        "logprobs": 2, "x_vendor": true});
    let resp = h.post("/v1/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(
        v["choices"][0]["text"],
        "Mock reply from gpt-3.5-turbo-instruct: Once upon"
    );
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/completions");
    let mut expected = body.clone();
    expected["model"] = json!("gpt-3.5-turbo-instruct");
    assert_eq!(up.body, expected);
    let recs = h.records(1).await;
    assert_eq!(recs[0].meta.endpoint, "completions");
    assert_eq!(
        recs[0].usage.unwrap().completion_tokens,
        v["usage"]["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn openai_wire_stream_asks_for_usage_and_hides_it_unless_asked() {
    let h = Harness::start(CONFIG).await;
    let text = h
        .post(
            "/v1/completions",
            &json!({"model": "instruct", "prompt": "Hi", "stream": true}),
        )
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
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "text_completion" && c.get("usage").is_none())
    );
    let joined: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(joined, "Mock reply from gpt-3.5-turbo-instruct: Hi");
    let up = &h.mock.requests()[0];
    assert_eq!(up.body["stream_options"], json!({"include_usage": true}));
    let recs = h.records(1).await;
    assert_eq!(
        recs[0].usage.unwrap().completion_tokens,
        5,
        "usage from the upstream"
    );
}

#[tokio::test]
async fn chat_only_provider_gets_the_prompt_as_a_message() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/v1/completions",
            &json!({"model": "claude-test", "prompt": "Once upon", "echo": true, "stop": "\n"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "claude");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "text_completion");
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(
        v["choices"][0]["text"],
        "Once uponMock reply from claude-sonnet-4-5: Once upon"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(
        up.body["messages"],
        json!([{"role": "user", "content": "Once upon"}])
    );
    // The legacy default.
    assert_eq!(up.body["max_tokens"], 16);
    assert_eq!(up.body["stop_sequences"], json!(["\n"]));
    assert_eq!(
        v["usage"]["completion_tokens"],
        up.usage.clone().unwrap()["output_tokens"]
    );
    // Cut by max_tokens.
    let v: Value = h
        .post(
            "/v1/completions",
            &json!({"model": "claude-test", "prompt": "x <<mock words=30>>"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
}

#[tokio::test]
async fn chat_only_provider_streams_text_completion_chunks() {
    let h = Harness::start(CONFIG).await;
    let text = h
        .post(
            "/v1/completions",
            &json!({"model": "claude-test", "prompt": "Stream", "stream": true,
            "stream_options": {"include_usage": true}}),
        )
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
    let joined: String = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0).and_then(|ch| ch["text"].as_str()))
        .collect();
    assert_eq!(joined, "Mock reply from claude-sonnet-4-5: Stream");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    let recs = h.records(1).await;
    assert_eq!(recs[0].outcome, Outcome::Ok);
    assert!(recs[0].stream);
}

#[tokio::test]
async fn what_chat_cannot_carry_is_a_clear_400() {
    let h = Harness::start(CONFIG).await;
    for (body, param) in [
        (
            json!({"model": "claude-test", "prompt": "a", "suffix": "b"}),
            "suffix",
        ),
        (
            json!({"model": "claude-test", "prompt": ["a", "b"]}),
            "prompt",
        ),
        (
            json!({"model": "claude-test", "prompt": "a", "logprobs": 1}),
            "logprobs",
        ),
    ] {
        let resp = h.post("/v1/completions", &body).await;
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["param"], param);
        assert_eq!(v["error"]["code"], "unsupported_parameter");
    }
    assert!(h.mock.requests().is_empty());
    let resp = h
        .post("/v1/completions", &json!({"model": "claude-test"}))
        .await;
    assert_eq!(resp.status(), 400);
}
