//! Model groups, retries, fallbacks, timeouts, breakers and hedging,
//! against two mock providers.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_mock::Step;
use sluice_store::Outcome;
use support::{Harness, sse_data};

fn two_targets(strategy: &str, extra: &str) -> String {
    format!(
        r#"
providers:
  a:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: {{ first_token: 1s, idle: 2s, total: 5s }}
  b:
    type: openai
    base_url: MOCK_B_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: {{ first_token: 1s, idle: 2s, total: 5s }}
models:
  - name: chat
    strategy: {strategy}
    targets:
      - {{ provider: a, model: model-a, weight: 90 }}
      - {{ provider: b, model: model-b, weight: 10 }}
{extra}
"#
    )
}

fn ask(content: &str) -> Value {
    json!({"model": "chat", "messages": [{"role": "user", "content": content}]})
}

fn count(h: &Harness) -> (usize, usize) {
    (
        h.mock.requests().len(),
        h.mock_b.as_ref().unwrap().requests().len(),
    )
}

#[tokio::test]
async fn canary_split_follows_weights_and_reload_changes_it_under_traffic() {
    let h = Harness::start_two(&two_targets("weighted", "")).await;
    let client = h.client();
    let send = |n: usize| {
        let client = client.clone();
        let url = h.endpoint("/v1/chat/completions");
        async move {
            let mut to_a = 0;
            for _ in 0..n {
                let r = client.post(&url).json(&ask("hi")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                assert!(r.headers()["x-sluice-route-reason"] == "weighted");
                if r.headers()["x-sluice-provider"] == "a" {
                    to_a += 1;
                }
            }
            to_a
        }
    };
    let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(send(250))).collect();
    let mut to_a = 0;
    for t in tasks {
        to_a += t.await.unwrap();
    }
    let share = f64::from(to_a) / 2000.0;
    assert!(
        (share - 0.9).abs() <= 0.03,
        "A got {share:.3} of 2000 requests"
    );

    // Change the weights to 50/50 by reload while traffic flows.
    let before = count(&h);
    let traffic: Vec<_> = (0..4).map(|_| tokio::spawn(send(150))).collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let generation =
        h.gw.reload(
            h.config(
                &two_targets("weighted", "")
                    .replace("weight: 90", "weight: 50")
                    .replace("weight: 10", "weight: 50"),
            ),
        )
        .unwrap();
    assert_eq!(generation, 2);
    for t in traffic {
        t.await.unwrap();
    }
    let mut to_a = 0;
    for _ in 0..8 {
        to_a += tokio::spawn(send(100)).await.unwrap();
    }
    let share = f64::from(to_a) / 800.0;
    assert!((share - 0.5).abs() <= 0.07, "after reload A got {share:.3}");
    let after = count(&h);
    assert_eq!(
        after.0 + after.1 - before.0 - before.1,
        600 + 800,
        "no request lost during reload"
    );
}

#[tokio::test]
async fn retry_after_429_then_success() {
    let h = Harness::start_two(
        &two_targets("priority", "")
            .replace("      - { provider: b, model: model-b, weight: 10 }\n", ""),
    )
    .await;
    h.mock.state().push_script([Step {
        model: None,
        behavior: sluice_mock::Behavior::parse("status=429 retry_after=1").unwrap(),
    }]);
    let started = Instant::now();
    let r = h.chat(&ask("hi")).await;
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(990),
        "Retry-After was honoured"
    );
    assert_eq!(r.headers()["x-sluice-attempts"], "2");
    assert_eq!(
        r.headers()["x-sluice-route-reason"],
        "retry_after_upstream_rate_limited"
    );
    assert_eq!(h.mock.requests().len(), 2);
    let rec = &h.records(1).await[0];
    let outcomes: Vec<_> = rec.attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["upstream_rate_limited", "ok"]);
    assert_eq!(rec.attempts[0].status, Some(429));
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_passed_to_the_client() {
    let h = Harness::start_two(
        &two_targets("priority", "")
            .replace("      - { provider: b, model: model-b, weight: 10 }\n", ""),
    )
    .await;
    let started = Instant::now();
    let r = h.chat(&ask("<<mock status=429 retry_after=30>>")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "30");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(h.mock.requests().len(), 1);
}

