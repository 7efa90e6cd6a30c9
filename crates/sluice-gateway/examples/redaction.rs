//! Times redaction of a 100 KB prompt by every built-in guardrail detector
//! (the scanner DLP policies and payload logging use). `bench/run.sh` runs
//! it in release mode; the target is a median under 1 ms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sluice_gateway::payloads::redact;

fn main() {
    let line = "The quarterly report shows revenue grew 12% while costs fell; contact \
                jane.doe@example.com or see ticket 4411 for details. ";
    let mut text = String::with_capacity(100 * 1024 + 256);
    let mut n = 0usize;
    while text.len() < 100 * 1024 {
        text.push_str(line);
        n += 1;
        if n.is_multiple_of(7) {
            text.push_str("key sk-canary1234567890abcdefghij ");
        }
    }
    let mut times: Vec<Duration> = Vec::with_capacity(51);
    let mut found = 0;
    for _ in 0..51 {
        let mut counts = BTreeMap::new();
        let t = Instant::now();
        let out = redact(&text, &mut counts);
        times.push(t.elapsed());
        found = counts.values().sum::<u64>();
        std::hint::black_box(out);
    }
    times.sort();
    println!(
        "redaction of {} bytes ({found} values replaced): median {:.3} ms, min {:.3} ms",
        text.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
    );
}
