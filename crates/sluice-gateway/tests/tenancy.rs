//! Keys, rate limits and budgets, end to end: open and closed modes, token
//! limits counting streamed and complete answers, budgets under
//! concurrency, budget fallbacks, config rules and allow-lists.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::Harness;

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
  - name: cheap
    provider: mock
    model: mock-cheap
pricing:
  - { provider: mock, model: mock-gpt, input: 1000, output: 1000 }
  - { provider: mock, model: mock-cheap, input: 1, output: 1 }
"#;

fn ask(text: &str) -> Value {
    json!({"model": "gpt", "messages": [{"role": "user", "content": text}]})
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn open_until_the_first_key_then_keys_are_required() {
    let h = Harness::start(CONFIG).await;
    assert_eq!(h.chat(&ask("hi")).await.status(), 200, "open with no keys");
    let (key, id) = h.create_key(json!({"name": "app"})).await;
    assert!(
        key.starts_with("sk-sluice-") && key.len() >= 10 + 22,
        "{key}"
    );

    let r = h.chat(&ask("hi")).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(h.chat_as("sk-sluice-wrong", &ask("hi")).await.status(), 401);

    // Every header an SDK may send its key in.
    assert_eq!(h.chat_as(&key, &ask("hi")).await.status(), 200);
    for name in ["x-api-key", "api-key", "x-sluice-key", "x-goog-api-key"] {
        let r = h
            .client()
            .post(h.endpoint("/v1/chat/completions"))
            .header(name, &key)
            .json(&ask("hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }
    let recs = h.records(8).await;
    let mine = recs
        .iter()
        .filter(|r| r.identity.key_id.as_deref() == Some(&id));
    assert_eq!(mine.count(), 5, "requests are recorded with the key id");
    let refused = recs.iter().filter(|r| r.status == 401).count();
    assert_eq!(refused, 2, "refusals are recorded too");

    // Revocation takes effect at once on this instance.
    let (status, _) = h
        .admin(Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.chat_as(&key, &ask("hi")).await.status(), 401);
}

#[tokio::test]
async fn a_token_limit_counts_streamed_and_complete_answers() {
    let h = Harness::start(CONFIG).await;
    let limits = json!([{"metric": "total_tokens", "limit": 1000, "window_secs": 60}]);
    let (key, _) = h.create_key(json!({"name": "tok", "limits": limits})).await;
    let mut used = 0u64;
    let mut admitted = 0usize;
    let mut refused = None;
    for i in 0..40 {
        let stream = i % 2 == 1;
        let body = json!({
            "model": "gpt",
            "stream": stream,
            "stream_options": {"include_usage": true},
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "<<mock words=120>> count"}],
        });
        let r = h.chat_as(&key, &body).await;
        if r.status() == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
        assert_eq!(
            header(&r, "x-ratelimit-limit-tokens").as_deref(),
            Some("1000")
        );
        assert!(header(&r, "x-ratelimit-remaining-tokens").is_some());
        assert!(header(&r, "x-ratelimit-reset-tokens").is_some());
        let _ = r.bytes().await.unwrap();
        admitted += 1;
        // The record carries the provider-reported usage the limit settles to.
        let rec = h.records(admitted).await.pop().unwrap();
        used += rec.usage.unwrap().total_tokens();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let r = refused.expect("the limit refused a request");
    assert!(admitted >= 4, "both kinds were admitted first: {admitted}");
    // Refused once the reported usage reached the limit, not before.
    assert!(used >= 1000 - 140, "refused early, at {used} tokens");
    assert!(used <= 1000 + 140, "refused late, at {used} tokens");
    let after: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    assert!(header(&r, "retry-after-ms").is_some());
    assert_eq!(
        header(&r, "x-ratelimit-limit-tokens").as_deref(),
        Some("1000")
    );
    assert!(
        header(&r, "x-ratelimit-remaining-tokens")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            < 140
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let rec = h.records(admitted + 1).await.pop().unwrap();
    assert_eq!(rec.outcome.as_str(), "rate_limited");
}

/// One request's cost on `model` (from its record).
async fn cost_of_one(h: &Harness, key: &str, body: &Value) -> f64 {
    let before = h.sink.records().len();
    assert_eq!(h.chat_as(key, body).await.status(), 200);
    let rec = h.records(before + 1).await.pop().unwrap();
    rec.cost_usd.expect("priced")
}

#[tokio::test]
async fn a_budget_holds_under_concurrency() {
    let h = Harness::start(CONFIG).await;
    let body = json!({
        "model": "gpt",
        "max_tokens": 12,
        "messages": [{"role": "user", "content": "<<mock words=10>> spend"}],
    });
    let (probe, _) = h.create_key(json!({"name": "probe"})).await;
    let cost = cost_of_one(&h, &probe, &body).await;
    assert!(cost > 0.0);
    for trial in 0..3 {
        let budget = json!({"usd": cost * 10.5, "period": "monthly"});
        let (key, id) = h
            .create_key(json!({"name": format!("b{trial}"), "budget": budget}))
            .await;
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (c, url, key, body) = (
                    h.client(),
                    h.endpoint("/v1/chat/completions"),
                    key.clone(),
                    body.clone(),
                );
                tokio::spawn(async move {
                    let r = c
                        .post(url)
                        .bearer_auth(key)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let b: Value = r.json().await.unwrap();
                    (status, b)
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            let (status, b) = t.await.unwrap();
            match status {
                200 => ok += 1,
                429 => assert_eq!(b["error"]["code"], "insufficient_quota", "{b}"),
                other => panic!("unexpected {other}: {b}"),
            }
        }
        assert!((1..=11).contains(&ok), "trial {trial}: {ok} admitted");
        // Spend settles: the key's usage never exceeds one request over budget.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, usage) = h
            .admin(Method::GET, &format!("/v1/keys/{id}/usage"), None)
            .await;
        let spent = usage["budgets"][0]["spent_usd"].as_f64().unwrap();
        assert!(
            spent <= cost * 11.5,
            "trial {trial}: spent {spent} of {}",
            cost * 10.5
        );
    }
}

#[tokio::test]
async fn a_spent_budget_refuses_or_falls_back() {
    let h = Harness::start(CONFIG).await;
    let body = json!({
        "model": "gpt",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "<<mock words=5>> hi"}],
    });
    let (probe, _) = h.create_key(json!({"name": "probe"})).await;
    let cost = cost_of_one(&h, &probe, &body).await;
    let refuse = json!({"usd": cost * 2.5, "period": "daily"});
    let (key, _) = h.create_key(json!({"budget": refuse})).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = h.chat_as(&key, &body).await;
        statuses.push(r.status().as_u16());
        let _ = r.bytes().await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // Two fit; a third only if its prompt still fits (it may overshoot by
    // one request); then every request is refused.
    let admitted = statuses.iter().take_while(|s| **s == 200).count();
    assert!((2..=3).contains(&admitted), "{statuses:?}");
    assert!(
        statuses[admitted..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );

    let fallback = json!({"usd": cost * 2.5, "period": "weekly",
        "on_exhausted": {"action": "fallback", "model": "cheap"}});
    let (key, _) = h.create_key(json!({"budget": fallback})).await;
    let mut models = Vec::new();
    for _ in 0..5 {
        let r = h.chat_as(&key, &body).await;
        assert_eq!(r.status(), 200);
        models.push(header(&r, "x-sluice-model").unwrap());
        assert_eq!(
            header(&r, "x-sluice-budget-fallback").is_some(),
            models.last().map(String::as_str) == Some("mock-cheap")
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let gpt = models.iter().take_while(|m| *m == "mock-gpt").count();
    assert!((2..=3).contains(&gpt), "{models:?}");
    assert!(
        models[gpt..].iter().all(|m| m == "mock-cheap"),
        "{models:?}"
    );
}

#[tokio::test]
async fn config_rules_and_allow_lists() {
    let yaml = format!(
        "{CONFIG}{}",
        r#"
limits:
  rules:
    - name: gpt-per-key
      match: { models: [gpt] }
      per: [key]
      metric: requests
      limit: 3
      window: 1m
"#
    );
    let h = Harness::start(&yaml).await;
    let (a, _) = h.create_key(json!({"name": "a"})).await;
    let (b, _) = h
        .create_key(json!({"name": "b", "allowed_models": ["cheap"]}))
        .await;
    for _ in 0..3 {
        let r = h.chat_as(&a, &ask("x")).await;
        assert_eq!(r.status(), 200);
        assert!(header(&r, "x-ratelimit-remaining-requests").is_some());
    }
    let r = h.chat_as(&a, &ask("x")).await;
    assert_eq!(r.status(), 429, "the rule counts per key and model");
    assert_eq!(
        header(&r, "x-ratelimit-limit-requests").as_deref(),
        Some("3")
    );
    let cheap = json!({"model": "cheap", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(
        h.chat_as(&a, &cheap).await.status(),
        200,
        "other models are not limited"
    );

    let r = h.chat_as(&b, &ask("x")).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(h.chat_as(&b, &cheap).await.status(), 200);
}

#[tokio::test]
async fn rotation_keeps_the_key_and_honours_the_grace_period() {
    let h = Harness::start(CONFIG).await;
    let (old, id) = h.create_key(json!({"name": "rot"})).await;
    let (status, v) = h
        .admin(
            Method::POST,
            &format!("/v1/keys/{id}/rotate"),
            Some(json!({"grace_secs": 60})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let new = v["key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(h.chat_as(&new, &ask("x")).await.status(), 200);
    assert_eq!(
        h.chat_as(&old, &ask("x")).await.status(),
        200,
        "within the grace"
    );
    let (status, v) = h
        .admin(Method::POST, &format!("/v1/keys/{id}/rotate"), None)
        .await;
    assert_eq!(status, 200);
    let newest = v["key"].as_str().unwrap();
    assert_eq!(h.chat_as(&new, &ask("x")).await.status(), 401, "no grace");
    assert_eq!(h.chat_as(newest, &ask("x")).await.status(), 200);

    // An expired key stops working.
    let (short, _) = h.create_key(json!({"expires_in_secs": 1})).await;
    assert_eq!(h.chat_as(&short, &ask("x")).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(h.chat_as(&short, &ask("x")).await.status(), 401);

    // An imported key works as it is.
    let imported = "legacy-team-key-000111222333";
    let (status, v) = h
        .admin(
            Method::POST,
            "/v1/keys",
            Some(json!({"key": imported, "name": "legacy"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["imported"], true);
    assert_eq!(v["prefix"], "lega…");
    assert_eq!(h.chat_as(imported, &ask("x")).await.status(), 200);
    let (status, _) = h
        .admin(Method::POST, "/v1/keys", Some(json!({"key": imported})))
        .await;
    assert_eq!(status, 409, "an imported key is unique");
}

#[tokio::test]
async fn team_and_consumer_budgets_apply_to_their_keys() {
    let h = Harness::start(CONFIG).await;
    let body = json!({"model": "gpt", "max_tokens": 8,
        "messages": [{"role": "user", "content": "<<mock words=5>> hi"}]});
    let (probe, _) = h.create_key(json!({"name": "probe"})).await;
    let cost = cost_of_one(&h, &probe, &body).await;
    let (s, team) = h
        .admin(
            Method::POST,
            "/v1/teams",
            Some(json!({"name": "ml",
            "budget": {"usd": cost * 2.5, "period": "monthly"}})),
        )
        .await;
    assert_eq!(s, 201, "{team}");
    let (s, c) = h
        .admin(
            Method::POST,
            "/v1/consumers",
            Some(json!({"name": "alice", "team": "ml"})),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let (k1, id1) = h.create_key(json!({"consumer": "alice"})).await;
    let (k2, _) = h.create_key(json!({"consumer": c["id"]})).await;
    let mut admitted = 0;
    for i in 0..6 {
        let key = if i % 2 == 0 { &k1 } else { &k2 };
        let r = h.chat_as(key, &body).await;
        if r.status() == 429 {
            break;
        }
        assert_eq!(r.status(), 200);
        admitted += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        (2..=3).contains(&admitted),
        "the team's budget covers both keys: {admitted}"
    );
    let (_, usage) = h
        .admin(Method::GET, &format!("/v1/keys/{id1}/usage"), None)
        .await;
    let b = &usage["budgets"][0];
    assert_eq!(b["owner"], "team");
    assert_eq!(b["owner_name"], "ml");
    assert!(b["remaining_usd"].as_f64().unwrap() < cost);
    // A team with consumers cannot be deleted.
    let (s, _) = h.admin(Method::DELETE, "/v1/teams/ml", None).await;
    assert_eq!(s, 409);
}
