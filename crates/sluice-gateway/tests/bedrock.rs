//! OpenAI clients reaching an AWS Bedrock upstream through the gateway,
//! every request SigV4-signed and verified by the mock.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_mock::MockServer;
use sluice_store::Outcome;
use support::{Harness, sse_data};

const AKID: &str = "AKIDMOCKBEDROCK00001";
const SECRET: &str = "mock/Secret+Access/Key0123456789abcdefgh";
const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

fn config(secret: &str) -> String {
    format!(
        r#"
providers:
  aws:
    type: bedrock
    base_url: MOCK_URL
    region: eu-west-3
    aws_access_key_id: {AKID}
    aws_secret_access_key: "{secret}"
    default_max_tokens: 777
    timeouts: {{ first_token: 2s, idle: 2s, total: 10s }}
models:
  - name: claude-bedrock
    provider: aws
    model: {MODEL}
  - name: titan
    provider: aws
    model: amazon.titan-embed-text-v2:0
"#
    )
}

async fn start() -> Harness {
    let mock = MockServer::start().await.expect("mock starts");
    mock.require_sigv4(AKID, SECRET);
    Harness::start_with(&config(SECRET), mock).await
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    ])
}

#[tokio::test]
async fn chat_is_signed_and_translated_both_ways() {
    let h = start().await;
    let resp = h
        .chat(&json!({"model": "claude-bedrock", "seed": 3, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello Bedrock"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-dropped-params"], "seed");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        format!("Mock reply from {MODEL}: Hello Bedrock")
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["model"], MODEL);
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-mock-"));
    let up = &h.mock.requests()[0];
    // The model id is one percent-encoded path segment.
    assert_eq!(
        up.path,
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    let auth = up.header("authorization").unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={AKID}/")),
        "{auth}"
    );
    assert!(auth.contains("/eu-west-3/bedrock/aws4_request"), "{auth}");
    assert!(up.header("x-amz-date").is_some());
    assert_eq!(up.header("x-amz-security-token"), None);
    assert_eq!(
        up.body,
        json!({"messages": [{"role": "user", "content": [{"text": "Hello Bedrock"}]}],
            "system": [{"text": "Be brief."}], "inferenceConfig": {"maxTokens": 777}})
    );
    assert!(!serde_json::to_string(up).unwrap().contains(SECRET));
    let recs = h.records(1).await;
    assert_eq!(recs[0].dropped_params, ["seed"]);
    let u = recs[0].usage.unwrap();
    assert_eq!(u.completion_tokens, 6);
    assert_eq!(u.prompt_tokens, up.usage.as_ref().unwrap()["inputTokens"]);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_signature_check() {
    let mock = MockServer::start().await.expect("mock starts");
    mock.require_sigv4(AKID, SECRET);
    let h = Harness::start_with(&config("not/the/right/secret/at/all0123456789"), mock).await;
    let resp = h
        .chat(&json!({"model": "claude-bedrock", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("credentials"), "{msg}");
    assert!(
        msg.contains("signature we calculated does not match"),
        "{msg}"
    );
    assert!(!msg.contains("not/the/right"), "{msg}");
}

#[tokio::test]
async fn streamed_text_and_usage() {
    let h = start().await;
    let resp = h
        .chat(&json!({"model": "claude-bedrock", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream it"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
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
    assert_eq!(content, format!("Mock reply from {MODEL}: stream it"));
    let finishes: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0].get("finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("stop")]);
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 6);
    let up = &h.mock.requests()[0];
    assert_eq!(
        up.path,
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    );
    assert_eq!(
        up.header("accept"),
        Some("application/vnd.amazon.eventstream")
    );
}

#[tokio::test]
async fn parallel_tool_calls_results_and_json_mode() {
    let h = start().await;
    let v: Value = h
        .chat(
            &json!({"model": "claude-bedrock", "tools": tools(), "tool_choice": "required",
            "messages": [{"role": "user", "content": "weather and time"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let sent = &h.mock.requests()[0].body;
    assert_eq!(sent["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(
        sent["toolConfig"]["tools"][1],
        json!({"toolSpec": {"name": "get_time", "inputSchema": {"json": {"type": "object", "properties": {"tz": {"type": "string"}}}}}})
    );

    let assistant = v["choices"][0]["message"].clone();
    let follow: Value = h
        .chat(
            &json!({"model": "claude-bedrock", "tools": tools(), "messages": [
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
    assert_eq!(sent.as_array().unwrap().len(), 3);
    assert_eq!(
        sent[1]["content"][0]["toolUse"]["toolUseId"],
        calls[0]["id"]
    );
    assert_eq!(
        sent[2]["content"][1],
        json!({"toolResult": {"toolUseId": calls[1]["id"], "content": [{"text": "noon"}]}})
    );

    // Streamed tool calls.
    let text = h
        .chat(
            &json!({"model": "claude-bedrock", "stream": true, "tools": tools(),
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

    // JSON mode through a forced tool.
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let v: Value = h
        .chat(&json!({"model": "claude-bedrock", "messages": [{"role": "user", "content": "json please"}],
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
async fn images_reasoning_and_refusals() {
    let h = start().await;
    let v: Value = h
        .chat(&json!({"model": "claude-bedrock", "reasoning_effort": "low", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}]}]}))
        .await
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(
        msg["content"],
        format!("Mock reply from {MODEL}: what is this?")
    );
    assert_eq!(msg["reasoning_content"], "Mock reasoning.");
    assert!(
        msg["thinking_blocks"][0]["signature"]
            .as_str()
            .unwrap()
            .starts_with("mock-signature-")
    );
    let sent = &h.mock.requests()[0].body;
    assert_eq!(
        sent["messages"][0]["content"][1],
        json!({"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}})
    );
    assert_eq!(
        sent["additionalModelRequestFields"]["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    // Remote images are refused, not fetched; nothing goes upstream.
    let resp = h
        .chat(
            &json!({"model": "claude-bedrock", "messages": [{"role": "user", "content": [
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
    for (directive, status, code) in [
        ("status=429 retry_after=2", 429, "ThrottlingException"),
        ("status=503", 503, "ServiceUnavailableException"),
        ("status=500", 502, "InternalServerException"),
        ("status=400", 400, "ValidationException"),
        ("status=408", 504, "ModelTimeoutException"),
    ] {
        let resp = h
            .chat(&json!({"model": "claude-bedrock", "messages": [{"role": "user", "content": format!("<<mock {directive}>>")}]}))
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
        assert_eq!(v["error"]["code"], code, "{v}");
    }
    let resp = h
        .chat(
            &json!({"model": "claude-bedrock", "messages": [{"role": "user",
            "content": "<<mock status=400 message=Input+is+too+long+for+requested+model.>>"}]}),
        )
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let kind = h.records(6).await[5].error.clone();
    assert_eq!(kind.as_deref(), Some("context_length_exceeded"), "{v}");

    // An exception frame before the first content byte is a plain error answer.
    let resp = h
        .chat(
            &json!({"model": "claude-bedrock", "stream": true, "messages": [{"role": "user",
            "content": "<<mock error_after=0 code=throttlingException>>"}]}),
        )
        .await;
    assert_eq!(resp.status(), 429);
    // Also right after messageStart, before any content.
    let resp = h
        .chat(
            &json!({"model": "claude-bedrock", "stream": true, "messages": [{"role": "user",
            "content": "<<mock error_after=1 code=serviceUnavailableException>>"}]}),
        )
        .await;
    assert_eq!(resp.status(), 503);
    // Later, an in-stream error event.
    for directive in ["error_after=3", "cut_after=3", "malformed_after=3"] {
        let text = h
            .chat(&json!({"model": "claude-bedrock", "stream": true, "messages": [{"role": "user", "content": format!("<<mock {directive} words=10>>")}]}))
            .await
            .text()
            .await
            .unwrap();
        let last: Value = serde_json::from_str(sse_data(&text).last().unwrap()).unwrap();
        assert!(last["error"].is_object(), "{directive}: {text}");
    }
    let recs = h.records(11).await;
    assert_eq!(
        recs.iter()
            .filter(|r| r.outcome == Outcome::StreamError)
            .count(),
        3
    );
}

#[tokio::test]
async fn titan_embeddings_one_call_per_input() {
    let h = start().await;
    let resp = h
        .post(
            "/v1/embeddings",
            &json!({"model": "titan", "input": ["alpha beta", "gamma"], "dimensions": 256}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let reqs = h.mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
    assert_eq!(
        reqs[1].body,
        json!({"inputText": "gamma", "dimensions": 256})
    );
    let v: Value = h
        .post(
            "/v1/embeddings",
            &json!({"model": "titan", "input": "x y", "encoding_format": "base64"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(v["data"][0]["embedding"].is_string());
}

#[tokio::test]
async fn session_tokens_are_sent_and_signed() {
    const TOKEN: &str = "FwoGZXIvYXdzEMockSessionToken0123456789";
    let mock = MockServer::start().await.expect("mock starts");
    mock.state()
        .set_aws_credentials(Some(sluice_mock::sigv4::AwsCredentials {
            access_key_id: AKID.to_owned(),
            secret_access_key: SECRET.to_owned(),
            session_token: Some(TOKEN.to_owned()),
        }));
    let yaml = config(SECRET).replace(
        "    default_max_tokens",
        &format!("    aws_session_token: {TOKEN}\n    default_max_tokens"),
    );
    let h = Harness::start_with(&yaml, mock).await;
    let resp = h
        .chat(&json!({"model": "claude-bedrock", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let up = &h.mock.requests()[0];
    assert_eq!(up.header("x-amz-security-token"), Some(TOKEN));
    assert!(
        up.header("authorization")
            .unwrap()
            .contains("x-amz-security-token"),
        "the token is a signed header"
    );

    // Without the token the same keys are refused.
    let mock = MockServer::start().await.expect("mock starts");
    mock.state()
        .set_aws_credentials(Some(sluice_mock::sigv4::AwsCredentials {
            access_key_id: AKID.to_owned(),
            secret_access_key: SECRET.to_owned(),
            session_token: Some(TOKEN.to_owned()),
        }));
    let h = Harness::start_with(&config(SECRET), mock).await;
    let resp = h
        .chat(&json!({"model": "claude-bedrock", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("security token included in the request is invalid"),
        "{v}"
    );
}
