//! Each provider's native request shape through its pass-through path,
//! against the mock (which speaks every format): the path and credentials
//! the upstream received, in gateway and client credential mode, and the
//! model and usage the record read from the native answer.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_mock::MockServer;
use sluice_mock::gemini::token::test_service_account;
use sluice_store::{Outcome, RequestRecord};
use support::{Harness, PROVIDER_KEY};

const CLIENT_KEY: &str = "sk-client-canary-native-00001";
const AKID: &str = "AKIDMOCKPASSTHRU0001";
const SECRET: &str = "mock/Secret+Pass/Through0123456789abcd";
const BEDROCK_MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const BEDROCK_PATH: &str = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0";

const CONFIG: &str = r#"
providers:
  gemini:
    type: gemini
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
  gemini-byok:
    type: gemini
    base_url: MOCK_URL
    passthrough: { credentials: client }
  vertex:
    type: vertex
    base_url: MOCK_URL
    project: test-project
    location: europe-west4
    credentials_file: CREDENTIALS
  bedrock:
    type: bedrock
    base_url: MOCK_URL
    region: eu-west-3
    aws_access_key_id: AKID
    aws_secret_access_key: "SECRET"
  cohere:
    type: cohere
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
  azure:
    type: azure
    base_url: MOCK_URL
    api_key: env:PROVIDER_KEY
  mistral:
    type: mistral
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
  huggingface:
    type: huggingface
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
  replicate:
    type: replicate
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
"#;

async fn start() -> Harness {
    let mock = MockServer::start().await.expect("mock starts");
    mock.require_sigv4(AKID, SECRET);
    let creds = std::env::temp_dir().join(format!(
        "sluice-passthrough-vertex-{}-{}.json",
        std::process::id(),
        mock.addr().port()
    ));
    tokio::fs::write(
        &creds,
        test_service_account(&format!("{}/token", mock.url())),
    )
    .await
    .expect("credentials written");
    let yaml = CONFIG
        .replace("CREDENTIALS", &creds.display().to_string())
        .replace("AKID", AKID)
        .replace("SECRET", SECRET);
    Harness::start_with(&yaml, mock).await
}

/// POSTs `body` to `path` with every kind of client credential attached.
async fn post(h: &Harness, path: &str, body: &Value) -> reqwest::Response {
    h.client()
        .post(h.endpoint(path))
        .bearer_auth(CLIENT_KEY)
        .header("x-api-key", CLIENT_KEY)
        .header("api-key", CLIENT_KEY)
        .header("x-goog-api-key", CLIENT_KEY)
        .header("x-amz-security-token", CLIENT_KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The last request the mock received that was not a token exchange.
fn last(h: &Harness) -> sluice_mock::Received {
    h.mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path != "/token")
        .unwrap()
}

fn no_client_credential(r: &sluice_mock::Received) {
    let all = format!("{:?} {:?}", r.headers, r.query);
    assert!(
        !all.contains(CLIENT_KEY),
        "a client credential leaked: {all}"
    );
}

/// The record of the `n`th request (0-based), once written.
async fn record(h: &Harness, n: usize) -> RequestRecord {
    h.records(n + 1).await[n].clone()
}

fn assert_provider_usage(r: &RequestRecord, prompt_min: u64, completion_min: u64) {
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    let u = r.usage.expect("usage recorded");
    assert_eq!(u.source, sluice_protocol::UsageSource::Provider, "{u:?}");
    assert!(
        u.prompt_tokens >= prompt_min && u.completion_tokens >= completion_min,
        "{u:?}"
    );
}

fn gemini_body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hello Gemini"}]}]})
}

