//! `sluice-loadgen`: drives HTTP load at a chat completions endpoint and
//! prints one JSON line of throughput, latency percentiles and errors.
//!
//! - Closed loop (default): `--concurrency` workers each send the next request
//!   as soon as the previous one finishes; gives peak throughput.
//! - Open loop (`--rate R`): requests are scheduled at fixed intervals and
//!   latency is measured from the *scheduled* send time, so a slow server
//!   cannot hide its queueing delay (no coordinated omission).
//! - `--stream`: also reports time to first chunk and the gap between chunks,
//!   and the most streams held open at once (`open_max`).
//! - `--pid`: charges that process's CPU time over the measured window to
//!   the requests (`cpu_us_per_req`) and samples its peak RSS.
//!
//! Every response is validated (status 200, and a body that looks like a
//! completion or a finished stream); failures are counted separately.
//! `TCP_NODELAY` is set on every connection.

mod args;
mod proc;
mod request;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use args::Args;
use request::{HttpClient, Plan, Stats, one};

fn pct(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    f64::from(v[idx.min(v.len() - 1)]) / 1000.0
}

#[expect(
    clippy::disallowed_methods,
    reason = "read once, before any request is sent"
)]
fn load_keys(args: &Args) -> std::io::Result<Vec<String>> {
    let mut keys: Vec<String> = args.key.iter().cloned().collect();
    if let Some(path) = &args.keys_file {
        let text = std::fs::read_to_string(path)?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    Ok(keys)
}

/// Samples the accounted process: CPU ticks at the start and end of the
/// measured window, and its peak RSS during it.
async fn watch(pid: u32, warm_end: Instant, end: Instant) -> (Option<u64>, u64) {
    tokio::time::sleep_until(warm_end.into()).await;
    let t0 = proc::cpu_ticks(pid);
    let mut rss_max = 0;
    while Instant::now() < end {
        rss_max = rss_max.max(proc::rss_kib(pid).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ticks = t0.zip(proc::cpu_ticks(pid)).map(|(a, b)| b - a);
    (ticks, rss_max)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency * 2)
        .build(connector);
    let plan = Arc::new(Plan {
        bodies: request::bodies(&args),
        keys: load_keys(&args)?,
        seq: AtomicU64::new(0),
        open: AtomicU64::new(0),
        open_max: AtomicU64::new(0),
    });
    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(args.warmup);
    let end = warm_end + Duration::from_secs_f64(args.duration);
    let watcher = args.pid.map(|pid| tokio::spawn(watch(pid, warm_end, end)));
    let mut handles = Vec::new();
    // Open loop: workers pull scheduled send times from a shared counter.
    let interval = args.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let next = Arc::new(AtomicU64::new(0));
    for w in 0..args.concurrency {
        let (client, args, plan, next) = (client.clone(), args.clone(), plan.clone(), next.clone());
        let delay = Duration::from_secs_f64(args.ramp * w as f64 / args.concurrency as f64);
        handles.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            tokio::time::sleep_until((start + delay).into()).await;
            loop {
                let scheduled = match interval {
                    None => Instant::now(),
                    Some(iv) => start + iv.mul_f64(next.fetch_add(1, Ordering::Relaxed) as f64),
                };
                if scheduled >= end {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let measure = scheduled >= warm_end;
                one(&client, &args, &plan, scheduled, &mut stats, measure).await;
            }
            stats
        }));
    }
    let mut all = Stats::default();
    for h in handles {
        all.merge(h.await?);
    }
    let (ticks, rss_max) = match watcher {
        Some(w) => w.await?,
        None => (None, 0),
    };
    let secs = args.duration;
    let requests = (all.ok + all.errors).max(1) as f64;
    let cpu_us = ticks.map(|t| t as f64 / proc::CLK_TCK * 1e6 / requests);
    let out = serde_json::json!({
        "label": args.label,
        "mode": if args.rate.is_some() { "open" } else { "closed" },
        "rate": args.rate,
        "concurrency": args.concurrency,
        "stream": args.stream,
        "ok": all.ok,
        "errors": all.errors,
        "error_rate": all.errors as f64 / requests,
        "rps": all.ok as f64 / secs,
        "p50_ms": pct(&mut all.latencies_us, 0.50),
        "p90_ms": pct(&mut all.latencies_us, 0.90),
        "p99_ms": pct(&mut all.latencies_us, 0.99),
        "max_ms": pct(&mut all.latencies_us, 1.0),
        "ttft_p50_ms": pct(&mut all.ttft_us, 0.50),
        "ttft_p99_ms": pct(&mut all.ttft_us, 0.99),
        "gap_p50_ms": pct(&mut all.gaps_us, 0.50),
        "gap_p99_ms": pct(&mut all.gaps_us, 0.99),
        "open_max": plan.open_max.load(Ordering::Relaxed),
        "cpu_us_per_req": cpu_us,
        "rss_max_kib": rss_max,
    });
    println!("{out}");
    Ok(())
}
