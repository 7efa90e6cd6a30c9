//! Test harness: a gateway and a mock provider on ephemeral ports, in process.

use std::sync::Arc;
use std::time::Duration;

use sluice_gateway::Gateway;
use sluice_gateway::config;
use sluice_gateway::config::tenancy::Database;
use sluice_gateway::ledger::{Durable, Ledger, SinkSpec};
use sluice_gateway::server::{self, ServeOptions};
use sluice_gateway::tenancy::Tenancy;
use sluice_mock::MockServer;
use sluice_store::{MemorySink, RequestRecord};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The provider key the harness configures; must never reach a client.
pub const PROVIDER_KEY: &str = "sk-provider-canary-0123456789";
/// The admin key of the harness's admin listener.
pub const ADMIN_KEY: &str = "sk-sluice-admin-test-0123456789";

pub struct Harness {
    pub url: String,
    pub mock: MockServer,
    /// The second mock of [`Harness::start_two`].
    pub mock_b: Option<MockServer>,
    pub sink: MemorySink,
    pub gw: Arc<Gateway>,
    /// The admin API's base URL.
    pub admin_url: String,
    stop: Option<oneshot::Sender<()>>,
    /// One client for every call: building one loads the TLS roots, which
    /// is slow enough in a debug build to distort timing assertions.
    http: reqwest::Client,
    /// Holds the SQLite store.
    _data: tempfile::TempDir,
}

impl Harness {
    /// Starts a gateway with `yaml`, where `MOCK_URL` is the mock's URL and
    /// `env:PROVIDER_KEY` resolves to [`PROVIDER_KEY`].
    pub async fn start(yaml: &str) -> Self {
        let mock = MockServer::start().await.expect("mock starts");
        Self::start_with(yaml, mock).await
    }

    pub async fn start_with(yaml: &str, mock: MockServer) -> Self {
        Self::start_with_extra(yaml, mock, Vec::new()).await
    }

    /// Like [`start`](Self::start) with a second mock, `MOCK_B_URL`.
    pub async fn start_two(yaml: &str) -> Self {
        let a = MockServer::start().await.expect("mock starts");
        let b = MockServer::start().await.expect("mock starts");
        Self::start_with_extra(yaml, a, vec![b]).await
    }

    async fn start_with_extra(yaml: &str, mock: MockServer, extra: Vec<MockServer>) -> Self {
        let mut yaml = yaml.replace("MOCK_URL", &mock.url());
        if let Some(b) = extra.first() {
            yaml = yaml.replace("MOCK_B_URL", &b.url());
        }
        let env = |k: &str| match k {
            "PROVIDER_KEY" => Some(PROVIDER_KEY.to_owned()),
            "SECOND_KEY" => Some("sk-second-canary-9876543210".to_owned()),
            _ => None,
        };
        let mut cfg = config::parse(&yaml, "test.yaml", &env).expect("config is valid");
        let data = tempfile::tempdir().expect("temp dir");
        if let Database::Sqlite(_) = cfg.store.database {
            cfg.store.database = Database::Sqlite(data.path().join("sluice.db"));
        }
        let tenancy = Tenancy::open(&cfg.store, &cfg.auth)
            .await
            .expect("store opens");
        let sink = MemorySink::default();
        let mut sinks = vec![
            SinkSpec::plain(Arc::new(sink.clone())),
            SinkSpec {
                sink: Arc::new(tenancy.db().clone()),
                durable: Some(Durable {
                    spool_dir: data.path().join("spool"),
                    max_bytes: cfg.ledger.spool_max_bytes,
                    write_timeout: cfg.ledger.write_timeout,
                }),
            },
        ];
        if let Some(a) = sluice_gateway::alerts::AlertSink::new(&cfg.alerts, tenancy.clone()) {
            sinks.push(SinkSpec::plain(Arc::new(a)));
        }
        let (ledger, _task) = Ledger::start_with(sinks, Default::default()).expect("spool opens");
        let gw = Gateway::new(cfg, ledger, tenancy).expect("gateway builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = server::app(gw.clone());
        let (stopped_a, stopped_b) = {
            let (tx, rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = stopped.await;
                let _ = tx.send(true);
            });
            (rx.clone(), rx)
        };
        let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        tokio::spawn(server::serve(
            listener,
            app,
            ServeOptions::for_gateway(&gw),
            until(stopped_a),
        ));
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let admin_url = format!("http://{}", admin_listener.local_addr().expect("addr"));
        let admin_app = sluice_gateway::admin::app(gw.clone(), config::Secret::new(ADMIN_KEY));
        tokio::spawn(server::serve(
            admin_listener,
            admin_app,
            ServeOptions::default(),
            until(stopped_b),
        ));
        Self {
            url,
            mock,
            mock_b: extra.into_iter().next(),
            sink,
            gw,
            admin_url,
            stop: Some(stop),
            http: reqwest::Client::new(),
            _data: data,
        }
    }

