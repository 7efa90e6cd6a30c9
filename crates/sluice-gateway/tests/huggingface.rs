//! OpenAI clients reaching Hugging Face upstreams through the gateway: the
//! OpenAI-compatible chat task, and text-generation models (serverless
//! `/models/{model}` and TGI's `/generate` routes).
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_protocol::UsageSource;
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY, sse_data};

const CONFIG: &str = r#"
providers:
  hf:
    type: huggingface
    base_url: MOCK_URL/hf/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  hf-gen:
    type: huggingface
    task: text-generation
    base_url: MOCK_URL/hf-inference
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  tgi:
    type: huggingface
    task: text-generation
    base_url: MOCK_URL/generate
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - name: hf-chat
    provider: hf
    model: meta-llama/Llama-3.1-8B-Instruct
  - name: gpt2
    provider: hf-gen
    model: openai-community/gpt2
  - name: own-tgi
    provider: tgi
    model: whatever-the-server-runs
"#;

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
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
async fn chat_task_is_the_openai_wire_with_a_bearer_token() {
    let h = Harness::start(CONFIG).await;
    let tools = json!([{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}]);
    let v: Value = h
        .chat(&json!({"model": "hf-chat", "tools": tools, "messages": [{"role": "user", "content": "time?"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_time"
    );
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/hf/v1/chat/completions");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(up.body["model"], "meta-llama/Llama-3.1-8B-Instruct");
    assert_eq!(up.body["tools"], tools);
}

#[tokio::test]
async fn text_generation_renders_the_prompt_and_maps_details() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .chat(
            &json!({"model": "gpt2", "max_tokens": 50, "temperature": 0.5, "presence_penalty": 1,
            "stop": ["\nUser:"], "top_k": 20, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-sluice-dropped-params"],
        "presence_penalty"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from openai-community/gpt2: Hello there"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let up = &h.mock.requests()[0];
    assert_eq!(up.method, "POST");
    assert_eq!(up.path, "/hf-inference/models/openai-community/gpt2");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(
        up.body,
        json!({"inputs": "System: Be brief.\n\nUser: Hello there\n\nAssistant:",
            "parameters": {"max_new_tokens": 50, "temperature": 0.5, "do_sample": true,
                "stop": ["\nUser:"], "return_full_text": false, "details": true,
                "decoder_input_details": true, "top_k": 20},
            "stream": false})
    );
    // Usage: prompt tokens from `details.prefill`, completion from
    // `generated_tokens`, exactly as the mock reported them.
    let reported = up.usage.clone().unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], reported["input_length"]);
    assert_eq!(
        v["usage"]["completion_tokens"],
        reported["generated_tokens"]
    );
    let recs = h.records(1).await;
    assert_eq!(recs[0].usage.unwrap().source, UsageSource::Provider);
    assert_eq!(recs[0].dropped_params, ["presence_penalty"]);

    // Capped by max_tokens: `length`.
    let v: Value = h
        .chat(&json!({"model": "gpt2", "max_tokens": 2, "messages": [{"role": "user", "content": "a b c d"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["choices"][0]["message"]["content"], "Mock reply");
}

#[tokio::test]
async fn text_generation_streams_tokens_and_usage() {
    let h = Harness::start(CONFIG).await;
    let text = h
        .chat(
            &json!({"model": "gpt2", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream it"}]}),
        )
        .await
        .text()
        .await
        .unwrap();
    let chunks = chunks(&text);
    assert_eq!(
        content(&chunks),
        "Mock reply from openai-community/gpt2: stream it"
    );
    let finishes: Vec<_> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, ["stop"]);
    let up = &h.mock.requests()[0];
    assert_eq!(up.header("accept"), Some("text/event-stream"));
    assert_eq!(up.body["stream"], true);
    assert!(up.body["parameters"].get("decoder_input_details").is_none());
    let reported = up.usage.clone().unwrap();
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], reported["input_length"]);
    assert_eq!(usage["completion_tokens"], reported["generated_tokens"]);
}

#[tokio::test]
async fn tgi_native_routes() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .chat(&json!({"model": "own-tgi", "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from mock-tgi: hi"
    );
    assert_eq!(v["model"], "whatever-the-server-runs");
    let text = h
        .chat(&json!({"model": "own-tgi", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(content(&chunks(&text)), "Mock reply from mock-tgi: hi");
    let reqs = h.mock.requests();
    assert_eq!(reqs[0].path, "/generate");
    assert_eq!(reqs[1].path, "/generate_stream");
    for r in &reqs {
        assert!(r.body.get("stream").is_none());
        assert!(r.body.get("model").is_none());
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {PROVIDER_KEY}").as_str())
        );
    }
}

#[tokio::test]
async fn text_generation_refuses_tools_images_and_json_mode() {
    let h = Harness::start(CONFIG).await;
    for extra in [
        json!({"tools": [{"type": "function", "function": {"name": "f"}}]}),
        json!({"response_format": {"type": "json_object"}}),
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
    ] {
        let mut body = json!({"model": "gpt2", "messages": [{"role": "user", "content": "x"}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = h.chat(&body).await;
        assert_eq!(resp.status(), 400, "{extra}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unsupported_parameter");
    }
    assert!(h.mock.requests().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn errors_are_mapped() {
    let h = Harness::start(CONFIG).await;
    for (directive, status, code) in [
        ("status=429 retry_after=2", 429, "rate_limit_exceeded"),
        ("status=503", 503, "overloaded"),
        ("status=500", 502, "incomplete_generation"),
        ("status=401", 502, ""),
        (
            "status=422 message=Input+validation+error:+`inputs`+tokens+plus+`max_new_tokens`+must+be+<=+4096",
            400,
            "context_length_exceeded",
        ),
    ] {
        let resp = h
            .chat(&json!({"model": "gpt2", "messages": [{"role": "user", "content": format!("<<mock {directive}>>")}]}))
            .await;
        assert_eq!(resp.status(), status, "{directive}");
        if status == 429 {
            assert_eq!(resp.headers()["retry-after"], "2");
        }
        let v: Value = resp.json().await.unwrap();
        if !code.is_empty() {
            assert_eq!(v["error"]["code"], code, "{directive}: {v}");
        }
        assert!(!v.to_string().contains(PROVIDER_KEY));
    }
    for directive in ["error_after=3", "cut_after=3", "malformed_after=3"] {
        let text = h
            .chat(&json!({"model": "gpt2", "stream": true, "messages": [{"role": "user", "content": format!("<<mock {directive} words=10>>")}]}))
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

#[tokio::test]
async fn missing_details_are_estimated() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .chat(&json!({"model": "gpt2", "messages": [{"role": "user", "content": "<<mock no_usage>> hi"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert!(v.get("usage").is_none(), "the upstream reported none: {v}");
    let recs = h.records(1).await;
    let u = recs[0].usage.unwrap();
    assert_eq!(u.source, UsageSource::Estimated);
    assert!(u.prompt_tokens > 0 && u.completion_tokens > 0);
}
