//! `sluice keys ...` and `sluice usage`: thin clients of a running
//! gateway's admin API.
//!
//! The admin address and key come from the flags, the environment
//! (`SLUICE_ADMIN_URL`, `SLUICE_ADMIN_KEY`), the config file (`admin.listen`,
//! `admin.key`), or the defaults (`http://127.0.0.1:8081`, the key generated
//! into `<data_dir>/admin.key`), in that order.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use sluice_gateway::admin::{ADMIN_KEY_HEADER, key};
use sluice_gateway::config::units::parse_duration;
use sluice_gateway::config::{self, Config};

use crate::cli::{AdminArgs, KeysCmd};

/// A client of the admin API.
struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    fn new(args: &AdminArgs) -> anyhow::Result<Self> {
        let cfg: Option<Config> = match &args.config {
            Some(p) => Some(config::load(p).map_err(|e| anyhow::anyhow!("{e}"))?),
            None => None,
        };
        let base = match (&args.admin_url, &cfg) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(c)) => format!("http://{}", c.admin.listen),
            (None, None) => "http://127.0.0.1:8081".to_owned(),
        };
        let key = match (&args.admin_key, &cfg) {
            (Some(k), _) => k.clone(),
            (None, Some(c)) => key::resolve_existing(&c.admin, &c.server.data_dir)?,
            (None, None) => {
                let defaults = config::tenancy::default_admin();
                key::resolve_existing(&defaults, Path::new(config::DEFAULT_DATA_DIR))?
            }
        };
        Ok(Self {
            base,
            key,
            http: reqwest::Client::new(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(ADMIN_KEY_HEADER, &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach the admin API at {} (is `sluice serve` running?)",
                self.base
            )
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = value["error"]["message"].as_str().unwrap_or(&text);
            bail!("{status}: {msg}");
        }
        Ok(value)
    }
}

/// Parses `METRIC=LIMIT/WINDOW[,fixed]`, e.g. `tokens=1000/1m`.
pub fn parse_limit(s: &str) -> anyhow::Result<Value> {
    let (spec, fixed) = match s.strip_suffix(",fixed") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let (metric, rest) = spec
        .split_once('=')
        .context("a limit is METRIC=LIMIT/WINDOW, e.g. tokens=1000/1m")?;
    let (limit, window) = rest
        .split_once('/')
        .context("a limit is METRIC=LIMIT/WINDOW, e.g. tokens=1000/1m")?;
    let metric = match metric {
        "requests" | "rpm" => "requests",
        "tokens" | "total_tokens" => "total_tokens",
        "prompt_tokens" | "input_tokens" => "prompt_tokens",
        "completion_tokens" | "output_tokens" => "completion_tokens",
        "cost" | "cost_usd" | "usd" => "cost_usd",
        other => bail!(
            "unknown metric `{other}` (requests, tokens, prompt_tokens, completion_tokens, cost)"
        ),
    };
    let limit: f64 = limit
        .parse()
        .with_context(|| format!("`{limit}` is not a number"))?;
    let window = parse_duration(window).map_err(|e| anyhow::anyhow!(e))?;
    Ok(
        json!({"metric": metric, "limit": limit, "window_secs": window.as_secs().max(1), "sliding": !fixed}),
    )
}

