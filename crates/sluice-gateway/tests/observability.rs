//! `/metrics`, the analytics API and the ledger agree on a scripted
//! workload; the log pages, filters, shows one request in full and exports
//! CSV and JSON; the cost of a request follows the price table.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::{ADMIN_KEY, Harness};

const CONFIG: &str = r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: gpt
    provider: mock
    model: mock-gpt
  - name: mini
    provider: mock
    model: mock-mini
pricing:
  - { provider: mock, model: mock-gpt, input: 2.0, output: 8.0, cached_input: 0.5 }
  - { provider: mock, model: mock-mini, input: 0.1, output: 0.4 }
"#;

/// Sums a Prometheus counter's series whose labels contain every `want`.
fn metric_sum(text: &str, name: &str, want: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| want.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn wait_written(h: &Harness, n: u64) {
    let c = h.gw.ledger().counters();
    for _ in 0..200 {
        if c.written.load(Ordering::Relaxed) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("ledger wrote {} of {n}", c.written.load(Ordering::Relaxed));
}

#[tokio::test]
async fn metrics_analytics_and_ledger_agree() {
    let h = Harness::start(CONFIG).await;
    let ask = |model: &str, text: &str, stream: bool| {
        let mut b = json!({"model": model, "messages": [{"role": "user", "content": text}]});
        if stream {
            b["stream"] = json!(true);
            b["stream_options"] = json!({"include_usage": true});
        }
        b
    };
    let mut sent = 0;
    for i in 0..12 {
        let r = h
            .post(
                "/v1/chat/completions",
                &ask("gpt", &format!("hello {i}"), i % 3 == 0),
            )
            .await;
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        sent += 1;
    }
    for i in 0..6 {
        let r = h
            .post(
                "/v1/chat/completions",
                &ask("mini", &format!("<<mock words=7>> hi {i}"), false),
            )
            .await;
        assert_eq!(r.status(), 200);
        sent += 1;
    }
    for _ in 0..3 {
        let r = h
            .post(
                "/v1/chat/completions",
                &ask("gpt", "<<mock status=400>> bad", false),
            )
            .await;
        assert_eq!(r.status(), 400);
        sent += 1;
    }
    let r = h
        .post("/v1/chat/completions", &ask("no-such-model", "x", false))
        .await;
    assert_eq!(r.status(), 404);
    sent += 1;
    wait_written(&h, sent).await;
    let records = h.records(sent as usize).await;

    // The ledger's own sums.
    let ok = records
        .iter()
        .filter(|r| r.outcome.as_str() == "ok")
        .count();
    let prompt: u64 = records
        .iter()
        .filter_map(|r| r.usage)
        .map(|u| u.prompt_tokens)
        .sum();
    let completion: u64 = records
        .iter()
        .filter_map(|r| r.usage)
        .map(|u| u.completion_tokens)
        .sum();
    let cost: f64 = records.iter().filter_map(|r| r.cost_usd).sum();
    assert_eq!(ok, 18);
    assert!(prompt > 0 && completion > 0 && cost > 0.0);

    // /metrics.
    let text = h
        .client()
        .get(h.endpoint("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(metric_sum(&text, "sluice_requests_total", &[]), sent as f64);
    assert_eq!(
        metric_sum(&text, "sluice_requests_total", &["outcome=\"ok\""]),
        ok as f64
    );
    assert_eq!(
        metric_sum(&text, "sluice_tokens_total", &["type=\"prompt\""]),
        prompt as f64
    );
    assert_eq!(
        metric_sum(&text, "sluice_tokens_total", &["type=\"completion\""]),
        completion as f64
    );
    assert!((metric_sum(&text, "sluice_cost_usd_total", &[]) - cost).abs() < 1e-9);
    assert_eq!(
        metric_sum(&text, "sluice_request_duration_seconds_count", &[]),
        sent as f64
    );
    assert!(
        !text.contains("no-such-model"),
        "unknown models are not labels"
    );

    // The analytics API.
    let (s, summary) = h
        .admin(Method::GET, "/v1/analytics/summary?group_by=model", None)
        .await;
    assert_eq!(s, 200, "{summary}");
    let t = &summary["totals"];
    assert_eq!(t["requests"], sent);
    assert_eq!(t["errors"], sent - ok as u64);
    assert_eq!(t["prompt_tokens"], prompt);
    assert_eq!(t["completion_tokens"], completion);
    assert!((t["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9);
    assert!(t["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    let per_model: HashMap<String, u64> = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"]["model"].as_str().unwrap_or("-").to_owned(),
                g["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(per_model["gpt"], 15);
    assert_eq!(per_model["mini"], 6);
    let (_, series) = h
        .admin(
            Method::GET,
            "/v1/analytics/timeseries?interval_secs=3600&group_by=outcome",
            None,
        )
        .await;
    let in_series: u64 = series["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["groups"].as_array().unwrap().iter())
        .map(|g| g["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(in_series, sent);

    // The log: filter, pages, one request, export.
    let (_, page) = h
        .admin(Method::GET, "/v1/logs?model=mini&limit=4", None)
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = h
        .admin(
            Method::GET,
            &format!("/v1/logs?model=mini&limit=4&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
    let id = page["data"][0]["request_id"].as_str().unwrap();
    let (s, one) = h.admin(Method::GET, &format!("/v1/logs/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(one["request_id"], id);
    assert_eq!(one["attempts"][0]["provider"], "mock");
    let (s, _) = h.admin(Method::GET, "/v1/logs/nope", None).await;
    assert_eq!(s, 404);
    let (_, failed) = h.admin(Method::GET, "/v1/logs?status=400", None).await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 3);
    let csv = h
        .client()
        .get(format!("{}/v1/logs/export?format=csv", h.admin_url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    assert_eq!(
        body.lines().count() as u64,
        sent + 1,
        "a header and one line per request"
    );
    assert!(body.starts_with("request_id,started_at_ms,"));
    let (_, as_json) = h
        .admin(Method::GET, "/v1/logs/export?format=json", None)
        .await;
    assert_eq!(as_json.as_array().unwrap().len() as u64, sent);
    let (s, _) = h
        .admin(Method::GET, "/v1/analytics/summary?group_by=colour", None)
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn cost_follows_the_price_table_with_cached_tokens() {
    let h = Harness::start(CONFIG).await;
    let r = h
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt", "messages": [{"role": "user", "content": "<<mock words=10 cached_tokens=4>> price me"}]}),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    let u = &body["usage"];
    let (p, c) = (
        u["prompt_tokens"].as_f64().unwrap(),
        u["completion_tokens"].as_f64().unwrap(),
    );
    let cached = 4.0;
    let want = ((p - cached) * 2.0 + cached * 0.5 + c * 8.0) / 1e6;
    let rec = &h.records(1).await[0];
    let got = rec.cost_usd.unwrap();
    assert!((got - want).abs() < 1e-12, "cost {got}, want {want}");
}

/// A webhook receiver collecting what it is sent.
async fn webhook() -> (String, std::sync::Arc<parking_lot::Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let got: std::sync::Arc<parking_lot::Mutex<Vec<Value>>> = Default::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(v): axum::Json<Value>| {
            let g = g.clone();
            async move {
                g.lock().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn error_rate_and_budget_alerts_reach_the_webhook_once() {
    let (hook, got) = webhook().await;
    let yaml = format!(
        "{CONFIG}alerts:\n  webhook: {hook}\n  cooldown: 1h\n  rules:\n    - {{ name: gpt-errors, model: gpt, error_rate: 0.3, min_requests: 4, window: 1m }}\n"
    );
    let h = Harness::start(&yaml).await;
    let ask = |text: &str| json!({"model": "gpt", "messages": [{"role": "user", "content": text}]});
    for _ in 0..3 {
        let _ = h
            .post("/v1/chat/completions", &ask("fine"))
            .await
            .bytes()
            .await;
    }
    for _ in 0..6 {
        let r = h
            .post("/v1/chat/completions", &ask("<<mock status=400>> broken"))
            .await;
        assert_eq!(r.status(), 400);
    }
    // A key whose budget reaches its alert threshold.
    let (key, id) = h
        .create_key(json!({"name": "spender", "budget": {"usd": 0.0005, "period": "daily", "alert_at": 0.5}}))
        .await;
    for _ in 0..4 {
        let _ = h
            .chat_as(&key, &ask("<<mock words=50>> spend"))
            .await
            .bytes()
            .await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    for _ in 0..100 {
        if got.lock().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alerts = got.lock().clone();
    let errors: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["type"] == "error_rate")
        .collect();
    assert_eq!(errors.len(), 1, "cooldown holds repeats: {alerts:?}");
    assert_eq!(errors[0]["rule"], "gpt-errors");
    assert_eq!(errors[0]["model"], "gpt");
    assert!(errors[0]["value"].as_f64().unwrap() > 0.3);
    let budgets: Vec<&Value> = alerts.iter().filter(|a| a["type"] == "budget").collect();
    assert_eq!(budgets.len(), 1, "{alerts:?}");
    assert_eq!(budgets[0]["owner_id"], id.as_str());
    assert!(budgets[0]["spent_usd"].as_f64().unwrap() >= 0.00025);
}
