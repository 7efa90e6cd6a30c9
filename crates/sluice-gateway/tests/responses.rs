//! The OpenAI Responses API (`/v1/responses`) through the gateway: passed
//! through to OpenAI and Azure, translated to chat for other providers with
//! the conversation kept by Sluice for `previous_response_id`, and clear
//! 400s for what a chat provider cannot honour.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_mock::{Behavior, Step};
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY};

const CONFIG: &str = r#"
providers:
  oai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  az:
    type: azure
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    api_version: 2025-04-01-preview
  claude:
    type: anthropic
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  gem:
    type: gemini
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - name: gpt-test
    provider: oai
    model: mock-gpt
  - name: azure-test
    provider: az
    model: gpt4o-deployment
  - name: claude-test
    provider: claude
    model: claude-sonnet-4-5
  - name: gemini-test
    provider: gem
    model: gemini-2.0-flash
  - name: gpt-or-claude
    targets:
      - { provider: oai, model: mock-gpt }
      - { provider: claude, model: claude-sonnet-4-5 }
  - name: claude-or-gpt
    targets:
      - { provider: claude, model: claude-sonnet-4-5 }
      - { provider: oai, model: mock-gpt }
server:
  responses: { retention: 1h }
"#;

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

fn output_text(v: &Value) -> String {
    v["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().unwrap().iter())
        .filter_map(|c| c["text"].as_str())
        .collect()
}

fn tools() -> Value {
    json!([
        {"type": "function", "name": "get_weather", "description": "Weather",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}
    ])
}

#[tokio::test]
async fn openai_gets_the_clients_bytes_and_previous_response_id() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "gpt-test", "input": "Hello", "instructions": "Be brief.",
        "tools": [{"type": "web_search"}], "x_future": {"a": 1}, "store": true});
    let resp = h.post("/v1/responses", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "oai");
    let v: Value = resp.json().await.unwrap();
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/responses");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    let mut expected = body.clone();
    expected["model"] = json!("mock-gpt");
    assert_eq!(up.body, expected);
    assert_eq!(v["id"], format!("resp_mock{}", up.seq));
    assert_eq!(output_text(&v), "Mock reply from mock-gpt: Hello");
    // The second turn names OpenAI's own id; it goes through as is.
    let turn2 = json!({"model": "gpt-test", "input": "Again", "previous_response_id": v["id"]});
    let resp = h.post("/v1/responses", &turn2).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[1].body["previous_response_id"], v["id"]);
    let recs = h.records(2).await;
    let r = &recs[0];
    assert_eq!(r.meta.endpoint, "responses");
    assert_eq!(r.meta.provider_name.as_deref(), Some("oai"));
    let up_usage = up.usage.clone().unwrap();
    assert_eq!(
        r.usage.unwrap().prompt_tokens,
        up_usage["input_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        r.usage.unwrap().completion_tokens,
        up_usage["output_tokens"].as_u64().unwrap()
    );
    // An id OpenAI does not know: its 404 comes back.
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "gpt-test", "input": "x", "previous_response_id": "resp_unknown"}),
        )
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn openai_stream_is_passed_through() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "gpt-test", "input": "stream it", "stream": true}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let ev = events(&resp.text().await.unwrap());
    assert_eq!(ev[0].0, "response.created");
    assert_eq!(ev.last().unwrap().0, "response.completed");
    for (name, data) in &ev {
        assert_eq!(data["type"], name.as_str());
    }
    let text: String = ev
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Mock reply from mock-gpt: stream it");
    let recs = h.records(1).await;
    assert_eq!(recs[0].outcome, Outcome::Ok);
    assert!(recs[0].usage.unwrap().completion_tokens > 0);
    // A broken native stream ends with one error event.
    let resp = h
        .post("/v1/responses", &json!({"model": "gpt-test", "input": "x <<mock words=10 error_after=3>>", "stream": true}))
        .await;
    let ev = events(&resp.text().await.unwrap());
    let (name, data) = ev.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "server_error");
    assert!(data["sequence_number"].as_u64().unwrap() > 0);
    assert!(!ev.iter().any(|(n, _)| n == "response.completed"));
}

