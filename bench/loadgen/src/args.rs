//! Command-line options of the load generator.

use clap::Parser;

/// What to send, how fast, and what to report.
#[derive(Parser, Debug, Clone)]
pub struct Args {
    /// Full URL, e.g. http://127.0.0.1:8080/v1/chat/completions
    #[arg(long)]
    pub url: String,
    /// Model to request; with `--models N`, requests cycle through
    /// `MODEL-0` .. `MODEL-(N-1)`.
    #[arg(long, default_value = "bench")]
    pub model: String,
    /// Number of model names to cycle through (1 = just `--model`).
    #[arg(long, default_value_t = 1)]
    pub models: usize,
    /// Test length in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Warm-up seconds (not measured).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Closed-loop workers (or the in-flight cap in open-loop mode).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Closed loop: spread the workers' first requests over this many
    /// seconds (for thousands of connections).
    #[arg(long, default_value_t = 0.0)]
    pub ramp: f64,
    /// Open-loop requests per second; closed loop when absent.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Request streaming responses.
    #[arg(long)]
    pub stream: bool,
    /// Extra bytes of prompt text to make the body larger.
    #[arg(long, default_value_t = 0)]
    pub prompt_bytes: usize,
    /// Make every prompt different (a response cache always misses).
    #[arg(long)]
    pub unique: bool,
    /// Text for the mock directive, e.g. "words=64 itl_ms=20".
    #[arg(long, default_value = "")]
    pub mock: String,
    /// Bearer token to send.
    #[arg(long)]
    pub key: Option<String>,
    /// File of bearer tokens, one a line; requests cycle through them.
    #[arg(long)]
    pub keys_file: Option<std::path::PathBuf>,
    /// Process to account: its CPU time (utime+stime from /proc) over the
    /// measured window is reported per request, and its peak RSS.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Label for the JSON output line.
    #[arg(long, default_value = "run")]
    pub label: String,
}
