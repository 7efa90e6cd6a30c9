//! OpenAI clients reaching a Cohere v2 upstream through the gateway: chat,
//! streaming, tools, documents, embeddings and the `/v1/rerank` surface.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY, sse_data};

const CONFIG: &str = r#"
providers:
  co:
    type: cohere
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  oa:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: command-test
    provider: co
    model: command-a-03-2025
  - name: embed-test
    provider: co
    model: embed-v4.0
  - name: rerank-test
    provider: co
    model: rerank-v3.5
  - name: gpt-test
    provider: oa
    model: mock-gpt
routes:
  - name: team
    path: /team
"#;

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    ])
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
async fn chat_is_translated_both_ways() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .chat(&json!({"model": "command-test", "seed": 3, "top_p": 0.5, "logit_bias": {"1": 1},
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello Cohere"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-dropped-params"], "logit_bias");
    assert_eq!(resp.headers()["x-sluice-provider"], "co");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "command-a-03-2025");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from command-a-03-2025: Hello Cohere"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v2/chat");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(
        up.body,
        json!({"model": "command-a-03-2025", "seed": 3, "p": 0.5, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello Cohere"}]})
    );
    // Usage: the model's token counts; billed units alongside.
    let reported = up.usage.clone().unwrap();
    assert_eq!(
        v["usage"]["prompt_tokens"],
        reported["tokens"]["input_tokens"]
    );
    assert_eq!(v["usage"]["completion_tokens"], 6);
    assert_eq!(
        v["billed_units"]["input_tokens"].as_f64(),
        reported["billed_units"]["input_tokens"].as_f64()
    );
    let recs = h.records(1).await;
    assert_eq!(recs[0].dropped_params, ["logit_bias"]);
    assert_eq!(recs[0].meta.endpoint, "chat");
    let u = recs[0].usage.unwrap();
    assert_eq!(u.completion_tokens, 6);
    assert_eq!(u.source, sluice_protocol::UsageSource::Provider);
}

#[tokio::test]
async fn streamed_text_usage_and_finish_reasons() {
    let h = Harness::start(CONFIG).await;
    let text = h
        .chat(&json!({"model": "command-test", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream it"}]}))
        .await
        .text()
        .await
        .unwrap();
    let cs = chunks(&text);
    let content: String = cs
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Mock reply from command-a-03-2025: stream it");
    let finishes: Vec<&Value> = cs
        .iter()
        .filter_map(|c| c["choices"][0].get("finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("stop")]);
    assert_eq!(cs.last().unwrap()["usage"]["completion_tokens"], 6);
    assert_eq!(h.mock.requests()[0].body["stream"], true);
    assert!(h.mock.requests()[0].body.get("stream_options").is_none());

    // max_tokens and stop sequences map to `length` and `stop`.
    let v: Value = h
        .chat(&json!({"model": "command-test", "max_tokens": 2, "messages": [{"role": "user", "content": "long answer"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["choices"][0]["message"]["content"], "Mock reply");
    assert_eq!(h.mock.requests()[1].body["max_tokens"], 2);
    let v: Value = h
        .chat(&json!({"model": "command-test", "stop": "from", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["choices"][0]["message"]["content"], "Mock reply ");
    assert_eq!(h.mock.requests()[2].body["stop_sequences"], json!(["from"]));

    // No usage from the provider: the gateway estimates it.
    let v: Value = h
        .chat(&json!({"model": "command-test", "messages": [{"role": "user", "content": "<<mock no_usage>> hi"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert!(v.get("usage").is_none());
    let recs = h.records(4).await;
    assert!(
        recs.iter().any(|r| r
            .usage
            .is_some_and(|u| u.source == sluice_protocol::UsageSource::Estimated)),
        "{recs:?}"
    );
}

#[tokio::test]
async fn parallel_tool_calls_results_and_forced_tool() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .chat(
            &json!({"model": "command-test", "tools": tools(), "tool_choice": "required",
            "messages": [{"role": "user", "content": "weather and time"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    let calls = msg["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(calls[1]["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"tz": "mock"})
    );
    assert_eq!(msg["content"], "I will call get_weather and get_time.");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(h.mock.requests()[0].body["tool_choice"], "REQUIRED");

    // The results go back as `tool` messages; the plan as `tool_plan`.
    let follow: Value = h
        .chat(
            &json!({"model": "command-test", "tools": tools(), "messages": [
            {"role": "user", "content": "weather and time"}, msg,
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
    assert_eq!(
        sent[1]["tool_plan"],
        "I will call get_weather and get_time."
    );
    assert_eq!(sent[1]["tool_calls"][1]["id"], calls[1]["id"]);
    assert_eq!(
        sent[3],
        json!({"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"})
    );

    // A named tool choice offers only that tool, and requires it.
    let v: Value = h
        .chat(&json!({"model": "command-test", "tools": tools(),
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
            "messages": [{"role": "user", "content": "time"}]}))
        .await
        .json()
        .await
        .unwrap();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["function"]["name"], "get_time");
    let sent = &h.mock.requests()[2].body;
    assert_eq!(sent["tools"].as_array().unwrap().len(), 1);
    assert_eq!(sent["tool_choice"], "REQUIRED");

    // Streamed: ids, names and arguments per index.
    let text = h
        .chat(
            &json!({"model": "command-test", "stream": true, "tools": tools(),
            "messages": [{"role": "user", "content": "weather and time"}]}),
        )
        .await
        .text()
        .await
        .unwrap();
    let mut args = [String::new(), String::new()];
    let mut ids = Vec::new();
    for c in chunks(&text) {
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap() as usize;
            args[i].push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
            if let Some(id) = tc["id"].as_str() {
                ids.push(id.to_owned());
            }
        }
    }
    assert_eq!(ids.len(), 2);
    assert_eq!(
        serde_json::from_str::<Value>(&args[0]).unwrap(),
        json!({"city": "mock"})
    );
}

#[tokio::test]
async fn json_mode_images_and_documents() {
    let h = Harness::start(CONFIG).await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let v: Value = h
        .chat(&json!({"model": "command-test", "messages": [{"role": "user", "content": "json please"}],
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
    assert_eq!(
        h.mock.requests()[0].body["response_format"],
        json!({"type": "json_object", "json_schema": schema})
    );

    let image = "data:image/png;base64,iVBORw0KGgo=";
    let v: Value = h
        .chat(&json!({"model": "command-test", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": image}}]}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from command-a-03-2025: describe"
    );
    assert_eq!(
        h.mock.requests()[1].body["messages"][0]["content"][1],
        json!({"type": "image_url", "image_url": {"url": image}})
    );

    // Documents travel natively; citations come back on the message.
    let docs = json!([{"id": "handbook", "data": {"text": "Gym memberships are offered."}}]);
    let v: Value = h
        .chat(&json!({"model": "command-test", "documents": docs, "citation_options": {"mode": "FAST"},
            "messages": [{"role": "user", "content": "benefits"}]}))
        .await
        .json()
        .await
        .unwrap();
    let sent = &h.mock.requests()[2].body;
    assert_eq!(sent["documents"], docs);
    assert_eq!(sent["citation_options"], json!({"mode": "FAST"}));
    let cite = &v["choices"][0]["message"]["citations"][0];
    assert_eq!(cite["text"], "benefits");
    assert_eq!(cite["sources"][0]["id"], "handbook");
    assert_eq!(
        cite["sources"][0]["document"],
        json!({"text": "Gym memberships are offered."})
    );

    // Streamed, citations arrive as their own chunk.
    let text = h
        .chat(
            &json!({"model": "command-test", "stream": true, "documents": ["plain doc"],
            "messages": [{"role": "user", "content": "benefits"}]}),
        )
        .await
        .text()
        .await
        .unwrap();
    let cited: Vec<Value> = chunks(&text)
        .into_iter()
        .filter_map(|c| c["choices"][0]["delta"].get("citations").cloned())
        .collect();
    assert_eq!(cited.len(), 1);
    assert_eq!(cited[0][0]["sources"][0]["id"], "doc:0");
}

#[tokio::test]
async fn errors_are_mapped() {
    let h = Harness::start(CONFIG).await;
    for (directive, status) in [
        ("status=429 retry_after=2", 429),
        ("status=503", 503),
        ("status=500", 502),
        ("status=400", 400),
        ("status=402", 502),
        ("status=404", 404),
        ("status=499", 502),
    ] {
        let resp = h
            .chat(&json!({"model": "command-test", "messages": [{"role": "user", "content": format!("<<mock {directive}>>")}]}))
            .await;
        assert_eq!(resp.status(), status, "{directive}");
        if status == 429 {
            assert_eq!(resp.headers()["retry-after"], "2");
        }
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().contains("mock"),
            "{v}"
        );
    }
    let resp = h
        .chat(&json!({"model": "command-test", "messages": [{"role": "user", "content": "<<mock status=400 message=too+many+tokens:+size+limit+exceeded>>"}]}))
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    let resp = h
        .chat(&json!({"model": "command-test", "n": 2, "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["param"], "n");
    let resp = h
        .chat(&json!({"model": "command-test", "messages": [{"role": "user", "content": "<<mock invalid_json>>"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    for directive in ["error_after=3", "cut_after=3", "malformed_after=3"] {
        let text = h
            .chat(&json!({"model": "command-test", "stream": true, "messages": [{"role": "user", "content": format!("<<mock {directive} words=10>>")}]}))
            .await
            .text()
            .await
            .unwrap();
        let last: Value = serde_json::from_str(sse_data(&text).last().unwrap()).unwrap();
        assert!(last["error"].is_object(), "{directive}: {text}");
        assert!(!text.contains("[DONE]"), "{directive}");
    }
    // An error before the first chunk is a plain error answer.
    let resp = h
        .chat(&json!({"model": "command-test", "stream": true, "messages": [{"role": "user", "content": "<<mock error_after=0>>"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    let recs = h.records(14).await;
    assert_eq!(
        recs.iter()
            .filter(|r| r.outcome == Outcome::StreamError)
            .count(),
        3
    );
}

#[tokio::test]
async fn wrong_key_is_an_upstream_auth_error() {
    let h = Harness::start(CONFIG).await;
    h.mock.require_key("some-other-key");
    let resp = h
        .chat(&json!({"model": "command-test", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("credentials") && msg.contains("invalid api token"),
        "{msg}"
    );
    assert!(!msg.contains(PROVIDER_KEY));
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .post(
            "/v1/embeddings",
            &json!({"model": "embed-test", "input": ["alpha beta", "gamma"], "dimensions": 32}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 32);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v2/embed");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(
        up.body,
        json!({"model": "embed-v4.0", "texts": ["alpha beta", "gamma"], "input_type": "search_document",
            "embedding_types": ["float"], "output_dimension": 32})
    );

    let v: Value = h
        .post("/v1/embeddings", &json!({"model": "embed-test", "input": "alpha", "encoding_format": "base64", "input_type": "search_query"}))
        .await
        .json()
        .await
        .unwrap();
    // 64 little-endian f32s, base64-encoded (decoding is unit-tested).
    let b64 = v["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(b64.len(), (64 * 4usize).div_ceil(3) * 4);
    assert_eq!(h.mock.requests()[1].body["input_type"], "search_query");
    let recs = h.records(2).await;
    assert_eq!(recs[1].usage.unwrap().prompt_tokens, 1);
    assert_eq!(recs[1].meta.endpoint, "embeddings");
}

#[tokio::test]
async fn rerank_surface() {
    let h = Harness::start(CONFIG).await;
    let docs = json!(["How do I bake sourdough bread?", {"text": "The capital of France is Paris.", "id": "fr"},
        "Paris is a city in France."]);
    let resp = h
        .post(
            "/v1/rerank",
            &json!({"model": "rerank-test", "query": "What is the capital of France?",
            "documents": docs, "top_n": 2, "return_documents": true}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-model"], "rerank-v3.5");
    let v: Value = resp.json().await.unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["index"], 1);
    assert_eq!(
        results[0]["document"],
        json!({"text": "The capital of France is Paris.", "id": "fr"})
    );
    assert!(
        results[0]["relevance_score"].as_f64().unwrap()
            >= results[1]["relevance_score"].as_f64().unwrap()
    );
    assert_eq!(v["meta"]["billed_units"]["search_units"], 1);
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v2/rerank");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(
        up.body,
        json!({"model": "rerank-v3.5", "query": "What is the capital of France?", "top_n": 2, "documents": [
            "How do I bake sourdough bread?", "The capital of France is Paris.", "Paris is a city in France."]})
    );
    let recs = h.records(1).await;
    assert_eq!(recs[0].meta.endpoint, "rerank");
    assert_eq!(recs[0].usage.unwrap().prompt_tokens, 1);
    assert_eq!(recs[0].path, "/v1/rerank");

    // Under a route prefix, without documents echoed.
    let v: Value = h
        .post(
            "/team/v1/rerank",
            &json!({"model": "rerank-test", "query": "bread", "documents": ["bread", "cars"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["results"][0]["index"], 0);
    assert!(v["results"][0].get("document").is_none());

    // Refusals: a provider without rerank, v1-only fields, missing fields.
    for (body, param) in [
        (
            json!({"model": "gpt-test", "query": "q", "documents": ["a"]}),
            "model",
        ),
        (
            json!({"model": "rerank-test", "query": "q", "documents": ["a"], "rank_fields": ["t"]}),
            "rank_fields",
        ),
        (json!({"model": "rerank-test", "documents": ["a"]}), "query"),
    ] {
        let resp = h.post("/v1/rerank", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    let resp = h
        .client()
        .get(h.endpoint("/v1/rerank"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    // An upstream error keeps its status (once the default retry also failed).
    let too_many = sluice_mock::Step {
        model: None,
        behavior: sluice_mock::Behavior {
            status: Some(429),
            ..Default::default()
        },
    };
    h.mock.state().push_script([too_many.clone(), too_many]);
    let resp = h
        .post(
            "/v1/rerank",
            &json!({"model": "rerank-test", "query": "q", "documents": ["a"]}),
        )
        .await;
    assert_eq!(resp.status(), 429);
}