#[tokio::test]
async fn azure_responses_url() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "azure-test", "input": "hi"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/openai/responses");
    assert_eq!(up.query.as_deref(), Some("api-version=2025-04-01-preview"));
    assert_eq!(up.header("api-key"), Some(PROVIDER_KEY));
    assert_eq!(up.body["model"], "gpt4o-deployment");
}

#[tokio::test]
async fn anthropic_two_turns_with_previous_response_id() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "instructions": "Be brief.",
            "input": "My name is Ada.", "metadata": {"ticket": "7"}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "claude");
    let v: Value = resp.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("resp_"));
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["metadata"], json!({"ticket": "7"}));
    assert_eq!(
        output_text(&v),
        "Mock reply from claude-sonnet-4-5: My name is Ada."
    );
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(up.body["system"], "Be brief.");
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "input": "What is my name?",
            "previous_response_id": id}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v2: Value = resp.json().await.unwrap();
    assert_eq!(v2["previous_response_id"], id);
    let up = &h.mock.requests()[1];
    // The earlier turn is sent again; instructions do not carry over.
    assert!(up.body.get("system").is_none());
    assert_eq!(
        up.body["messages"],
        json!([
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Mock reply from claude-sonnet-4-5: My name is Ada."},
            {"role": "user", "content": "What is my name?"}])
    );
    // GET returns what was stored; DELETE forgets it.
    let got: Value = h
        .client()
        .get(h.endpoint(&format!("/v1/responses/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], id);
    assert_eq!(output_text(&got), output_text(&v));
    let resp = h
        .client()
        .delete(h.endpoint(&format!("/v1/responses/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["deleted"], true);
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "input": "x", "previous_response_id": id}),
        )
        .await;
    assert_eq!(resp.status(), 404);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["param"], "previous_response_id");
    let resp = h
        .client()
        .get(h.endpoint(&format!("/v1/responses/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let recs = h.records(6).await;
    assert!(recs.iter().all(|r| r.meta.endpoint == "responses"));
}

#[tokio::test]
async fn store_false_is_not_kept() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "input": "hi", "store": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["store"], false);
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "input": "x", "previous_response_id": v["id"]}),
        )
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn gemini_stream_with_tools_then_the_result() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "gemini-test", "input": "weather and time",
            "tools": tools(), "tool_choice": "required", "stream": true}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "gem");
    let ev = events(&resp.text().await.unwrap());
    assert_eq!(ev[0].0, "response.created");
    assert_eq!(ev[1].0, "response.in_progress");
    let (last, done) = ev.last().unwrap();
    assert_eq!(last, "response.completed");
    for (i, (_, d)) in ev.iter().enumerate() {
        assert_eq!(d["sequence_number"], i as u64);
    }
    let response = &done["response"];
    let calls: Vec<&Value> = response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call")
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(calls[0]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "mock"})
    );
    assert!(response["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let up = &h.mock.requests()[0];
    assert!(up.path.ends_with(":streamGenerateContent"));
    // Continue with the tool results.
    let id = response["id"].as_str().unwrap();
    let input: Vec<Value> = calls
        .iter()
        .map(|c| json!({"type": "function_call_output", "call_id": c["call_id"], "output": "done"}))
        .collect();
    let v: Value = h
        .post(
            "/v1/responses",
            &json!({"model": "gemini-test", "previous_response_id": id,
            "input": input, "tools": tools()}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "completed");
    let up = &h.mock.requests()[1];
    let contents = up.body["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3, "{contents:?}");
    assert!(contents[1]["parts"][0].get("functionCall").is_some());
    assert!(contents[2]["parts"][0].get("functionResponse").is_some());
    let recs = h.records(2).await;
    assert!(
        recs.iter()
            .all(|r| r.meta.endpoint == "responses" && r.outcome == Outcome::Ok)
    );
}

#[tokio::test]
async fn what_chat_cannot_honour_is_a_clear_400() {
    let h = Harness::start(CONFIG).await;
    for (body, param) in [
        (
            json!({"model": "claude-test", "input": "x", "tools": [{"type": "web_search"}]}),
            "tools",
        ),
        (
            json!({"model": "gemini-test", "input": "x", "background": true}),
            "background",
        ),
        (
            json!({"model": "claude-test", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input",
        ),
        (
            json!({"model": "claude-test", "input": "x", "prompt": {"id": "pmpt_1"}}),
            "prompt",
        ),
    ] {
        let resp = h.post("/v1/responses", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], param);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("OpenAI or Azure")
        );
    }
    assert!(h.mock.requests().is_empty(), "nothing is sent upstream");
    let resp = h.post("/v1/responses", &json!({"input": "x"})).await;
    assert_eq!(resp.status(), 400);
    let resp = h
        .post("/v1/responses", &json!({"model": "nope", "input": "x"}))
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_broken_translated_stream_ends_with_an_error_event() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "stream": true,
            "input": "go <<mock words=20 error_after=4>>"}),
        )
        .await;
    let ev = events(&resp.text().await.unwrap());
    let (name, data) = ev.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "server_error");
    assert_eq!(data["code"], "overloaded_error");
    assert_eq!(data["sequence_number"], (ev.len() - 1) as u64);
    let recs = h.records(1).await;
    assert_eq!(recs[0].outcome, Outcome::StreamError);
}