#[tokio::test]
async fn server_error_on_a_is_answered_by_b() {
    let h = Harness::start_two(&two_targets("priority", "")).await;
    let r = h.chat(&ask("<<mock status=500>>")).await;
    // The directive travels to both targets; script B to answer.
    assert_eq!(r.status(), 502);
    h.mock.state().push_script([Step {
        model: None,
        behavior: sluice_mock::Behavior::parse("status=500").unwrap(),
    }]);
    let r = h.chat(&ask("hello")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-sluice-provider"], "b");
    assert_eq!(
        r.headers()["x-sluice-route-reason"],
        "fallback_after_upstream_server_error"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply from model-b: hello"
    );
    let b = h.mock_b.as_ref().unwrap().requests();
    assert_eq!(b.last().unwrap().body["model"], "model-b");
}

#[tokio::test]
async fn a_hang_before_the_first_token_is_answered_by_the_fallback() {
    let h = Harness::start_two(&two_targets("priority", "")).await;
    h.mock.state().push_script([Step {
        model: None,
        behavior: sluice_mock::Behavior::parse("hang").unwrap(),
    }]);
    let started = Instant::now();
    let r = h.chat(&json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "quick"}]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-sluice-provider"], "b");
    let text = r.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    let rec = &h.records(1).await[0];
    assert_eq!(rec.attempts[0].outcome, "upstream_timeout");
    assert_eq!(rec.outcome, Outcome::Ok);
}

#[tokio::test]
async fn a_stream_cut_after_the_first_token_is_not_retried() {
    let h = Harness::start_two(&two_targets("priority", "")).await;
    let r = h.chat(&json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "<<mock cut_after=4 words=20>>"}]})).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let last: Value = serde_json::from_str(sse_data(&text).last().unwrap()).unwrap();
    assert!(last["error"].is_object(), "terminal error event: {text}");
    assert!(
        h.mock_b.as_ref().unwrap().requests().is_empty(),
        "no retry after bytes reached the client"
    );
    let rec = &h.records(1).await[0];
    assert_eq!(rec.outcome, Outcome::StreamError);
    let usage = rec.usage.unwrap();
    assert!(
        usage.completion_tokens >= 2,
        "partial usage recorded: {usage:?}"
    );
}

