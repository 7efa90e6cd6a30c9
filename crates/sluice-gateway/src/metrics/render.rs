//! The Prometheus text exposition format (version 0.0.4), written when
//! `GET /metrics` is scraped.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{Labels, Metrics, bounds_of};
use crate::ledger::Counters;

const HELP: &[(&str, &str)] = &[
    ("sluice_requests_total", "Requests finished, by outcome."),
    ("sluice_tokens_total", "Tokens, by type."),
    ("sluice_cost_usd_total", "Spend in US dollars."),
    ("sluice_cache_total", "Cache lookups, by result."),
    ("sluice_rejections_total", "Requests refused by a policy."),
    (
        "sluice_upstream_attempts_total",
        "Upstream attempts, by outcome.",
    ),
    ("sluice_retries_total", "Attempts that were retries."),
    ("sluice_fallbacks_total", "Attempts that were fallbacks."),
    (
        "sluice_request_duration_seconds",
        "Time until the response ended.",
    ),
    (
        "sluice_time_to_first_token_seconds",
        "Time until the first streamed chunk.",
    ),
    (
        "sluice_time_per_output_token_seconds",
        "Streaming time per output token after the first.",
    ),
    (
        "sluice_gateway_overhead_seconds",
        "Time the gateway added before the response started.",
    ),
];

fn help(name: &str) -> &'static str {
    HELP.iter().find(|(n, _)| *n == name).map_or("", |(_, h)| h)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(l: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn num(v: f64) -> String {
    if v.is_infinite() {
        "+Inf".into()
    } else {
        format!("{v}")
    }
}

impl Metrics {
    /// The exposition text, with the ledger's own gauges.
    pub fn render(&self, ledger: &Counters) -> String {
        let mut out = String::with_capacity(8192);
        let f = self.families.lock();
        let mut names: Vec<_> = f.counters.keys().copied().collect();
        names.sort_unstable();
        for name in names {
            let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} counter", help(name));
            let mut series: Vec<_> = f.counters[name].iter().collect();
            series.sort_by(|a, b| a.0.cmp(b.0));
            for (l, v) in series {
                let _ = writeln!(out, "{name}{} {}", labels(l, None), num(*v));
            }
        }
        let mut names: Vec<_> = f.hists.keys().copied().collect();
        names.sort_unstable();
        for name in names {
            let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", help(name));
            let bounds = bounds_of(name);
            let mut series: Vec<_> = f.hists[name].iter().collect();
            series.sort_by(|a, b| a.0.cmp(b.0));
            for (l, h) in series {
                for (b, c) in bounds.iter().zip(&h.counts) {
                    let le = Some(("le", num(*b)));
                    let _ = writeln!(out, "{name}_bucket{} {c}", labels(l, le));
                }
                let inf = Some(("le", "+Inf".to_owned()));
                let _ = writeln!(out, "{name}_bucket{} {}", labels(l, inf), h.count);
                let _ = writeln!(out, "{name}_sum{} {}", labels(l, None), num(h.sum));
                let _ = writeln!(out, "{name}_count{} {}", labels(l, None), h.count);
            }
        }
        drop(f);
        let gauges = [
            (
                "sluice_ledger_submitted_total",
                "counter",
                "Records submitted to the ledger.",
                ledger.submitted.load(Ordering::Relaxed),
            ),
            (
                "sluice_ledger_written_total",
                "counter",
                "Records written to the database.",
                ledger.written.load(Ordering::Relaxed),
            ),
            (
                "sluice_ledger_spooled_total",
                "counter",
                "Records spooled to disk while the database was down or slow.",
                ledger.spooled.load(Ordering::Relaxed),
            ),
            (
                "sluice_ledger_replayed_total",
                "counter",
                "Spooled records written back.",
                ledger.replayed.load(Ordering::Relaxed),
            ),
            (
                "sluice_ledger_overflowed_total",
                "counter",
                "Records refused because a ledger queue was full.",
                ledger.overflowed.load(Ordering::Relaxed),
            ),
            (
                "sluice_ledger_spool_bytes",
                "gauge",
                "Bytes waiting in the spool.",
                ledger.spool_bytes.load(Ordering::Relaxed),
            ),
            (
                "sluice_ledger_spool_full",
                "gauge",
                "1 while the spool is full.",
                u64::from(ledger.spool_full.load(Ordering::Relaxed)),
            ),
            (
                "sluice_ledger_database_down",
                "gauge",
                "1 while ledger writes to the database fail.",
                u64::from(ledger.sink_down.load(Ordering::Relaxed)),
            ),
        ];
        let in_flight = self.in_flight.load(Ordering::Relaxed) as u64;
        let _ = writeln!(
            out,
            "# HELP sluice_in_flight_requests Requests being served now.\n# TYPE sluice_in_flight_requests gauge\nsluice_in_flight_requests {in_flight}"
        );
        for (name, kind, help, v) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        out
    }
}
