//! OpenAI clients reaching Gemini through the gateway, on AI Studio (API key)
//! and on Vertex AI (service-account token from the mock's token endpoint).
#![cfg(test)]

#[cfg(test)]
pub mod support;

use base64::Engine;
use serde_json::{Value, json};
use sluice_mock::MockServer;
use sluice_mock::gemini::token::test_service_account;
use sluice_store::Outcome;
use support::{Harness, PROVIDER_KEY, sse_data};

const CONFIG: &str = r#"
providers:
  gem:
    type: gemini
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
  vtx:
    type: vertex
    base_url: MOCK_URL
    project: test-project
    location: europe-west4
    credentials_file: CREDENTIALS
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - name: gem-test
    provider: gem
    model: gemini-2.0-flash
  - name: gem-embed
    provider: gem
    model: gemini-embedding-001
  - name: vtx-test
    provider: vtx
    model: gemini-2.5-flash
  - name: vtx-embed
    provider: vtx
    model: text-embedding-005
"#;

const AI_STUDIO_PATH: &str = "/v1beta/models/gemini-2.0-flash:generateContent";
const VERTEX_PATH: &str = "/v1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent";

/// Starts the mock, writes a test service-account key whose `token_uri`
/// is the mock's (or `token_path` on it), and starts the gateway.
async fn start_at(token_path: &str) -> Harness {
    let mock = MockServer::start().await.expect("mock starts");
    let creds = std::env::temp_dir().join(format!(
        "sluice-vertex-test-{}-{}.json",
        std::process::id(),
        mock.addr().port()
    ));
    tokio::fs::write(
        &creds,
        test_service_account(&format!("{}{token_path}", mock.url())),
    )
    .await
    .expect("credentials written");
    let yaml = CONFIG.replace("CREDENTIALS", &creds.display().to_string());
    Harness::start_with(&yaml, mock).await
}

async fn start() -> Harness {
    start_at("/token").await
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    ])
}

fn chat_requests(h: &Harness) -> Vec<sluice_mock::Received> {
    h.mock
        .requests()
        .into_iter()
        .filter(|r| r.path != "/token")
        .collect()
}

#[tokio::test]
async fn ai_studio_chat_is_translated_both_ways() {
    let h = start().await;
    let resp = h
        .chat(&json!({"model": "gem-test", "user": "u1", "temperature": 0.3, "max_tokens": 100,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello Gemini"},
                {"role": "assistant", "content": "Hi"}, {"role": "user", "content": "again"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-dropped-params"], "user");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from gemini-2.0-flash: again"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["model"], "gemini-2.0-flash");
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, AI_STUDIO_PATH);
    assert_eq!(up.query, None, "the key never travels in the URL");
    assert_eq!(up.header("x-goog-api-key"), Some(PROVIDER_KEY));
    assert_eq!(up.header("authorization"), None);
    assert_eq!(
        up.body,
        json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hello Gemini"}]},
                {"role": "model", "parts": [{"text": "Hi"}]},
                {"role": "user", "parts": [{"text": "again"}]}],
            "generationConfig": {"temperature": 0.3, "maxOutputTokens": 100}
        })
    );
    let reported = up.usage.clone().unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], reported["promptTokenCount"]);
    assert_eq!(
        v["usage"]["completion_tokens"],
        reported["candidatesTokenCount"]
    );
    let recs = h.records(1).await;
    assert_eq!(recs[0].dropped_params, ["user"]);
    assert_eq!(recs[0].usage.unwrap().completion_tokens, 5);
}