#[tokio::test]
async fn context_window_error_falls_back_to_the_larger_model() {
    let yaml = r#"
providers:
  a:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: small
    provider: a
    model: small-8k
    fallbacks: { context_window: big }
  - name: big
    provider: a
    model: big-128k
"#;
    let h = Harness::start(yaml).await;
    h.mock.state().push_script([Step {
        model: Some("small-8k".into()),
        behavior: sluice_mock::Behavior::parse("status=400 code=context_length_exceeded message=This+model's+maximum+context+length+is+8192+tokens").unwrap(),
    }]);
    let r = h
        .chat(&json!({"model": "small", "messages": [{"role": "user", "content": "long prompt"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-sluice-model"], "big-128k");
    assert_eq!(
        r.headers()["x-sluice-route-reason"],
        "fallback_context_length_exceeded:big"
    );
    let models: Vec<_> = h
        .mock
        .requests()
        .iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(models, [json!("small-8k"), json!("big-128k")]);
}

#[tokio::test]
async fn circuit_breaker_ejects_a_failing_target_then_probes_it() {
    let extra = "    breaker: { failures: 3, cooldown: 2s }\n    retries: { attempts: 2 }";
    let h = Harness::start_two(&two_targets("priority", extra)).await;
    for _ in 0..3 {
        h.mock.state().push_script([Step {
            model: None,
            behavior: sluice_mock::Behavior::parse("status=503").unwrap(),
        }]);
        let r = h.chat(&ask("x")).await;
        assert_eq!(r.headers()["x-sluice-provider"], "b");
    }
    assert_eq!(h.mock.requests().len(), 3);
    // A is ejected: the next requests go straight to B.
    for _ in 0..3 {
        let r = h.chat(&ask("y")).await;
        assert_eq!(r.headers()["x-sluice-provider"], "b");
        assert_eq!(r.headers()["x-sluice-attempts"], "1");
    }
    assert_eq!(
        h.mock.requests().len(),
        3,
        "nothing sent to the ejected target"
    );
    let views = h.gw.stats().views();
    assert_eq!(
        views.iter().find(|v| v.id == "a/model-a").unwrap().breaker,
        "open"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = h.chat(&ask("z")).await;
    assert_eq!(
        r.headers()["x-sluice-provider"],
        "a",
        "after the cool-down A is probed"
    );
    assert_eq!(
        h.gw.stats()
            .views()
            .iter()
            .find(|v| v.id == "a/model-a")
            .unwrap()
            .breaker,
        "closed"
    );
}

#[tokio::test]
async fn hedge_wins_and_the_loser_is_cancelled() {
    let extra = "    hedge: { after: 150ms }";
    let h = Harness::start_two(&two_targets("priority", extra)).await;
    h.mock.state().push_script([Step {
        model: None,
        behavior: sluice_mock::Behavior::parse("ttft_ms=3000").unwrap(),
    }]);
    let started = Instant::now();
    let r = h.chat(&json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "race"}]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-sluice-provider"], "b");
    assert_eq!(r.headers()["x-sluice-route-reason"], "hedge_won");
    let _ = r.text().await.unwrap();
    // The slow target needs 3s for its first token; the hedge answered well before.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let mut outcome = String::new();
    for _ in 0..250 {
        outcome = h.mock.requests()[0].outcome.clone();
        if outcome != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(outcome, "disconnected", "the loser was cancelled");
    let rec = &h.records(1).await[0];
    let lost = rec
        .attempts
        .iter()
        .find(|a| a.outcome == "hedge_lost")
        .expect("loser recorded");
    assert_eq!(lost.provider, "a");
    assert!(
        lost.usage.unwrap().prompt_tokens > 0,
        "the loser's likely cost is recorded"
    );
}

#[tokio::test]
async fn conditional_targets_and_sticky_sessions() {
    let yaml = r#"
providers:
  a: { type: openai, base_url: MOCK_URL/v1, api_key: env:PROVIDER_KEY }
  b: { type: openai, base_url: MOCK_B_URL/v1, api_key: env:PROVIDER_KEY }
models:
  - name: chat
    strategy: conditional
    targets:
      - { provider: b, model: model-b, when: { headers: { x-canary: "1" } } }
      - { provider: b, model: model-b-team, when: { metadata: { team: ml } } }
      - { provider: a, model: model-a }
  - name: sticky
    strategy: weighted
    sticky: { header: x-session-id }
    targets:
      - { provider: a, model: model-a }
      - { provider: b, model: model-b }
"#;
    let h = Harness::start_two(yaml).await;
    let c = h.client();
    let url = h.endpoint("/v1/chat/completions");
    let r = c.post(&url).json(&ask("x")).send().await.unwrap();
    assert_eq!(r.headers()["x-sluice-provider"], "a");
    let r = c
        .post(&url)
        .header("x-canary", "1")
        .json(&ask("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-sluice-provider"], "b");
    assert_eq!(r.headers()["x-sluice-route-reason"], "conditional");
    let r = c
        .post(&url)
        .header("x-sluice-metadata", r#"{"team":"ml"}"#)
        .json(&ask("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-sluice-model"], "model-b-team");
    let mut chosen = std::collections::HashMap::new();
    for i in 0..40 {
        let session = format!("s{}", i % 8);
        let r = c
            .post(&url)
            .header("x-session-id", &session)
            .json(&json!({"model": "sticky", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-sluice-route-reason"], "sticky");
        let p = r.headers()["x-sluice-provider"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            chosen.entry(session).or_insert_with(|| p.clone()),
            &p,
            "sessions stick"
        );
    }
    let distinct: std::collections::HashSet<_> = chosen.values().collect();
    assert_eq!(distinct.len(), 2, "sessions spread over both targets");
}

#[tokio::test]
async fn round_robin_least_busy_and_lowest_latency() {
    let h = Harness::start_two(&two_targets("round_robin", "")).await;
    let mut providers = Vec::new();
    for _ in 0..4 {
        let r = h.chat(&ask("x")).await;
        providers.push(
            r.headers()["x-sluice-provider"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(providers, ["a", "b", "a", "b"]);

    let h = Harness::start_two(&two_targets("lowest_latency", "    exploration: 0")).await;
    h.mock.state().push_script((0..4).map(|_| Step {
        model: None,
        behavior: sluice_mock::Behavior::parse("ttft_ms=120").unwrap(),
    }));
    for _ in 0..6 {
        let r = h.chat(&json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
        let _ = r.text().await.unwrap();
    }
    let r = h.chat(&json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(
        r.headers()["x-sluice-provider"],
        "b",
        "the faster target wins"
    );
    assert_eq!(r.headers()["x-sluice-route-reason"], "lowest_latency");
}

#[tokio::test]
async fn adaptive_weights_shift_away_from_errors_and_back() {
    let extra = "    adaptive: { enabled: true, half_life: 1s, min_factor: 0.05 }\n    breaker: { failures: 0 }";
    let yaml = two_targets("weighted", extra)
        .replace("weight: 90", "weight: 50")
        .replace("weight: 10", "weight: 50");
    let h = Harness::start_two(&yaml).await;
    let weight_of = |id: &str| {
        h.gw.routes_view()
            .into_iter()
            .find(|g| g.name == "chat")
            .unwrap()
            .targets
            .into_iter()
            .find(|t| t.id == id)
            .unwrap()
    };
    assert_eq!(weight_of("a/model-a").effective_weight, 50.0);
    h.mock.state().push_script((0..20).map(|_| Step {
        model: None,
        behavior: sluice_mock::Behavior::parse("status=500").unwrap(),
    }));
    for _ in 0..20 {
        assert_eq!(
            h.chat(&ask("x")).await.status(),
            200,
            "B answers what A fails"
        );
    }
    let degraded = weight_of("a/model-a");
    assert!(
        degraded.effective_weight < 15.0,
        "A's weight dropped: {degraded:?}"
    );
    assert!(degraded.error_rate > 0.3);
    let mut to_b = 0;
    for _ in 0..40 {
        let r = h.chat(&ask("y")).await;
        if r.headers()["x-sluice-provider"] == "b" && r.headers()["x-sluice-attempts"] == "1" {
            to_b += 1;
        }
    }
    assert!(to_b >= 28, "traffic moved to B: {to_b}/40");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let recovered = weight_of("a/model-a");
    assert!(
        recovered.effective_weight > 40.0,
        "A recovered: {recovered:?}"
    );
}

#[tokio::test]
async fn least_busy_prefers_the_idle_target() {
    let h = Harness::start_two(&two_targets("least_busy", "")).await;
    let slow = h.chat(&json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "<<mock words=40 itl_ms=25>>"}]})).await;
    assert_eq!(
        slow.headers()["x-sluice-provider"],
        "a",
        "ties go in config order"
    );
    let r = h.chat(&ask("x")).await;
    assert_eq!(r.headers()["x-sluice-provider"], "b", "A is busy streaming");
    assert_eq!(r.headers()["x-sluice-route-reason"], "least_busy");
    drop(slow);
}

#[tokio::test]
async fn health_checks_eject_a_dead_target_before_users_hit_it() {
    let extra = "    health_check: { interval: 50ms }\n    breaker: { failures: 2, cooldown: 10s }";
    let h = Harness::start_two(&two_targets("priority", extra)).await;
    h.mock.state().push_script((0..4).map(|_| Step {
        model: None,
        behavior: sluice_mock::Behavior::parse("status=503").unwrap(),
    }));
    let mut open = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if h.gw
            .stats()
            .views()
            .iter()
            .any(|v| v.id == "a/model-a" && v.breaker == "open")
        {
            open = true;
            break;
        }
    }
    assert!(open, "probes opened A's breaker");
    let probes = h
        .mock
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/models")
        .count();
    assert!(probes >= 2);
    let r = h.chat(&ask("x")).await;
    assert_eq!(r.headers()["x-sluice-provider"], "b");
    assert!(
        h.mock.requests().iter().all(|r| r.method == "GET"),
        "no user request reached A"
    );
}
