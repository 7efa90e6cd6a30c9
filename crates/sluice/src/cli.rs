//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Sluice: one OpenAI-compatible API in front of every LLM provider.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SLUICE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `sluice=debug` (overrides RUST_LOG).
    #[arg(long, global = true, env = "SLUICE_LOG")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line; each request record is one line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway. Without --config, enables every provider whose API
    /// key variable is set (OPENAI_API_KEY, ...).
    Serve {
        /// YAML config file.
        #[arg(long, short, env = "SLUICE_CONFIG")]
        config: Option<PathBuf>,
        /// Listen address (overrides server.listen). Default 127.0.0.1:8080.
        #[arg(long, env = "SLUICE_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Validate a config file; exits non-zero and lists every problem.
    Check {
        /// YAML config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the mock LLM provider (OpenAI wire, fault injection).
    Mock {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9999")]
        listen: SocketAddr,
        /// Keep no request log (for benchmarks).
        #[arg(long)]
        no_record: bool,
    },
    /// Run the gateway with an in-process mock provider: try Sluice with no
    /// API keys.
    Demo {
        /// Listen address of the gateway.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}
