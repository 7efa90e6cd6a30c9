//! Every client-facing surface produces the same request record as the
//! chat endpoint for the same upstream exchange: provider, upstream and
//! response model, tokens, status, outcome, latency, streaming and time to
//! first byte. One request per surface, plain and streamed.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_store::{Outcome, RequestRecord};
use support::Harness;

const CONFIG: &str = r#"
providers:
  openai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: "openai/*"
    provider: openai
"#;

fn messages() -> Value {
    json!([{"role": "user", "content": "Tell me about request records"}])
}

/// Sends the same exchange through one surface; returns the record.
async fn via(h: &Harness, surface: &str, stream: bool, n: usize) -> RequestRecord {
    let mut native = json!({"model": "mock-gpt", "messages": messages(), "stream": stream});
    if stream {
        // Pass-through forwards bodies untouched: ask for usage the way an
        // OpenAI client would (the chat endpoint adds this itself).
        native["stream_options"] = json!({"include_usage": true});
    }
    let resp = match surface {
        "chat" => {
            h.post(
                "/v1/chat/completions",
                &json!({"model": "openai/mock-gpt", "messages": messages(), "stream": stream}),
            )
            .await
        }
        "passthrough" => h.post("/openai/v1/chat/completions", &native).await,
        "universal" => {
            h.post(
                "/v1/universal",
                &json!([{"provider": "openai", "endpoint": "v1/chat/completions", "query": native}]),
            )
            .await
        }
        "path" => {
            h.post(
                "/v1/route/openai/mock-gpt/chat/completions",
                &json!({"messages": messages(), "stream": stream}),
            )
            .await
        }
        "header" => h
            .client()
            .post(h.endpoint("/v1/chat/completions"))
            .header("x-sluice-model", "openai/mock-gpt")
            .json(&json!({"model": "x", "messages": messages(), "stream": stream}))
            .send()
            .await
            .unwrap(),
        other => panic!("unknown surface {other}"),
    };
    assert_eq!(resp.status(), 200, "{surface}");
    resp.bytes().await.unwrap();
    h.records(n).await[n - 1].clone()
}

#[tokio::test]
async fn every_surface_records_what_the_chat_endpoint_records() {
    let h = Harness::start(CONFIG).await;
    let mut n = 0;
    for stream in [false, true] {
        n += 1;
        let chat = via(&h, "chat", stream, n).await;
        assert_eq!(chat.outcome, Outcome::Ok);
        let cu = chat.usage.unwrap();
        assert!(cu.prompt_tokens > 0 && cu.completion_tokens > 0);
        for surface in ["passthrough", "universal", "path", "header"] {
            n += 1;
            let r = via(&h, surface, stream, n).await;
            let what = format!("{surface}, stream={stream}");
            assert_eq!(r.meta.provider_name, chat.meta.provider_name, "{what}");
            assert_eq!(r.meta.upstream_model, chat.meta.upstream_model, "{what}");
            assert_eq!(r.meta.response_model, chat.meta.response_model, "{what}");
            let u = r.usage.unwrap_or_else(|| panic!("{what}: no usage"));
            assert_eq!(
                (u.prompt_tokens, u.completion_tokens, u.source),
                (cu.prompt_tokens, cu.completion_tokens, cu.source),
                "{what}"
            );
            assert_eq!(r.status, chat.status, "{what}");
            assert_eq!(r.outcome, chat.outcome, "{what}");
            assert_eq!(r.stream, chat.stream, "{what}");
            assert!(r.latency_ms > 0.0, "{what}");
            if stream {
                assert!(r.ttft_ms.is_some() && chat.ttft_ms.is_some(), "{what}");
            }
            assert!(r.gateway_ms.is_some(), "{what}");
            assert_eq!(r.attempts.len(), 1, "{what}");
            assert_eq!(r.attempts[0].provider, "openai", "{what}");
            assert_eq!(r.attempts[0].status, Some(200), "{what}");
            assert!(!r.meta.endpoint.is_empty(), "{what}");
        }
    }
}
