//! Redis failing under a running gateway: a private `redis-server` is
//! frozen (SIGSTOP), resumed, killed and restarted mid-test. Rate limits
//! fall back to per-instance counters, budgets fail closed (503), readiness
//! reports `degraded`, no request waits much longer than the Redis timeout,
//! and everything recovers on its own.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Harness;

/// A `redis-server` of this test's own, on a free port.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/services.sh)");
        let r = Self {
            port,
            child: Some(child),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on {port}");
    }

    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port).await
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal("-CONT");
        }
        self.kill();
    }
}

fn config(port: u16) -> String {
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
  - {{ provider: mock, model: mock-gpt, input: 1, output: 1 }}
store:
  redis: redis://127.0.0.1:{port}
  redis_timeout: 100ms
"#
    )
}

fn ask() -> Value {
    json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
}

async fn ready(h: &Harness) -> Value {
    h.client()
        .get(h.endpoint("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends one request as `key`; returns the status and how long it took.
async fn timed(h: &Harness, key: &str) -> (u16, Duration) {
    let t = Instant::now();
    let r = h.chat_as(key, &ask()).await;
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    (status, t.elapsed())
}

async fn wait_for_counters(h: &Harness, want: &str) {
    for _ in 0..100 {
        if ready(h).await["counters"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("counters never became {want}: {}", ready(h).await);
}

#[tokio::test]
async fn redis_failures_degrade_limits_and_close_budgets() {
    let mut redis = Redis::start().await;
    let h = Harness::start(&config(redis.port)).await;
    wait_for_counters(&h, "shared").await;
    let limits = json!([{"metric": "requests", "limit": 3, "window_secs": 60}]);
    let (limited, _) = h.create_key(json!({"limits": limits})).await;
    let budget = json!({"usd": 100, "period": "monthly"});
    let (budgeted, _) = h.create_key(json!({"budget": budget})).await;

    assert_eq!(timed(&h, &limited).await.0, 200);
    assert_eq!(timed(&h, &limited).await.0, 200);
    assert_eq!(timed(&h, &budgeted).await.0, 200);
    assert_eq!(ready(&h).await["status"], "ready");

    // Frozen: commands hang. Requests must not wait past the timeout.
    redis.signal("-STOP");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, took) = timed(&h, &limited).await;
        assert!(
            took < Duration::from_millis(1500),
            "waited {took:?} on a frozen Redis"
        );
        statuses.push(status);
    }
    // Per-instance fallback: a fresh local window of 3, then refused.
    assert_eq!(statuses, [200, 200, 200, 429], "local fallback limits");
    let (status, took) = timed(&h, &budgeted).await;
    assert_eq!(status, 503, "budgets fail closed");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let r = h.chat_as(&budgeted, &ask()).await;
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    let rd = ready(&h).await;
    assert_eq!(rd["status"], "degraded");
    assert_eq!(rd["counters"], "degraded");

    // Resumed: shared counters come back by themselves.
    redis.signal("-CONT");
    wait_for_counters(&h, "shared").await;
    assert_eq!(timed(&h, &budgeted).await.0, 200);
    // The shared counter still holds the window's first two requests, and
    // perhaps the reservation that timed out while frozen (Redis ran it on
    // resuming: a timed-out reservation over-counts, never under-counts).
    let first = timed(&h, &limited).await.0;
    assert!(first == 200 || first == 429, "{first}");
    assert_eq!(timed(&h, &limited).await.0, 429);

    // Killed outright: connections refused.
    redis.kill();
    let (status, took) = timed(&h, &budgeted).await;
    assert_eq!(status, 503);
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let (status, _) = timed(&h, &limited).await;
    assert_eq!(status, 429, "the local window is still full");
    wait_for_counters(&h, "degraded").await;

    // Restarted on the same port: recovers.
    let _redis = Redis::start_on(redis.port).await;
    wait_for_counters(&h, "shared").await;
    assert_eq!(timed(&h, &budgeted).await.0, 200);
    let recs = h.sink.records();
    assert!(
        recs.iter().any(|r| r.status == 503),
        "refusals are recorded"
    );
}