/// Parses `USD/PERIOD`, e.g. `10/monthly`.
pub fn parse_budget(
    s: &str,
    fallback: Option<&str>,
    alert_at: Option<f64>,
) -> anyhow::Result<Value> {
    let (usd, period) = s
        .split_once('/')
        .context("a budget is USD/PERIOD, e.g. 10/monthly")?;
    let usd: f64 = usd
        .trim_start_matches('$')
        .parse()
        .with_context(|| format!("`{usd}` is not a number"))?;
    let period = match period {
        "daily" | "day" => "daily",
        "weekly" | "week" => "weekly",
        "monthly" | "month" => "monthly",
        other => bail!("unknown period `{other}` (daily, weekly, monthly)"),
    };
    let mut b = json!({"usd": usd, "period": period});
    if let Some(m) = fallback {
        b["on_exhausted"] = json!({"action": "fallback", "model": m});
    }
    if let Some(a) = alert_at {
        b["alert_at"] = json!(a);
    }
    Ok(b)
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn key_line(k: &Value) -> String {
    let status = if !k["revoked_at"].is_null() {
        "revoked"
    } else {
        "active"
    };
    format!(
        "{:<38} {:<20} {:<18} {:<8} {}",
        k["id"].as_str().unwrap_or("-"),
        k["name"].as_str().unwrap_or("-"),
        k["prefix"].as_str().unwrap_or("-"),
        status,
        k["consumer_id"].as_str().unwrap_or("-"),
    )
}

/// Runs `sluice keys ...`.
pub async fn keys(args: AdminArgs, cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args)?;
    use reqwest::Method;
    match cmd {
        KeysCmd::Create(k) => {
            let mut body = json!({});
            let put = |b: &mut Value, name: &str, v: Option<Value>| {
                if let Some(v) = v {
                    b[name] = v;
                }
            };
            put(&mut body, "name", k.name.map(Value::from));
            put(&mut body, "consumer", k.consumer.map(Value::from));
            put(&mut body, "allowed_models", k.models.map(|m| json!(m)));
            put(&mut body, "allowed_routes", k.routes.map(|r| json!(r)));
            if !k.limit.is_empty() {
                body["limits"] = Value::Array(
                    k.limit
                        .iter()
                        .map(|l| parse_limit(l))
                        .collect::<Result<_, _>>()?,
                );
            }
            if let Some(b) = &k.budget {
                body["budget"] = parse_budget(b, k.budget_fallback.as_deref(), k.alert_at)?;
            }
            if let Some(e) = &k.expires_in {
                let d = parse_duration(e).map_err(|e| anyhow::anyhow!(e))?;
                body["expires_in_secs"] = json!(d.as_secs());
            }
            if let Some(m) = &k.metadata {
                body["metadata"] =
                    serde_json::from_str(m).context("--metadata must be a JSON object")?;
            }
            if k.import {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("cannot read the key to import from stdin")?;
                body["key"] = Value::from(line.trim());
            }
            let created = c.call(Method::POST, "/v1/keys", Some(body)).await?;
            if args.json {
                print(&created);
            } else {
                println!("Created key {}", created["id"].as_str().unwrap_or("-"));
                if !k.import {
                    println!("\n    {}\n", created["key"].as_str().unwrap_or("-"));
                    println!("Store it now: Sluice keeps only its hash and cannot show it again.");
                }
            }
        }
        KeysCmd::List => {
            let list = c.call(Method::GET, "/v1/keys", None).await?;
            if args.json {
                print(&list);
            } else {
                println!(
                    "{:<38} {:<20} {:<18} {:<8} CONSUMER",
                    "ID", "NAME", "PREFIX", "STATUS"
                );
                for k in list.as_array().into_iter().flatten() {
                    println!("{}", key_line(k));
                }
            }
        }
        KeysCmd::Get { id } => print(&c.call(Method::GET, &format!("/v1/keys/{id}"), None).await?),
        KeysCmd::Revoke { id } => {
            let k = c
                .call(Method::DELETE, &format!("/v1/keys/{id}"), None)
                .await?;
            if args.json {
                print(&k);
            } else {
                println!("Revoked key {id}.");
            }
        }
        KeysCmd::Rotate { id, grace } => {
            let grace_secs = match grace {
                Some(g) => parse_duration(&g)
                    .map_err(|e| anyhow::anyhow!(e))?
                    .as_secs(),
                None => 0,
            };
            let k = c
                .call(
                    Method::POST,
                    &format!("/v1/keys/{id}/rotate"),
                    Some(json!({"grace_secs": grace_secs})),
                )
                .await?;
            if args.json {
                print(&k);
            } else {
                println!(
                    "Rotated key {id}. The new key:\n\n    {}\n",
                    k["key"].as_str().unwrap_or("-")
                );
                if grace_secs > 0 {
                    println!("The old key keeps working for {grace_secs}s.");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `sluice usage [KEY]`.
pub async fn usage(args: AdminArgs, key_id: Option<String>) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args)?;
    let value = match &key_id {
        Some(id) => {
            c.call(reqwest::Method::GET, &format!("/v1/keys/{id}/usage"), None)
                .await?
        }
        None => c.call(reqwest::Method::GET, "/v1/usage", None).await?,
    };
    if args.json || key_id.is_some() {
        print(&value);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<38} {:<20} {:>9} {:>12} {:>12} {:>11} {:>14}",
        "KEY", "NAME", "REQUESTS", "PROMPT TOK", "COMPL TOK", "COST USD", "BUDGET LEFT"
    );
    for r in value.as_array().into_iter().flatten() {
        println!(
            "{:<38} {:<20} {:>9} {:>12} {:>12} {:>11.4} {:>14}",
            r["key_id"].as_str().unwrap_or("-"),
            r["name"].as_str().unwrap_or("-"),
            r["requests"].as_i64().unwrap_or(0),
            r["prompt_tokens"].as_i64().unwrap_or(0),
            r["completion_tokens"].as_i64().unwrap_or(0),
            r["cost_usd"].as_f64().unwrap_or(0.0),
            r["budget_remaining_usd"]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |b| format!("{b:.4}")),
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_budget_specs() {
        let l = parse_limit("tokens=1000/1m").unwrap();
        assert_eq!(
            l,
            json!({"metric": "total_tokens", "limit": 1000.0, "window_secs": 60, "sliding": true})
        );
        let l = parse_limit("requests=10/1s,fixed").unwrap();
        assert_eq!(l["sliding"], false);
        assert!(parse_limit("tokens=1000").is_err());
        assert!(parse_limit("bogus=1/1m").is_err());
        let b = parse_budget("10/monthly", Some("cheap"), Some(0.8)).unwrap();
        assert_eq!(b["on_exhausted"]["model"], "cheap");
        assert!(parse_budget("10/yearly", None, None).is_err());
    }
}
