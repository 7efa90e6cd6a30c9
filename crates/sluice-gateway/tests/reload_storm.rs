//! A reload storm under load: every 200 ms for 60 s the config file is
//! rewritten, alternating valid and invalid versions, and a reload is asked
//! for through the admin API while clients stream and call without pause.
//! No client may see a 5xx, every invalid file must be refused, and the
//! serving generation must equal one plus the number of valid reloads.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_gateway::reload::Reloader;
use support::{Harness, PROVIDER_KEY};

/// How long the storm lasts; the issue asks for 60 s.
const STORM: Duration = Duration::from_secs(60);
const EVERY: Duration = Duration::from_millis(200);

fn config(mock: &str, weight_a: u32) -> String {
    format!(
        r#"
providers:
  mock:
    type: openai
    base_url: {mock}/v1
    api_key: {PROVIDER_KEY}
models:
  - name: gpt
    targets:
      - {{ provider: mock, model: model-a, weight: {weight_a} }}
      - {{ provider: mock, model: model-b, weight: {} }}
"#,
        100 - weight_a
    )
}

/// Refused at validation: a target names a provider that does not exist.
fn invalid(mock: &str) -> String {
    config(mock, 50).replace(
        "provider: mock, model: model-b",
        "provider: nope, model: model-b",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_storm_under_load_never_fails_a_request() {
    let h = Arc::new(Harness::start(&config("MOCK_URL", 90)).await);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.yaml");
    let mock = h.mock.url();
    std::fs::write(&path, config(&mock, 90)).unwrap();
    let reloader = Reloader::new(&path, h.gw.clone(), |_| {});
    let first = h.gw.snapshot().generation;

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (h, stop, served) = (h.clone(), stop.clone(), served.clone());
            tokio::spawn(async move {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let stream = i % 2 == 0;
                    let r = h
                        .chat(&json!({"model": "gpt", "stream": stream,
                            "messages": [{"role": "user", "content": "storm"}]}))
                        .await;
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    if status != 200 || (stream && !body.contains("[DONE]")) {
                        failures.push(format!("{status}: {body}"));
                    }
                    served.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();

    let (mut valid, mut refused) = (0u64, 0u64);
    let started = Instant::now();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u32;
    while started.elapsed() < STORM {
        tick.tick().await;
        n += 1;
        let good = n.is_multiple_of(2);
        let text = if good {
            config(&mock, 10 + (n % 80))
        } else {
            invalid(&mock)
        };
        std::fs::write(&path, text).unwrap();
        let (status, body) = h.admin(reqwest::Method::POST, "/v1/reload", None).await;
        if good {
            assert_eq!(status, 200, "valid config refused: {body}");
            valid += 1;
        } else {
            assert_eq!(status, 422, "invalid config accepted: {body}");
            assert_eq!(body["error"]["type"], "invalid_config");
            refused += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let failures = c.await.unwrap();
        assert!(
            failures.is_empty(),
            "{} failures, first: {:?}",
            failures.len(),
            failures.first()
        );
    }
    // 150 of each on an idle machine; a loaded CI box (debug build, the
    // rest of the suite beside it) may take longer than 200 ms per reload.
    assert!(
        valid >= 25 && refused >= 25,
        "{valid} valid, {refused} refused"
    );
    assert_eq!(h.gw.snapshot().generation, first + valid);
    let last = reloader.last().unwrap();
    assert_eq!(last.generation, first + valid);
    assert!(
        served.load(Ordering::Relaxed) > 200,
        "the load ran throughout"
    );
}