#[tokio::test]
async fn gemini_in_both_credential_modes_streaming_included() {
    let h = start().await;
    let path = "/gemini/v1beta/models/gemini-2.0-flash:generateContent?key=AIzaClientKeyInQuery000";
    let resp = post(&h, path, &gemini_body()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v["candidates"][0]["content"]["parts"][0]["text"].is_string());
    let up = last(&h);
    assert_eq!(up.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(up.query, None, "the client's ?key= is removed");
    assert_eq!(up.header("x-goog-api-key"), Some(PROVIDER_KEY));
    no_client_credential(&up);
    let r = record(&h, 0).await;
    assert_eq!(r.meta.request_model.as_deref(), Some("gemini-2.0-flash"));
    assert_provider_usage(&r, 1, 1);

    let text = post(
        &h,
        "/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        &gemini_body(),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.matches("data: ").count() > 1, "{text}");
    assert_eq!(last(&h).query.as_deref(), Some("alt=sse"));
    let r = record(&h, 1).await;
    assert!(r.stream);
    assert_provider_usage(&r, 1, 1);

    // Bring your own key: the header, or the key in the query.
    let resp = h
        .client()
        .post(h.endpoint("/gemini-byok/v1beta/models/gemini-2.0-flash:generateContent"))
        .header("x-goog-api-key", "AIzaByokHeader000000")
        .bearer_auth(CLIENT_KEY)
        .json(&gemini_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let up = last(&h);
    assert_eq!(up.header("x-goog-api-key"), Some("AIzaByokHeader000000"));
    assert_eq!(up.header("authorization"), None);
    let resp = h
        .client()
        .post(h.endpoint(
            "/gemini-byok/v1beta/models/gemini-2.0-flash:generateContent?key=AIzaByokQuery0000",
        ))
        .json(&gemini_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(last(&h).query.as_deref(), Some("key=AIzaByokQuery0000"));
}

#[tokio::test]
async fn vertex_uses_the_gateways_token_and_stays_in_its_project() {
    let h = start().await;
    let path = "/vertex/v1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent";
    let resp = post(&h, path, &gemini_body()).await;
    assert_eq!(resp.status(), 200);
    let up = last(&h);
    assert_eq!(up.path, &path["/vertex".len()..]);
    assert!(
        up.header("authorization")
            .unwrap()
            .starts_with("Bearer mock-vertex-token-")
    );
    no_client_credential(&up);
    assert_provider_usage(&record(&h, 0).await, 1, 1);

    let other = path.replace("test-project", "someone-elses");
    let resp = post(&h, &other, &gemini_body()).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        h.mock
            .requests()
            .iter()
            .filter(|r| r.path != "/token")
            .count(),
        1
    );
}

#[tokio::test]
async fn bedrock_requests_are_signed_afresh_by_the_gateway() {
    let h = start().await;
    let body = json!({"messages": [{"role": "user", "content": [{"text": "Hello Bedrock"}]}],
        "inferenceConfig": {"maxTokens": 50}});
    let resp = h
        .client()
        .post(h.endpoint(&format!("/bedrock{BEDROCK_PATH}/converse")))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00",
        )
        .header("x-amz-date", "20240101T000000Z")
        .header("x-amz-security-token", CLIENT_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the mock verified the gateway's signature"
    );
    let v: Value = resp.json().await.unwrap();
    assert!(v["output"]["message"]["content"][0]["text"].is_string());
    let up = last(&h);
    assert_eq!(up.path, format!("{BEDROCK_PATH}/converse"));
    assert!(
        up.header("authorization")
            .unwrap()
            .starts_with(&format!("AWS4-HMAC-SHA256 Credential={AKID}/"))
    );
    no_client_credential(&up);
    let r = record(&h, 0).await;
    assert_eq!(r.meta.request_model.as_deref(), Some(BEDROCK_MODEL));
    assert_provider_usage(&r, 1, 1);

    // ConverseStream: the AWS event stream passes through; usage from its
    // `metadata` event.
    let resp = post(
        &h,
        &format!("/bedrock{BEDROCK_PATH}/converse-stream"),
        &body,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let bytes = resp.bytes().await.unwrap();
    let mut dec = sluice_protocol::eventstream::Decoder::default();
    dec.push(&bytes);
    let mut types = Vec::new();
    while let Some(m) = dec.next_message().unwrap() {
        types.push(m.header_str(":event-type").unwrap_or("").to_owned());
    }
    assert_eq!(types.last().map(String::as_str), Some("metadata"));
    let r = record(&h, 1).await;
    assert!(r.stream);
    assert_provider_usage(&r, 1, 1);

    // InvokeModel (Titan embeddings): usage from the model's own JSON.
    let resp = post(
        &h,
        "/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke",
        &json!({"inputText": "embed me please"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_provider_usage(&record(&h, 2).await, 1, 0);
}

#[tokio::test]
async fn bedrock_bring_your_own_key_takes_api_keys_not_signatures() {
    let h = Harness::start(&format!(
        r#"
providers:
  bedrock:
    type: bedrock
    base_url: MOCK_URL
    region: eu-west-3
    aws_access_key_id: {AKID}
    aws_secret_access_key: "{SECRET}"
    passthrough: {{ credentials: client }}
"#
    ))
    .await;
    let body = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
    let path = format!("/bedrock{BEDROCK_PATH}/converse");
    let resp = h
        .client()
        .post(h.endpoint(&path))
        .bearer_auth("ABSKbedrockApiKeyCanary0000")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let up = &h.mock.requests()[0];
    assert_eq!(
        up.header("authorization"),
        Some("Bearer ABSKbedrockApiKeyCanary0000")
    );
    assert!(
        up.header("x-amz-date").is_none(),
        "not signed by the gateway"
    );
    let resp = h
        .client()
        .post(h.endpoint(&path))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=X/1/2/3/aws4_request",
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(h.mock.requests().len(), 1);
}

#[tokio::test]
async fn cohere_azure_mistral_huggingface_and_replicate() {
    let h = start().await;
    // Cohere v2 chat, then streamed.
    let body = json!({"model": "command-r-plus", "messages": [{"role": "user", "content": "Hello Cohere"}]});
    assert_eq!(post(&h, "/cohere/v2/chat", &body).await.status(), 200);
    let up = last(&h);
    assert_eq!(up.path, "/v2/chat");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    no_client_credential(&up);
    let r = record(&h, 0).await;
    assert_eq!(r.meta.request_model.as_deref(), Some("command-r-plus"));
    assert_provider_usage(&r, 1, 1);
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let text = post(&h, "/cohere/v2/chat", &streamed)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("message-end"), "{text}");
    assert_provider_usage(&record(&h, 1).await, 1, 1);

    // Azure OpenAI: deployment path, api-version, `api-key`.
    let chat = json!({"messages": [{"role": "user", "content": "Hello Azure"}]});
    let resp = post(
        &h,
        "/azure/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21",
        &chat,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let up = last(&h);
    assert_eq!(up.path, "/openai/deployments/my-gpt/chat/completions");
    assert_eq!(up.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(up.header("api-key"), Some(PROVIDER_KEY));
    assert_eq!(up.header("authorization"), None);
    no_client_credential(&up);
    let r = record(&h, 2).await;
    assert_eq!(r.meta.request_model.as_deref(), Some("my-gpt"));
    assert_provider_usage(&r, 1, 1);

    // Mistral (the OpenAI wire at Mistral's own root).
    let resp = post(
        &h,
        "/mistral/v1/chat/completions",
        &json!({"model": "mistral-large-latest", "messages": [{"role": "user", "content": "Bonjour"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(last(&h).path, "/v1/chat/completions");
    assert_provider_usage(&record(&h, 3).await, 1, 1);

    // Hugging Face: the router's chat API and a serverless text-generation model.
    let resp = post(
        &h,
        "/huggingface/v1/chat/completions",
        &json!({"model": "meta-llama/Llama-3.1-8B-Instruct", "messages": [{"role": "user", "content": "Hi HF"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_provider_usage(&record(&h, 4).await, 1, 1);
    let resp = post(
        &h,
        "/huggingface/hf-inference/models/gpt2/gpt2-large",
        &json!({"inputs": "User: Once upon a time\n\nAssistant:"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let up = last(&h);
    assert_eq!(up.path, "/hf-inference/models/gpt2/gpt2-large");
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    let r = record(&h, 5).await;
    assert_eq!(r.meta.request_model.as_deref(), Some("gpt2/gpt2-large"));
    assert_eq!(r.outcome, Outcome::Ok);

    // Replicate: create a prediction (waiting for it), then read it back.
    let resp = h
        .client()
        .post(h.endpoint("/replicate/v1/models/meta/meta-llama-3-8b-instruct/predictions"))
        .bearer_auth(CLIENT_KEY)
        .header("prefer", "wait=5")
        .header("x-mock", "polls=0")
        .json(&json!({"input": {"prompt": "Hello Replicate"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["status"], "succeeded");
    let up = last(&h);
    assert_eq!(
        up.path,
        "/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    );
    no_client_credential(&up);
    let r = record(&h, 6).await;
    assert_eq!(
        r.meta.request_model.as_deref(),
        Some("meta/meta-llama-3-8b-instruct")
    );
    assert_provider_usage(&r, 1, 1);
    let id = p["id"].as_str().unwrap();
    let resp = h
        .client()
        .get(h.endpoint(&format!("/replicate/v1/predictions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["id"], id);
}
