//! Canary weights edited from the dashboard go through the reload path:
//! validated, swapped in at once, refused whole when invalid.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use reqwest::{StatusCode, header};
use serde_json::json;
use support::{ADMIN_KEY, Harness};

const YAML: &str = r#"
providers:
  a:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
  b:
    type: openai
    base_url: MOCK_B_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: chat
    strategy: weighted
    targets:
      - { provider: a, model: model-a, weight: 1 }
      - { provider: b, model: model-b, weight: 0 }
"#;

async fn set(h: &Harness, body: &str) -> (StatusCode, String) {
    let r = h
        .client()
        .post(format!("{}/ui/routes/weights", h.admin_url))
        .bearer_auth(ADMIN_KEY)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .expect("sent");
    (r.status(), r.text().await.expect("body"))
}

async fn providers(h: &Harness, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for i in 0..n {
        let r = h
            .chat(&json!({"model": "chat", "messages": [{"role": "user", "content": format!("q{i}")}]}))
            .await;
        assert_eq!(r.status(), 200);
        seen.push(
            r.headers()["x-sluice-provider"]
                .to_str()
                .expect("ascii")
                .to_owned(),
        );
    }
    seen.sort();
    seen.dedup();
    seen
}

#[tokio::test]
async fn a_weight_edit_is_swapped_in_at_once_and_a_bad_one_is_refused() {
    let h = Harness::start_two(YAML).await;
    assert_eq!(providers(&h, 5).await, ["a"]);
    let generation = h.gw.snapshot().generation;

    let (status, body) = set(&h, "model=chat&w0=0&w1=3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.gw.snapshot().generation, generation + 1);
    assert_eq!(providers(&h, 5).await, ["b"]);
    let (_, routes) = h.admin(reqwest::Method::GET, "/v1/routes", None).await;
    assert_eq!(routes[0]["targets"][1]["weight"], 3);

    // All zero: refused, nothing swapped, the error is the last reload result.
    let (status, body) = set(&h, "model=chat&w0=0&w1=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("needs a target with weight"), "{body}");
    assert_eq!(h.gw.snapshot().generation, generation + 1);
    assert_eq!(providers(&h, 3).await, ["b"]);
    let page = h
        .client()
        .get(format!("{}/ui/routes", h.admin_url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("refused"),
        "the last reload shows the refusal"
    );

    // Wrong shapes never reach the reload.
    for bad in [
        "model=chat&w0=1",
        "model=nope&w0=1&w1=1",
        "model=chat&w0=x&w1=1",
        "w0=1",
    ] {
        let (status, _) = set(&h, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(providers(&h, 3).await, ["b"]);
}

#[tokio::test]
async fn a_file_reload_drops_weights_that_no_longer_fit_instead_of_failing() {
    let h = Harness::start_two(YAML).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.yaml");
    let with_urls = |y: &str| {
        y.replace("MOCK_URL", &h.mock.url())
            .replace("MOCK_B_URL", &h.mock_b.as_ref().unwrap().url())
            .replace("env:PROVIDER_KEY", support::PROVIDER_KEY)
    };
    std::fs::write(&path, with_urls(YAML)).unwrap();
    let reloader = sluice_gateway::reload::Reloader::new(&path, h.gw.clone(), |_| {});
    reloader.set_weights("chat", vec![0, 1]).await.unwrap();
    assert!(
        reloader.set_weights("chat", vec![1]).await.is_err(),
        "a wrong count is refused"
    );
    assert!(reloader.set_weights("nope", vec![1]).await.is_err());
    assert_eq!(reloader.weight_overrides()["chat"], vec![0, 1]);
    // The file now has one target: its reload succeeds and the edit is dropped.
    let one = YAML.replace("      - { provider: b, model: model-b, weight: 0 }\n", "");
    std::fs::write(&path, with_urls(&one)).unwrap();
    reloader.reload("file").await.unwrap();
    assert!(reloader.weight_overrides().is_empty());
    assert_eq!(providers(&h, 3).await, ["a"]);
}
