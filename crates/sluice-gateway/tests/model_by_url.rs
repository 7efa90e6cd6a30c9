//! The model chosen by the URL (`/v1/route/{provider}/{model}/...`) or by
//! the `x-sluice-model` header, with the route settings that allow or
//! forbid it, against the mock provider in process.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use serde_json::{Value, json};
use sluice_store::Outcome;
use support::{Harness, sse_data};

const CONFIG: &str = r#"
providers:
  openai:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
  other:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: "openai/*"
    provider: openai
  - name: house-model
    provider: other
    model: mock-house
  - name: embed-test
    provider: openai
    model: mock-embed
routes:
  - name: default
    model_in_header: true
  - name: locked
    path: /locked
    model_in_path: false
    model_in_header: false
  - name: pinned
    path: /pinned
    model: house-model
  - name: narrow
    path: /narrow
    allowed_models: [house-model]
"#;

fn body() -> Value {
    json!({"messages": [{"role": "user", "content": "Hello"}]})
}

#[tokio::test]
async fn the_path_names_provider_and_model() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post("/v1/route/openai/gpt-4o-mini/chat/completions", &body())
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-sluice-provider"], "openai");
    assert_eq!(resp.headers()["x-sluice-model"], "gpt-4o-mini");
    let up = &h.mock.requests()[0];
    assert_eq!(up.path, "/v1/chat/completions");
    assert_eq!(
        up.body["model"], "gpt-4o-mini",
        "the model went into the body"
    );
    // `{model}` on `{provider}` when `{provider}/{model}` is not served.
    let resp = h
        .post("/v1/route/other/house-model/chat/completions", &body())
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[1].body["model"], "mock-house");
    // The path wins over the body's own `model`.
    let mut b = body();
    b["model"] = json!("something-else");
    let resp = h
        .post("/v1/route/openai/mock-gpt/chat/completions", &b)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[2].body["model"], "mock-gpt");

    let recs = h.records(3).await;
    assert_eq!(recs[0].meta.endpoint, "chat");
    assert_eq!(recs[0].meta.route, "default");
    assert_eq!(
        recs[0].meta.request_model.as_deref(),
        Some("openai/gpt-4o-mini")
    );
    assert_eq!(recs[1].meta.request_model.as_deref(), Some("house-model"));
    assert!(
        recs.iter()
            .all(|r| r.outcome == Outcome::Ok && r.usage.is_some())
    );
}

#[tokio::test]
async fn embeddings_and_streams_by_path() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post(
            "/v1/route/openai/mock-embed/embeddings",
            &json!({"input": "embed me"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[0].path, "/v1/embeddings");
    assert_eq!(h.mock.requests()[0].body["model"], "mock-embed");
    let mut b = body();
    b["stream"] = json!(true);
    let text = h
        .post("/v1/route/openai/mock-gpt/chat/completions", &b)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    let recs = h.records(2).await;
    assert_eq!(recs[0].meta.endpoint, "embeddings");
    assert!(recs[1].stream);
}

#[tokio::test]
async fn the_path_reaches_only_what_the_config_serves() {
    let h = Harness::start(CONFIG).await;
    for (path, status) in [
        // `openai/house-model` is served by the `openai/*` wildcard.
        ("/v1/route/openai/house-model/chat/completions", 200),
        // `house-model` is served, but `other/gpt-4o` and `gpt-4o` are not.
        ("/v1/route/other/gpt-4o/chat/completions", 404),
        ("/v1/route/nobody/gpt-4o/chat/completions", 404),
        ("/v1/route/openai/gpt-4o/completions", 404),
        ("/v1/route/openai/chat/completions", 404),
    ] {
        let resp = h.post(path, &body()).await;
        assert_eq!(resp.status(), status, "{path}");
    }
    assert_eq!(h.mock.requests().len(), 1);
    assert_eq!(h.mock.requests()[0].body["model"], "house-model");
    let resp = h
        .client()
        .get(h.endpoint("/v1/route/openai/gpt-4o/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn a_header_selects_the_model() {
    let h = Harness::start(CONFIG).await;
    let mut b = body();
    b["model"] = json!("ignored");
    let resp = h
        .client()
        .post(h.endpoint("/v1/chat/completions"))
        .header("x-sluice-model", "house-model")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[0].body["model"], "mock-house");
    let resp = h
        .client()
        .post(h.endpoint("/v1/embeddings"))
        .header("x-sluice-model", "embed-test")
        .json(&json!({"input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[1].body["model"], "mock-embed");
    let recs = h.records(2).await;
    assert_eq!(recs[0].meta.request_model.as_deref(), Some("house-model"));
}

#[tokio::test]
async fn routes_allow_or_forbid_it_and_keep_their_policies() {
    let h = Harness::start(CONFIG).await;
    let resp = h
        .post("/locked/v1/route/openai/mock-gpt/chat/completions", &body())
        .await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_selection_not_allowed");
    let mut b = body();
    b["model"] = json!("openai/mock-gpt");
    let resp = h
        .client()
        .post(h.endpoint("/locked/v1/chat/completions"))
        .header("x-sluice-model", "house-model")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // The body's model still works on that route.
    assert_eq!(
        h.post("/locked/v1/chat/completions", &b).await.status(),
        200
    );
    // A pinned route serves its model whatever the path says.
    let resp = h
        .post("/pinned/v1/route/openai/mock-gpt/chat/completions", &body())
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[1].body["model"], "mock-house");
    // The allow-list applies to the chosen model.
    let resp = h
        .post("/narrow/v1/route/openai/mock-gpt/chat/completions", &body())
        .await;
    assert_eq!(resp.status(), 403);
    let resp = h
        .post(
            "/narrow/v1/route/other/house-model/chat/completions",
            &body(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let recs = h.records(6).await;
    assert!(recs.iter().any(|r| r.meta.route == "narrow"));
}
