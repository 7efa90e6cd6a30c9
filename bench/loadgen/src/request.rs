//! One request: build the bodies, send, read the whole answer, validate it
//! and record its timings into a worker's [`Stats`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::args::Args;

/// The HTTP/1 client, with `TCP_NODELAY` set on its connector.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// What every request cycles through: bodies (one per model) and keys.
pub struct Plan {
    pub bodies: Vec<Bytes>,
    pub keys: Vec<String>,
    /// Requests begun, used to pick the body and key.
    pub seq: AtomicU64,
    /// Streams open now (headers received, end not yet read).
    pub open: AtomicU64,
    /// Most streams open at once.
    pub open_max: AtomicU64,
}

/// One worker's measurements.
#[derive(Default)]
pub struct Stats {
    pub latencies_us: Vec<u32>,
    pub ttft_us: Vec<u32>,
    pub gaps_us: Vec<u32>,
    pub ok: u64,
    pub errors: u64,
}

impl Stats {
    pub fn merge(&mut self, other: Stats) {
        self.latencies_us.extend(other.latencies_us);
        self.ttft_us.extend(other.ttft_us);
        self.gaps_us.extend(other.gaps_us);
        self.ok += other.ok;
        self.errors += other.errors;
    }
}

/// Placeholder in every prompt; with `--unique` each request writes its
/// sequence number over it, so no two prompts are alike (cache misses).
const NONCE: &str = "000000000000";

/// The request bodies: one per model name, each with the same prompt.
pub fn bodies(args: &Args) -> Vec<Bytes> {
    let mut prompt = format!("Benchmark prompt {NONCE}.");
    if !args.mock.is_empty() {
        prompt.push_str(&format!(" <<mock {}>>", args.mock));
    }
    if args.prompt_bytes > 0 {
        prompt.push(' ');
        prompt.push_str(&"lorem ipsum ".repeat(args.prompt_bytes / 12 + 1)[..args.prompt_bytes]);
    }
    let names: Vec<String> = if args.models <= 1 {
        vec![args.model.clone()]
    } else {
        (0..args.models)
            .map(|i| format!("{}-{i}", args.model))
            .collect()
    };
    names
        .iter()
        .map(|model| {
            let v = serde_json::json!({
                "model": model,
                "stream": args.stream,
                "messages": [{"role": "user", "content": prompt}],
            });
            Bytes::from(v.to_string())
        })
        .collect()
}

/// Sends one request and reads its answer to the end. Latency, TTFT and
/// errors are recorded only when `measure` (outside the warm-up).
pub async fn one(
    client: &HttpClient,
    args: &Args,
    plan: &Plan,
    scheduled: Instant,
    stats: &mut Stats,
    measure: bool,
) {
    let i = plan.seq.fetch_add(1, Ordering::Relaxed) as usize;
    let mut body = plan.bodies[i % plan.bodies.len()].clone();
    if args.unique {
        body = with_nonce(&body, i);
    }
    let mut req = Request::post(args.url.as_str()).header("content-type", "application/json");
    if !plan.keys.is_empty() {
        req = req.header(
            "authorization",
            format!("Bearer {}", plan.keys[i % plan.keys.len()]),
        );
    }
    let Ok(req) = req.body(Full::new(body)) else {
        stats.errors += 1;
        return;
    };
    let Ok(resp) = client.request(req).await else {
        stats.errors += u64::from(measure);
        return;
    };
    let open = plan.open.fetch_add(1, Ordering::Relaxed) + 1;
    plan.open_max.fetch_max(open, Ordering::Relaxed);
    let read = read_answer(resp, args.stream).await;
    plan.open.fetch_sub(1, Ordering::Relaxed);
    if !measure {
        return;
    }
    let Some(answer) = read else {
        stats.errors += 1;
        return;
    };
    stats.ok += 1;
    stats
        .latencies_us
        .push(micros(answer.done.duration_since(scheduled)));
    if args.stream {
        if let Some(f) = answer.first {
            stats.ttft_us.push(micros(f.duration_since(scheduled)));
        }
        stats.gaps_us.extend(answer.gaps.into_iter().map(micros));
    }
}

struct Answer {
    first: Option<Instant>,
    done: Instant,
    gaps: Vec<Duration>,
}

/// Reads the body to its end; `None` unless the status is 200 and the body
/// is a completion (or a stream of chunks ending in `[DONE]`).
async fn read_answer(resp: hyper::Response<hyper::body::Incoming>, stream: bool) -> Option<Answer> {
    let ok_status = resp.status() == 200;
    let mut b = resp.into_body();
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let mut gaps = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut saw_choices = false;
    while let Some(frame) = b.frame().await {
        let frame = frame.ok()?;
        if let Some(data) = frame.data_ref() {
            let now = Instant::now();
            match first {
                None => first = Some(now),
                Some(_) => gaps.push(now.duration_since(last)),
            }
            last = now;
            saw_choices |= memfind(data, b"\"choices\"");
            tail.extend_from_slice(&data[data.len().saturating_sub(32)..]);
            if tail.len() > 64 {
                tail.drain(..tail.len() - 64);
            }
        }
    }
    let done = Instant::now();
    let valid = ok_status && saw_choices && (!stream || memfind(&tail, b"[DONE]"));
    valid.then_some(Answer { first, done, gaps })
}

/// A copy of `body` with the prompt's placeholder replaced by `i`.
fn with_nonce(body: &Bytes, i: usize) -> Bytes {
    let mut v = body.to_vec();
    if let Some(at) = v.windows(NONCE.len()).position(|w| w == NONCE.as_bytes()) {
        let n = format!("{:012}", i % 1_000_000_000_000);
        v[at..at + NONCE.len()].copy_from_slice(n.as_bytes());
    }
    Bytes::from(v)
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["loadgen", "--url", "http://127.0.0.1:1/v1/chat/completions"];
        v.extend_from_slice(extra);
        Args::parse_from(v)
    }

    #[test]
    fn one_body_per_model_with_the_prompt_size_asked() {
        let b = bodies(&args(&["--models", "3", "--prompt-bytes", "1000"]));
        assert_eq!(b.len(), 3);
        let v: serde_json::Value = serde_json::from_slice(&b[2]).unwrap();
        assert_eq!(v["model"], "bench-2");
        let prompt = v["messages"][0]["content"].as_str().unwrap();
        assert!(prompt.len() >= 1000 && prompt.len() < 1100);
    }

    #[test]
    fn nonce_makes_every_prompt_different() {
        let b = bodies(&args(&[]));
        let (x, y) = (with_nonce(&b[0], 1), with_nonce(&b[0], 2));
        assert_ne!(x, y);
        assert_eq!(x.len(), b[0].len());
        assert!(memfind(&y, b"000000000002"));
    }
}
