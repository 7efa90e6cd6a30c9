//! The ledger loses nothing: 20,000 mixed requests (streamed and not, some
//! abandoned by the client, some failing upstream) end as exactly 20,000
//! rows in the machine's real PostgreSQL, with the tokens the mock
//! reported, even when the database goes away in the middle of the run and
//! comes back. The database is reached through a TCP proxy the test can
//! cut, so the shared PostgreSQL server itself is never stopped.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parking_lot::Mutex;
use serde_json::{Value, json};
use support::{Harness, drop_postgres, fresh_postgres};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP proxy to PostgreSQL that can be cut: while down, open connections
/// are dropped and new ones are closed at once.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                c.lock().push(task.abort_handle());
            }
        });
        Self { port, down, conns }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            for c in self.conns.lock().drain(..) {
                c.abort();
            }
        }
    }
}

fn config(pg: &str) -> String {
    format!(
        r#"
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
    timeouts: {{ first_token: 5s, idle: 5s, total: 30s }}
models:
  - name: gpt
    provider: mock
    model: mock-gpt
store:
  database: postgres
  url: {pg}
ledger:
  write_timeout: 2s
"#
    )
}

/// The kinds of request in the mix, by index.
fn request(i: usize) -> (Value, bool, bool) {
    let stream = i.is_multiple_of(2);
    let (text, cancel) = match i % 20 {
        3 => ("<<mock status=500>> fail", false),
        6 => ("<<mock cut_after=2>> cut", false),
        8 => ("<<mock words=30 itl_ms=20>> slow, abandoned", true),
        _ => ("hello there ledger", false),
    };
    let mut body =
        json!({"model": "gpt", "messages": [{"role": "user", "content": format!("{text} {i}")}]});
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    (body, stream, cancel)
}

async fn one(h: &Harness, client: &reqwest::Client, i: usize) {
    let (body, _stream, cancel) = request(i);
    let Ok(resp) = client
        .post(h.endpoint("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
    else {
        return;
    };
    if cancel {
        let mut s = resp.bytes_stream();
        let _ = s.next().await;
        return; // dropped: the client goes away mid-stream
    }
    let _ = resp.bytes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_requests_reconcile_through_a_database_outage() {
    const N: usize = 20_000;
    let (_, name) = fresh_postgres().await;
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let url = format!("postgres://postgres@127.0.0.1:{}/{name}", proxy.port);
    let h = Harness::start(&config(&url)).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let outage = async {
        while next.load(Ordering::Relaxed) < N / 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.set_down(true);
        tokio::time::sleep(Duration::from_secs(3)).await;
        proxy.set_down(false);
    };
    let workers = futures_util::future::join_all((0..64).map(|_| {
        let (h, client, next) = (&h, &client, next.clone());
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= N {
                    break;
                }
                one(h, client, i).await;
            }
        }
    }));
    let started = Instant::now();
    tokio::join!(workers, outage);
    eprintln!("{N} requests in {:?}", started.elapsed());

    // Every record is written (or replayed from the spool) before long.
    let counters = h.gw.ledger().counters();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (counters.written.load(Ordering::Relaxed) < N as u64
        || counters.spool_bytes.load(Ordering::Relaxed) > 0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "written {} spooled {} replayed {} overflowed {} spool_bytes {} down {}",
        counters.written.load(Ordering::Relaxed),
        counters.spooled.load(Ordering::Relaxed),
        counters.replayed.load(Ordering::Relaxed),
        counters.overflowed.load(Ordering::Relaxed),
        counters.spool_bytes.load(Ordering::Relaxed),
        counters.sink_down.load(Ordering::Relaxed),
    );
    assert!(
        counters.spooled.load(Ordering::Relaxed) > 0,
        "the outage sent records to the spool"
    );
    assert_eq!(counters.overflowed.load(Ordering::Relaxed), 0);
    assert_eq!(counters.submitted.load(Ordering::Relaxed), N as u64);

    let db = h.gw.tenancy().db();
    assert_eq!(
        db.count_requests().await.unwrap(),
        N as i64,
        "one row per request"
    );
    let records = h.sink.records();
    assert_eq!(records.len(), N);
    let mut ids: Vec<&str> = records.iter().map(|r| r.request_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "no duplicate ids");

    // Tokens: what the mock reported for answers it completed normally
    // equals what the ledger holds as provider-reported.
    let mut expected = 0u64;
    for r in h.mock.requests() {
        let text = r.body.to_string();
        let faulty = text.contains("status=500") || text.contains("cut_after");
        if r.outcome == "completed"
            && !faulty
            && let Some(u) = &r.usage
        {
            expected +=
                u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap();
        }
    }
    let from_records: u64 = records
        .iter()
        .filter_map(|r| r.usage)
        .filter(|u| u.source.as_str() == "provider")
        .map(|u| u.prompt_tokens + u.completion_tokens)
        .sum();
    assert_eq!(from_records, expected, "records carry the mock's tokens");
    let in_db = db.provider_tokens().await.unwrap();
    assert_eq!(
        in_db, expected as i64,
        "the database holds the mock's tokens"
    );
    let outcomes = |o: &str| records.iter().filter(|r| r.outcome.as_str() == o).count();
    assert!(outcomes("ok") > N / 2);
    assert!(outcomes("upstream_error") > 0);
    assert!(outcomes("stream_error") > 0);
    assert!(outcomes("client_cancelled") > 0);
    drop(h);
    drop_postgres(&name).await;
}
