//! The subcommands.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sluice_gateway::Gateway;
use sluice_gateway::admin::key;
use sluice_gateway::alerts::AlertSink;
use sluice_gateway::config::secret::Secret;
use sluice_gateway::config::tenancy::Database;
use sluice_gateway::config::{self, Config};
use sluice_gateway::ledger::{Durable, Ledger, SinkSpec, retention};
use sluice_gateway::provider::ProviderKind;
use sluice_gateway::reload::Reloader;
use sluice_gateway::server::{self, ServeOptions};
use sluice_gateway::tenancy::Tenancy;
use sluice_gateway::traces::TraceSink;
use sluice_store::LogSink;
use tokio::net::TcpListener;

use crate::cli::{Cli, Command, LogFormat};
use crate::{demo, logging};

/// Runs the chosen subcommand.
pub async fn main(cli: Cli) -> anyhow::Result<ExitCode> {
    logging::init(cli.log_format, cli.log_level.as_deref());
    match cli.command {
        Command::Serve {
            config,
            listen,
            admin_listen,
            data_dir,
        } => {
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
            let mut cfg = cfg;
            if let Some(d) = data_dir {
                cfg.set_data_dir(d);
            }
            if let Some(a) = admin_listen {
                cfg.admin.listen = a;
                cfg.admin.listen_set = true;
            }
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
        Command::Keys { admin, cmd } => crate::admin_cli::keys(admin, cmd).await,
        Command::Usage { admin, key } => crate::admin_cli::usage(admin, key).await,
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
    let tenancy = Tenancy::open(&cfg.store, &cfg.auth).await?;
    let mut sinks = vec![
        SinkSpec::plain(Arc::new(LogSink {
            full_json: log_format == LogFormat::Json,
        })),
        SinkSpec {
            sink: Arc::new(tenancy.db().clone()),
            durable: Some(Durable {
                spool_dir: cfg.ledger.spool_dir.clone(),
                max_bytes: cfg.ledger.spool_max_bytes,
                write_timeout: cfg.ledger.write_timeout,
            }),
        },
    ];
    if let Some(a) = AlertSink::new(&cfg.alerts, tenancy.clone()) {
        sinks.push(SinkSpec::plain(Arc::new(a)));
    }
    if let Some(t) = &cfg.traces {
        let sink = TraceSink::new(t.clone()).context("cannot build the OTLP client")?;
        sinks.push(SinkSpec::plain(Arc::new(sink)));
    }
    let (ledger, ledger_task) = Ledger::start_with(sinks, Arc::default())
        .with_context(|| format!("cannot open the spool {}", cfg.ledger.spool_dir.display()))?;
    let retention = cfg
        .ledger
        .retention
        .map(|keep| retention::start(tenancy.db().clone(), keep));
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let admin = admin_listener(&cfg).await?;
    print_banner(&cfg, local, &tenancy, admin.as_ref());
    let gw = Gateway::new(cfg, ledger, tenancy).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_task = admin.map(|a| {
        let app = sluice_gateway::admin::app(gw.clone(), a.key);
        tokio::spawn(server::serve(
            a.listener,
            app,
            ServeOptions::default(),
            async {
                let _ = admin_stopped.await;
            },
        ))
    });
    // Hot reload from the file (changes and SIGHUP); the listener stays.
    let reloader =
        config_path.map(|p| Reloader::new(p, gw.clone(), move |c| c.server.listen = local));
    let watch = reloader.as_ref().map(Reloader::watch);
    let app = server::app(gw.clone());
    server::serve(
        listener,
        app,
        ServeOptions::for_gateway(&gw),
        shutdown_signal(),
    )
    .await;
    let _ = admin_stop.send(());
    if let Some(t) = admin_task {
        let _ = t.await;
    }
    tracing::info!("shutting down: flushing the request ledger");
    if let Some(r) = retention {
        r.abort();
    }
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

/// The bound admin listener and its key.
struct Admin {
    listener: TcpListener,
    key: Secret,
    source: key::Source,
}

/// Binds the admin listener, unless disabled. A taken default address only
/// disables the admin API (with a warning); a configured one is an error.
async fn admin_listener(cfg: &Config) -> anyhow::Result<Option<Admin>> {
    if cfg.admin.disabled {
        return Ok(None);
    }
    let listener = match TcpListener::bind(cfg.admin.listen).await {
        Ok(l) => l,
        Err(e) if !cfg.admin.listen_set => {
            tracing::warn!(error = %e, addr = %cfg.admin.listen, "admin API disabled: its default address is taken (set admin.listen or --admin-listen)");
            return Ok(None);
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot listen on {} (admin API)", cfg.admin.listen));
        }
    };
    let (key, source) = key::resolve(&cfg.admin, &cfg.server.data_dir)
        .context("cannot read or create the admin key")?;
    Ok(Some(Admin {
        listener,
        key,
        source,
    }))
}

/// Prints which providers are on and how their models are addressed.
fn print_banner(cfg: &Config, addr: SocketAddr, tenancy: &Tenancy, admin: Option<&Admin>) {
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
    out.push_str(&store_line(cfg));
    if tenancy.is_open(&cfg.auth) {
        out.push_str(
            "Auth: OPEN. No API keys exist, so any client may call this gateway (fine for local \
             use). Create a key (`sluice keys create`) and every request will need one.\n",
        );
    } else {
        out.push_str("Auth: closed. Requests need a Sluice API key.\n");
    }
    if let Some(a) = admin
        && let Ok(at) = a.listener.local_addr()
    {
        let from = match &a.source {
            key::Source::Config => "admin.key in the config".to_owned(),
            key::Source::File(p) => p.display().to_string(),
        };
        out.push_str(&format!(
            "Admin API on http://{at} (docs at /docs; admin key: {from})\n"
        ));
    }
    out.push_str(&format!("listening on http://{addr}\n"));
    print!("{out}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

/// Where data lives, for the banner.
fn store_line(cfg: &Config) -> String {
    let db = match &cfg.store.database {
        Database::Sqlite(path) => format!("SQLite {}", path.display()),
        Database::Postgres(_) => "PostgreSQL".to_owned(),
    };
    let counters = if cfg.store.redis.is_some() {
        "shared in Redis"
    } else {
        "in memory (this instance)"
    };
    format!("Store: {db}; limit and budget counters {counters}.\n")
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
