//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
        /// Admin API address (overrides admin.listen). Default 127.0.0.1:8081.
        #[arg(long, env = "SLUICE_ADMIN_LISTEN")]
        admin_listen: Option<SocketAddr>,
        /// Data directory (overrides server.data_dir): the SQLite store and
        /// the generated admin key. Default ./sluice-data.
        #[arg(long, env = "SLUICE_DATA_DIR")]
        data_dir: Option<PathBuf>,
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
    /// Manage virtual API keys through a running gateway's admin API.
    Keys {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Show usage and remaining budget per key (or one key in detail).
    Usage {
        #[command(flatten)]
        admin: AdminArgs,
        /// A key id: show its budgets and totals.
        key: Option<String>,
    },
    /// Run the gateway with an in-process mock provider: try Sluice with no
    /// API keys.
    Demo {
        /// Listen address of the gateway.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

/// Where the admin API is and how to authenticate to it.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Admin API URL. Default: admin.listen of --config, else http://127.0.0.1:8081.
    #[arg(long, env = "SLUICE_ADMIN_URL", global = true)]
    pub admin_url: Option<String>,
    /// Admin key. Default: admin.key of --config, else the key file in the data directory.
    #[arg(long, env = "SLUICE_ADMIN_KEY", hide_env_values = true, global = true)]
    pub admin_key: Option<String>,
    /// Config file, to find the admin address and key.
    #[arg(long, short, env = "SLUICE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `sluice keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Create a key (shown once) or, with --import, accept an existing one.
    Create(Box<NewKeyArgs>),
    /// List keys.
    List,
    /// Show one key.
    Get { id: String },
    /// Revoke a key.
    Revoke { id: String },
    /// Replace a key's secret, keeping its settings and spend.
    Rotate {
        id: String,
        /// How long the old secret keeps working, e.g. 1h.
        #[arg(long)]
        grace: Option<String>,
    },
}

/// Options of `sluice keys create`.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    #[arg(long)]
    pub name: Option<String>,
    /// Consumer id or name.
    #[arg(long)]
    pub consumer: Option<String>,
    /// Allowed public models (comma-separated; patterns with one `*`).
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// Allowed route names (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub routes: Option<Vec<String>>,
    /// A rate limit, METRIC=LIMIT/WINDOW[,fixed], e.g. tokens=1000/1m (repeatable).
    #[arg(long)]
    pub limit: Vec<String>,
    /// A budget, USD/PERIOD, e.g. 10/monthly.
    #[arg(long)]
    pub budget: Option<String>,
    /// Serve this model instead once the budget is spent.
    #[arg(long, requires = "budget")]
    pub budget_fallback: Option<String>,
    /// Soft alert threshold, a fraction of the budget (e.g. 0.8).
    #[arg(long, requires = "budget")]
    pub alert_at: Option<f64>,
    /// Expiry from now, e.g. 30d.
    #[arg(long)]
    pub expires_in: Option<String>,
    /// Metadata, a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Import an existing key, read from stdin, instead of generating one.
    #[arg(long)]
    pub import: bool,
}
