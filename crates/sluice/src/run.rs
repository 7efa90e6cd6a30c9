//! The subcommands.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sluice_gateway::Gateway;
use sluice_gateway::config::{self, Config};
use sluice_gateway::ledger::Ledger;
use sluice_gateway::provider::ProviderKind;
use sluice_gateway::reload::Reloader;
use sluice_gateway::server::{self, ServeOptions};
use sluice_store::LogSink;
use tokio::net::TcpListener;

use crate::cli::{Cli, Command, LogFormat};
use crate::{demo, logging};

/// Runs the chosen subcommand.
pub async fn main(cli: Cli) -> anyhow::Result<ExitCode> {
    logging::init(cli.log_format, cli.log_level.as_deref());
    match cli.command {
        Command::Serve { config, listen } => {
            let cfg = match &config {
                Some(path) => match config::load(path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprint!("{e}");
                        return Ok(ExitCode::from(2));
                    }
                },
                None => config::defaults::from_env(
                    &|k| std::env::var(k).ok(),
                    listen.unwrap_or_else(default_listen),
                ),
            };
            serve(cfg, listen, cli.log_format, config.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => match config::load(&config) {
            Ok(c) => {
                println!(
                    "{}: ok ({} providers, {} models, {} routes)",
                    config.display(),
                    c.providers.len(),
                    c.models.len(),
                    c.routes.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprint!("{e}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Mock { listen, no_record } => {
            let listener = TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            println!(
                "sluice mock provider listening on http://{}",
                listener.local_addr()?
            );
            tokio::select! {
                r = sluice_mock::serve(listener, !no_record) => r?,
                () = shutdown_signal() => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { listen } => {
            demo::run(listen, cli.log_format).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// Runs the gateway until SIGINT or SIGTERM.
pub async fn serve(
    cfg: Config,
    listen: Option<SocketAddr>,
    log_format: LogFormat,
    config_path: Option<&Path>,
) -> anyhow::Result<()> {
    let addr = listen.unwrap_or(cfg.server.listen);
    let (ledger, ledger_task) = Ledger::start(Arc::new(LogSink {
        full_json: log_format == LogFormat::Json,
    }));
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    print_banner(&cfg, local);
    let gw = Gateway::new(cfg, ledger).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Hot reload from the file (changes and SIGHUP); the listener stays.
    let reloader =
        config_path.map(|p| Reloader::new(p, gw.clone(), move |c| c.server.listen = local));
    let watch = reloader.as_ref().map(Reloader::watch);
    let app = server::app(gw.clone());
    server::serve(listener, app, ServeOptions::default(), shutdown_signal()).await;
    tracing::info!("shutting down: flushing the request ledger");
    drop(watch);
    drop(reloader);
    drop(gw);
    if tokio::time::timeout(Duration::from_secs(10), ledger_task.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("ledger flush did not finish within 10s");
    }
    Ok(())
}

/// Prints which providers are on and how their models are addressed.
fn print_banner(cfg: &Config, addr: SocketAddr) {
    let mut out = String::new();
    out.push_str(&format!(
        "Sluice {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        cfg.source
    ));
    if cfg.providers.is_empty() {
        out.push_str(
            "No providers are enabled. Set a provider key (for example OPENAI_API_KEY) and \
             restart, pass --config FILE, or run `sluice demo` to try Sluice with a mock provider.\n",
        );
    } else {
        out.push_str("Providers:\n");
        for p in &cfg.providers {
            let mut names: Vec<&str> = cfg
                .models
                .iter()
                .filter(|m| m.providers().any(|name| name == p.name))
                .map(|m| m.name.as_str())
                .collect();
            names.truncate(8);
            out.push_str(&format!(
                "  {:<12} on  ({}, {})  models: {}\n",
                p.name,
                p.kind.as_str(),
                p.base_url,
                if names.is_empty() {
                    "(none configured)".to_owned()
                } else {
                    names.join(", ")
                }
            ));
        }
    }
    let native: Vec<String> = cfg
        .providers
        .iter()
        .filter(|p| p.passthrough.enabled)
        .map(|p| format!("/{}/", p.name))
        .collect();
    if !native.is_empty() {
        out.push_str(&format!(
            "Native provider APIs (pass-through): {}\n",
            native.join(" ")
        ));
    }
    if cfg.source == "embedded defaults" {
        let off: Vec<String> = ProviderKind::ALL
            .iter()
            .filter(|k| !cfg.providers.iter().any(|p| p.kind == **k))
            .filter_map(|k| k.key_env().map(|v| format!("{} ({v})", k.as_str())))
            .collect();
        if !off.is_empty() {
            out.push_str(&format!("Not enabled: {}\n", off.join(", ")));
        }
        out.push_str("Address a model as <provider>/<model>, e.g. openai/gpt-4o-mini.\n");
    }
    out.push_str(&format!("listening on http://{addr}\n"));
    print!("{out}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