    /// Parses `yaml` the way [`start`](Self::start) did (mock URLs, env), for reloads.
    pub fn config(&self, yaml: &str) -> config::Config {
        let mut yaml = yaml.replace("MOCK_URL", &self.mock.url());
        if let Some(b) = &self.mock_b {
            yaml = yaml.replace("MOCK_B_URL", &b.url());
        }
        let env = |k: &str| (k == "PROVIDER_KEY").then(|| PROVIDER_KEY.to_owned());
        config::parse(&yaml, "reload.yaml", &env).expect("config is valid")
    }

    pub fn client(&self) -> reqwest::Client {
        self.http.clone()
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// POSTs `body` as JSON to `path` on the gateway.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client()
            .post(self.endpoint(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs `body` to `/v1/chat/completions`.
    pub async fn chat(&self, body: &serde_json::Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    /// Calls the admin API; returns the status and the JSON body.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .client()
            .request(method, format!("{}{path}", self.admin_url))
            .bearer_auth(ADMIN_KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("admin body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Creates a key through the admin API; returns `(key, id)`.
    pub async fn create_key(&self, body: serde_json::Value) -> (String, String) {
        let (status, v) = self
            .admin(reqwest::Method::POST, "/v1/keys", Some(body))
            .await;
        assert_eq!(status, 201, "{v}");
        (
            v["key"].as_str().expect("key").to_owned(),
            v["id"].as_str().expect("id").to_owned(),
        )
    }

    /// POSTs `body` to `/v1/chat/completions` with `key` as a Bearer token.
    pub async fn chat_as(&self, key: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client()
            .post(self.endpoint("/v1/chat/completions"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Waits until at least `n` records were written, then returns them.
    pub async fn records(&self, n: usize) -> Vec<RequestRecord> {
        for _ in 0..200 {
            let r = self.sink.records();
            if r.len() >= n {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} records, have {:?}", self.sink.records());
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A config with one OpenAI-compatible mock provider and a few models.
pub const BASIC: &str = r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: { first_token: 2s, idle: 2s, total: 10s }
models:
  - name: gpt-test
    provider: mock
    model: mock-gpt
    aliases: [gpt-alias]
  - name: embed-test
    provider: mock
    model: mock-embed
  - name: "mock/*"
    provider: mock
routes:
  - name: pinned
    path: /pinned
    model: gpt-test
  - name: strict
    path: /strict
    model: gpt-test
    on_model_mismatch: reject
"#;

/// Parses an SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|ev| ev.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// A fresh PostgreSQL database (`SLUICE_TEST_POSTGRES`, default the local
/// server); returns its URL and name. Drop it with [`drop_postgres`].
pub async fn fresh_postgres() -> (String, String) {
    let admin = std::env::var("SLUICE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("sluice_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("{admin}/postgres"))
        .await
        .expect("PostgreSQL is running (scripts/services.sh starts it)");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create database");
    (format!("{admin}/{name}"), name)
}

/// Drops a database made by [`fresh_postgres`], connections and all.
pub async fn drop_postgres(name: &str) {
    let admin = std::env::var("SLUICE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    if let Ok(pool) = sqlx::AnyPool::connect(&format!("{admin}/postgres")).await {
        let q = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(q)).execute(&pool).await;
    }
}
