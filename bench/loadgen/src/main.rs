//! `sluice-loadgen`: drives HTTP load at a chat completions endpoint and
//! reports throughput and latency percentiles.
//!
//! - Closed loop (default): `--concurrency` workers each send the next request
//!   as soon as the previous one finishes; gives peak throughput.
//! - Open loop (`--rate R`): requests are scheduled at fixed intervals and
//!   latency is measured from the *scheduled* send time, so a slow server
//!   cannot hide its queueing delay (no coordinated omission).
//! - `--stream`: also reports time to first chunk and the gap between chunks.
//!
//! Every response is validated (status 200, and a body that looks like a
//! completion or a finished stream); failures are counted separately.
//! `TCP_NODELAY` is set on every connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Full URL, e.g. http://127.0.0.1:8080/v1/chat/completions
    #[arg(long)]
    url: String,
    /// Model to request.
    #[arg(long, default_value = "bench")]
    model: String,
    /// Test length in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds (not measured).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Closed-loop workers (or the in-flight cap in open-loop mode).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Open-loop requests per second; closed loop when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Request streaming responses.
    #[arg(long)]
    stream: bool,
    /// Extra bytes of prompt text to make the body larger.
    #[arg(long, default_value_t = 0)]
    prompt_bytes: usize,
    /// Text for the mock directive, e.g. "words=64 itl_ms=20".
    #[arg(long, default_value = "")]
    mock: String,
    /// Bearer token to send.
    #[arg(long)]
    key: Option<String>,
    /// Label for the JSON output line.
    #[arg(long, default_value = "run")]
    label: String,
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    ttft_us: Vec<u32>,
    gaps_us: Vec<u32>,
    ok: u64,
    errors: u64,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn body(args: &Args) -> Bytes {
    let mut prompt = String::from("Benchmark prompt.");
    if !args.mock.is_empty() {
        prompt.push_str(&format!(" <<mock {}>>", args.mock));
    }
    if args.prompt_bytes > 0 {
        prompt.push(' ');
        prompt.push_str(&"lorem ipsum ".repeat(args.prompt_bytes / 12 + 1)[..args.prompt_bytes]);
    }
    let v = serde_json::json!({
        "model": args.model,
        "stream": args.stream,
        "messages": [{"role": "user", "content": prompt}],
    });
    Bytes::from(v.to_string())
}

async fn one(
    client: &HttpClient,
    args: &Args,
    body: &Bytes,
    scheduled: Instant,
    stats: &mut Stats,
    measure: bool,
) {
    let mut req = Request::post(args.url.as_str()).header("content-type", "application/json");
    if let Some(k) = &args.key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let Ok(req) = req.body(Full::new(body.clone())) else {
        stats.errors += 1;
        return;
    };
    let resp = match client.request(req).await {
        Ok(r) => r,
        Err(_) => {
            stats.errors += u64::from(measure);
            return;
        }
    };
    let ok_status = resp.status() == 200;
    let mut b = resp.into_body();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut gaps = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut saw_choices = false;
    while let Some(frame) = b.frame().await {
        let Ok(frame) = frame else {
            stats.errors += u64::from(measure);
            return;
        };
        if let Some(data) = frame.data_ref() {
            let now = Instant::now();
            match first {
                None => first = Some(now),
                Some(_) => gaps.push(now.duration_since(last)),
            }
            last = now;
            saw_choices |= data.windows(9).any(|w| w == b"\"choices\"");
            tail.extend_from_slice(&data[data.len().saturating_sub(32)..]);
            if tail.len() > 64 {
                tail.drain(..tail.len() - 64);
            }
        }
    }
    let done = Instant::now();
    let valid =
        ok_status && saw_choices && (!args.stream || tail.windows(6).any(|w| w == b"[DONE]"));
    if !measure {
        return;
    }
    if !valid {
        stats.errors += 1;
        return;
    }
    stats.ok += 1;
    stats
        .latencies_us
        .push(micros(done.duration_since(scheduled)));
    if args.stream {
        if let Some(f) = first {
            stats.ttft_us.push(micros(f.duration_since(scheduled)));
        }
        stats.gaps_us.extend(gaps.into_iter().map(micros));
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn pct(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    f64::from(v[idx.min(v.len() - 1)]) / 1000.0
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency * 2)
        .build(connector);
    let body = body(&args);
    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(args.warmup);
    let end = warm_end + Duration::from_secs_f64(args.duration);
    let mut handles = Vec::new();
    match args.rate {
        None => {
            for _ in 0..args.concurrency {
                let (client, args, body) = (client.clone(), args.clone(), body.clone());
                handles.push(tokio::spawn(async move {
                    let mut stats = Stats::default();
                    loop {
                        let now = Instant::now();
                        if now >= end {
                            break;
                        }
                        one(&client, &args, &body, now, &mut stats, now >= warm_end).await;
                    }
                    stats
                }));
            }
        }
        Some(rate) => {
            // Workers pull scheduled send times from a shared counter.
            let interval = Duration::from_secs_f64(1.0 / rate);
            let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
            for _ in 0..args.concurrency {
                let (client, args, body, next) =
                    (client.clone(), args.clone(), body.clone(), next.clone());
                handles.push(tokio::spawn(async move {
                    let mut stats = Stats::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let scheduled = start + interval.mul_f64(i as f64);
                        if scheduled >= end {
                            break;
                        }
                        tokio::time::sleep_until(scheduled.into()).await;
                        one(
                            &client,
                            &args,
                            &body,
                            scheduled,
                            &mut stats,
                            scheduled >= warm_end,
                        )
                        .await;
                    }
                    stats
                }));
            }
        }
    }
    let mut all = Stats::default();
    for h in handles {
        if let Ok(s) = h.await {
            all.latencies_us.extend(s.latencies_us);
            all.ttft_us.extend(s.ttft_us);
            all.gaps_us.extend(s.gaps_us);
            all.ok += s.ok;
            all.errors += s.errors;
        }
    }
    let secs = args.duration;
    let out = serde_json::json!({
        "label": args.label,
        "mode": if args.rate.is_some() { "open" } else { "closed" },
        "rate": args.rate,
        "concurrency": args.concurrency,
        "stream": args.stream,
        "ok": all.ok,
        "errors": all.errors,
        "rps": all.ok as f64 / secs,
        "p50_ms": pct(&mut all.latencies_us, 0.50),
        "p90_ms": pct(&mut all.latencies_us, 0.90),
        "p99_ms": pct(&mut all.latencies_us, 0.99),
        "max_ms": pct(&mut all.latencies_us, 1.0),
        "ttft_p50_ms": pct(&mut all.ttft_us, 0.50),
        "ttft_p99_ms": pct(&mut all.ttft_us, 0.99),
        "gap_p50_ms": pct(&mut all.gaps_us, 0.50),
        "gap_p99_ms": pct(&mut all.gaps_us, 0.99),
    });
    println!("{out}");
}
