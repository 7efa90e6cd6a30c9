//! How the dashboard writes numbers, money, durations and times, and the
//! time ranges its pages offer.

use crate::admin::analytics::Stats;

/// The time ranges a page can show: `(name, label, milliseconds)`.
pub const RANGES: &[(&str, &str, i64)] = &[
    ("15m", "Last 15 minutes", 15 * 60_000),
    ("1h", "Last hour", 3_600_000),
    ("6h", "Last 6 hours", 6 * 3_600_000),
    ("24h", "Last 24 hours", 24 * 3_600_000),
    ("7d", "Last 7 days", 7 * 24 * 3_600_000),
    ("30d", "Last 30 days", 30 * 24 * 3_600_000),
];

/// The range named `name` (default: the last hour), as its name and length.
pub fn range(name: Option<&str>) -> (&'static str, i64) {
    RANGES
        .iter()
        .find(|(n, _, _)| Some(*n) == name)
        .or_else(|| RANGES.get(1))
        .map_or(("1h", 3_600_000), |(n, _, ms)| (*n, *ms))
}

/// US dollars with six decimals (`$0.000123`).
pub fn usd(v: f64) -> String {
    format!("${v:.6}")
}

/// Milliseconds, or `—` when there is no value.
pub fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} ms"))
}

/// A share as a percentage, or `—` when `of` is zero.
pub fn percent(part: u64, of: u64) -> String {
    if of == 0 {
        return "—".to_owned();
    }
    format!("{:.1}%", part as f64 * 100.0 / of as f64)
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The overview's headline numbers, written out.
#[derive(Debug, Clone)]
pub struct Totals {
    pub requests: String,
    pub prompt_tokens: String,
    pub completion_tokens: String,
    pub cost: String,
    pub error_rate: String,
    pub latency_p50: String,
    pub latency_p95: String,
    pub ttft_p50: String,
    pub cache_hit_rate: String,
}

impl From<&Stats> for Totals {
    fn from(s: &Stats) -> Self {
        Self {
            requests: s.requests.to_string(),
            prompt_tokens: s.prompt_tokens.to_string(),
            completion_tokens: s.completion_tokens.to_string(),
            cost: usd(s.cost_usd),
            error_rate: percent(s.errors, s.requests),
            latency_p50: ms(s.latency_ms.p50),
            latency_p95: ms(s.latency_ms.p95),
            ttft_p50: ms(s.ttft_ms.p50),
            cache_hit_rate: percent(s.cache_hits, s.cache_lookups),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000_123), "2023-11-14 22:13:20");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn ranges_default_to_an_hour() {
        assert_eq!(range(None), ("1h", 3_600_000));
        assert_eq!(range(Some("7d")).0, "7d");
        assert_eq!(range(Some("nonsense")).0, "1h");
    }
}