fn fail_next(h: &Harness, upstream_model: &str, status: u16) {
    h.mock.state().push_script([Step {
        model: Some(upstream_model.into()),
        behavior: Behavior {
            status: Some(status),
            ..Behavior::default()
        },
    }]);
}

#[tokio::test]
async fn mixed_group_continues_an_openai_answer_on_another_provider() {
    let h = Harness::start(CONFIG).await;
    // Turn 1, streamed, answered by OpenAI itself.
    let text = h
        .post(
            "/v1/responses",
            &json!({"model": "gpt-or-claude", "input": "My name is Ada.", "stream": true}),
        )
        .await
        .text()
        .await
        .unwrap();
    let ev = events(&text);
    let (last, done) = ev.last().unwrap();
    assert_eq!(last, "response.completed");
    let id = done["response"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("resp_mock"), "OpenAI's own id: {id}");
    // Turn 2: OpenAI fails, Claude continues from what Sluice kept.
    fail_next(&h, "mock-gpt", 500);
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "gpt-or-claude", "input": "Who am I?", "previous_response_id": id}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "claude");
    let up = h
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/messages")
        .unwrap();
    assert_eq!(
        up.body["messages"],
        json!([{"role": "user", "content": "My name is Ada."},
               {"role": "assistant", "content": "Mock reply from mock-gpt: My name is Ada."},
               {"role": "user", "content": "Who am I?"}])
    );
    // On OpenAI the id still goes through as is.
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "gpt-or-claude", "input": "Again", "previous_response_id": id}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        h.mock.requests().last().unwrap().body["previous_response_id"],
        json!(id)
    );
}

#[tokio::test]
async fn mixed_group_continues_a_translated_answer_on_openai() {
    let h = Harness::start(CONFIG).await;
    let v: Value = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-or-gpt", "input": "My name is Ada."}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    fail_next(&h, "claude-sonnet-4-5", 529);
    let resp = h
        .post(
            "/v1/responses",
            &json!({"model": "claude-or-gpt", "input": "Who am I?",
            "previous_response_id": id, "instructions": "Be brief."}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "oai");
    // OpenAI never saw Sluice's id: it got the earlier turns instead.
    let up = h
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/responses")
        .unwrap();
    assert!(up.body.get("previous_response_id").is_none());
    assert_eq!(up.body["instructions"], "Be brief.");
    assert_eq!(
        up.body["input"],
        json!([{"role": "user", "content": "My name is Ada."},
               {"role": "assistant", "content": "Mock reply from claude-sonnet-4-5: My name is Ada."},
               {"role": "user", "content": "Who am I?"}])
    );
}