#[tokio::test]
async fn streamed_text_and_usage() {
    let h = start().await;
    let text = h
        .chat(
            &json!({"model": "gem-test", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream it"}]}),
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
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Mock reply from gemini-2.0-flash: stream it");
    let finishes: Vec<_> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, ["stop"]);
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 6);
    let up = &h.mock.requests()[0];
    assert_eq!(
        up.path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    );
    assert_eq!(up.query.as_deref(), Some("alt=sse"));
    assert_eq!(up.outcome, "completed");
}

#[tokio::test]
async fn parallel_tool_calls_results_and_signatures() {
    let h = start().await;
    let v: Value = h
        .chat(
            &json!({"model": "gem-test", "tools": tools(), "tool_choice": "required",
            "messages": [{"role": "user", "content": "weather and time"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let calls = v["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "mock"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let sent = &h.mock.requests()[0].body;
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["parameters"],
        json!({"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]})
    );

    // The results go back as functionResponse parts named after their calls,
    // and the first call's thoughtSignature goes back with it.
    let assistant = v["choices"][0]["message"].clone();
    let follow: Value = h
        .chat(&json!({"model": "gem-test", "tools": tools(), "messages": [
            {"role": "user", "content": "weather and time"}, assistant,
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18C"},
            {"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        follow["choices"][0]["message"]["content"],
        "Tool result received: 18C noon"
    );
    let sent = &h.mock.requests()[1].body["contents"];
    assert_eq!(
        sent[1]["parts"][0]["thoughtSignature"],
        format!("mock-signature-{}", h.mock.requests()[0].seq)
    );
    assert_eq!(
        sent[2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"content": "18C"}}},
            {"functionResponse": {"name": "get_time", "response": {"content": "noon"}}}]})
    );

    // A named tool_choice forces one function.
    let v: Value = h
        .chat(&json!({"model": "gem-test", "tools": tools(),
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
            "messages": [{"role": "user", "content": "time"}]}))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<_> = v["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["function"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("get_time")]);
    assert_eq!(
        h.mock.requests()[2].body["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"],
        json!(["get_time"])
    );

    // Streamed: one tool-call delta per call, with ids.
    let text = h
        .chat(
            &json!({"model": "gem-test", "stream": true, "tools": tools(),
            "messages": [{"role": "user", "content": "weather and time"}]}),
        )
        .await
        .text()
        .await
        .unwrap();
    let mut seen = Vec::new();
    for e in sse_data(&text).iter().filter(|e| *e != "[DONE]") {
        let c: Value = serde_json::from_str(e).unwrap();
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            seen.push((
                tc["index"].clone(),
                tc["function"]["name"].clone(),
                tc["id"].is_string(),
            ));
        }
    }
    assert_eq!(
        seen,
        [
            (json!(0), json!("get_weather"), true),
            (json!(1), json!("get_time"), true)
        ]
    );
}

#[tokio::test]
async fn json_mode_images_and_thinking() {
    let h = start().await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": false});
    let resp = h
        .chat(&json!({"model": "gem-test", "reasoning_effort": "low", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "json please"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}}))
        .await;
    assert_eq!(
        resp.headers()["x-sluice-dropped-params"],
        "response_format.json_schema.schema.additionalProperties"
    );
    let v: Value = resp.json().await.unwrap();
    let msg = &v["choices"][0]["message"];
    let content: Value = serde_json::from_str(msg["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        content["reply"],
        "Mock reply from gemini-2.0-flash: json please"
    );
    assert_eq!(msg["reasoning_content"], "Mock reasoning.");
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        2
    );
    let sent = &h.mock.requests()[0].body;
    assert_eq!(
        sent["contents"][0]["parts"][1],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        sent["generationConfig"],
        json!({"responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}, "required": ["answer"]},
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}})
    );

    // An image URL is refused before anything goes upstream.
    let resp = h
        .chat(
            &json!({"model": "gem-test", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "image_url");
    assert_eq!(h.mock.requests().len(), 1);
}

#[tokio::test]
async fn errors_are_mapped() {
    let h = start().await;
    for (directive, status) in [
        ("status=429 retry_after=2", 429),
        ("status=503", 503),
        ("status=500", 502),
        ("status=400", 400),
        ("status=403", 502),
    ] {
        let resp = h
            .chat(&json!({"model": "gem-test", "messages": [{"role": "user", "content": format!("<<mock {directive}>>")}]}))
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
    for directive in ["error_after=3", "cut_after=3", "malformed_after=3"] {
        let text = h
            .chat(&json!({"model": "gem-test", "stream": true, "messages": [{"role": "user", "content": format!("<<mock {directive} words=10>>")}]}))
            .await
            .text()
            .await
            .unwrap();
        let last: Value = serde_json::from_str(sse_data(&text).last().unwrap()).unwrap();
        assert!(last["error"].is_object(), "{directive}: {text}");
        assert!(!text.contains("[DONE]"), "{directive}");
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
async fn vertex_uses_a_cached_token_from_the_token_endpoint() {
    let h = start().await;
    for content in ["first", "second"] {
        let v: Value = h
            .chat(&json!({"model": "vtx-test", "messages": [{"role": "user", "content": content}]}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            v["choices"][0]["message"]["content"],
            format!("Mock reply from gemini-2.5-flash: {content}")
        );
    }
    let all = h.mock.requests();
    let tokens: Vec<_> = all.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(tokens.len(), 1, "the token is cached");
    let form = tokens[0].body.as_str().unwrap();
    assert!(form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"));
    assert!(form.contains("assertion="));
    let chats = chat_requests(&h);
    assert_eq!(chats.len(), 2);
    for r in &chats {
        assert_eq!(r.path, VERTEX_PATH);
        assert_eq!(
            r.header("authorization"),
            Some("Bearer mock-vertex-token-1")
        );
        assert_eq!(r.header("x-goog-api-key"), None);
    }
    assert_eq!(
        chats[0].body["contents"],
        json!([{"role": "user", "parts": [{"text": "first"}]}])
    );

    // Streaming on Vertex.
    let text = h
        .chat(&json!({"model": "vtx-test", "stream": true, "messages": [{"role": "user", "content": "flow"}]}))
        .await
        .text()
        .await
        .unwrap();
    let content: String = sse_data(&text)
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, "Mock reply from gemini-2.5-flash: flow");
    assert!(
        chat_requests(&h)[2]
            .path
            .ends_with(":streamGenerateContent")
    );
}

#[tokio::test]
async fn vertex_token_failure_is_an_auth_error() {
    let h = start_at("/wrong-token-endpoint").await;
    let resp = h
        .chat(&json!({"model": "vtx-test", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Vertex AI access token"),
        "{v}"
    );
    assert!(
        h.mock
            .requests()
            .iter()
            .all(|r| !r.path.contains("publishers"))
    );
}

#[tokio::test]
async fn embeddings_on_both_hosts() {
    let h = start().await;
    let v: Value = h
        .post(
            "/v1/embeddings",
            &json!({"model": "gem-embed", "input": ["alpha beta", "gamma"], "dimensions": 16}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 16);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let up = &h.mock.requests()[0];
    assert_eq!(
        up.path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(up.header("x-goog-api-key"), Some(PROVIDER_KEY));
    assert_eq!(
        up.body["requests"][1],
        json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "gamma"}]}, "outputDimensionality": 16})
    );

    // Vertex: predict, with token counts; base64 as the OpenAI SDK asks.
    let v: Value = h
        .post(
            "/v1/embeddings",
            &json!({"model": "vtx-embed", "input": "one two three", "encoding_format": "base64"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 64 * 4);
    let up = chat_requests(&h).pop().unwrap();
    assert_eq!(
        up.path,
        "/v1/projects/test-project/locations/europe-west4/publishers/google/models/text-embedding-005:predict"
    );
    assert!(
        up.header("authorization")
            .unwrap()
            .starts_with("Bearer mock-vertex-token-")
    );
    assert_eq!(
        up.body,
        json!({"instances": [{"content": "one two three"}]})
    );
}

#[tokio::test]
async fn an_error_event_before_any_chunk_is_a_plain_error_response() {
    let h = start().await;
    let resp = h
        .chat(&json!({"model": "gem-test", "stream": true, "messages": [{"role": "user", "content": "<<mock error_after=0>>"}]}))
        .await;
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "overloaded");
}

#[tokio::test]
async fn the_mock_token_endpoint_checks_the_jwt_and_vertex_needs_its_tokens() {
    let h = start().await;
    let ok = h
        .chat(&json!({"model": "vtx-test", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(ok.status(), 200);
    let form = h.mock.requests()[0].body.as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    // The same assertion with its claims altered: the signature no longer matches.
    let (head, rest) = form.split_once("assertion=").unwrap();
    let mut parts: Vec<String> = rest.split('.').map(str::to_owned).collect();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1].replace("%3D", "").trim_end_matches('='))
        .unwrap();
    let mut claims: Value = serde_json::from_slice(&claims).unwrap();
    claims["scope"] = json!("https://www.googleapis.com/auth/cloud-platform https://evil");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{head}assertion={}", parts.join("."));
    let resp = client
        .post(format!("{}/token", h.mock.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(v["error_description"], "invalid JWT signature");
    // A Vertex call with a token the mock never issued is refused.
    let resp = client
        .post(format!("{}{VERTEX_PATH}", h.mock.url()))
        .bearer_auth("mock-vertex-token-999")
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn embeddings_name_the_parameters_they_drop() {
    let h = start().await;
    let resp = h
        .post(
            "/v1/embeddings",
            &json!({"model": "gem-embed", "input": "alpha", "user": "u-1"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-dropped-params"], "user");
    let recs = h.records(1).await;
    assert_eq!(recs[0].dropped_params, ["user"]);
}
