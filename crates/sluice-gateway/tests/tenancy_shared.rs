//! Two gateway instances sharing the machine's real PostgreSQL (keys,
//! ledger) and Redis (counters): one limit and one budget hold across both,
//! and keys created or revoked through one instance's admin API take
//! effect on the other within the documented delay.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::{Harness, drop_postgres, fresh_postgres};

fn config(pg: &str) -> String {
    format!(
        r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: gpt
    provider: mock
    model: mock-gpt
pricing:
  - {{ provider: mock, model: mock-gpt, input: 1000, output: 1000 }}
store:
  database: postgres
  url: {pg}
  redis: redis://127.0.0.1:6379
auth:
  cache_ttl: 1s
"#
    )
}

fn ask() -> Value {
    json!({"model": "gpt", "max_tokens": 12,
        "messages": [{"role": "user", "content": "<<mock words=10>> shared"}]})
}

/// Fires `n` requests as `key` at each instance at once; returns the
/// statuses.
async fn burst(a: &Harness, b: &Harness, key: &str, n: usize) -> Vec<u16> {
    let mut tasks = Vec::new();
    for h in [a, b] {
        for _ in 0..n {
            let (c, url, key) = (
                h.client(),
                h.endpoint("/v1/chat/completions"),
                key.to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                let r = c
                    .post(url)
                    .bearer_auth(key)
                    .json(&ask())
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let _ = r.bytes().await;
                status
            }));
        }
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn two_instances_share_keys_limits_and_budgets() {
    let (pg, db) = fresh_postgres().await;
    let a = Harness::start(&config(&pg)).await;
    let b = Harness::start(&config(&pg)).await;

    // A key created on A works on B at once (B looks unknown keys up in the
    // shared database; misses are cached for at most a second).
    let limits = json!([{"metric": "requests", "limit": 10, "window_secs": 60}]);
    let (key, id) = a
        .create_key(json!({"name": "shared", "limits": limits}))
        .await;
    let started = Instant::now();
    loop {
        let r = b.chat_as(&key, &ask()).await;
        if r.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "B never accepted the key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One shared window: 1 used above, 9 left across both instances.
    let statuses = burst(&a, &b, &key, 15).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, 9, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429));

    // A budget covering ten requests, hit by both instances at once.
    let (probe, _) = a.create_key(json!({"name": "probe"})).await;
    let before = a.sink.records().len();
    assert_eq!(a.chat_as(&probe, &ask()).await.status(), 200);
    let cost = a.records(before + 1).await.pop().unwrap().cost_usd.unwrap();
    let budget = json!({"usd": cost * 10.5, "period": "daily"});
    let (bkey, bid) = a
        .create_key(json!({"name": "budget", "budget": budget}))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let statuses = burst(&a, &b, &bkey, 100).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (1..=11).contains(&ok),
        "{ok} admitted across both instances"
    );
    // The ledger in PostgreSQL sees both instances' spend.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, usage) = b
        .admin(Method::GET, &format!("/v1/keys/{bid}/usage"), None)
        .await;
    let spent = usage["budgets"][0]["spent_usd"].as_f64().unwrap();
    assert!(spent > 0.0 && spent <= cost * 11.5, "spent {spent}");
    assert_eq!(usage["today"]["requests"].as_i64().unwrap(), 200);

    // Revoked on B: refused on A within auth.cache_ttl (1s here).
    let (s, _) = b
        .admin(Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    assert_eq!(s, 200);
    let started = Instant::now();
    loop {
        let r = a.chat_as(&key, &ask()).await;
        if r.status() == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "A kept the revoked key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(a);
    drop(b);
    drop_postgres(&db).await;
}
