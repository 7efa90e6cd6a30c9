//! Payload logging: request and response bodies kept with the record,
//! redacted and truncated, when `ledger.payloads` applies to the request's
//! route or key. Off by default.
//!
//! When the config enables payloads anywhere, the body reader arms a
//! [`Capture`] on the record (holding the request `Bytes`, no copy) and the
//! answer writers append what they send, up to the size limit. When the
//! record is finished, and only if the route or key qualifies, the bodies
//! are truncated, secrets and personal data are replaced by
//! `[REDACTED:<detector>]`, and the result goes into the record. Nothing is
//! kept for other requests.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use bytes::Bytes;
use regex::Regex;
use sluice_store::Payload;

use crate::config::observe::PayloadConfig;

/// What a request has captured so far.
#[derive(Debug)]
pub struct Capture {
    cfg: PayloadConfig,
    request: Bytes,
    response: Vec<u8>,
    truncated: bool,
}

impl Capture {
    /// Arms a capture holding the request body.
    pub fn new(cfg: PayloadConfig, request: Bytes) -> Self {
        Self {
            cfg,
            request,
            response: Vec::new(),
            truncated: false,
        }
    }

    /// Appends response bytes, up to the limit.
    pub fn push_response(&mut self, chunk: &[u8]) {
        let room = self.cfg.max_bytes.saturating_sub(self.response.len());
        if chunk.len() > room {
            self.truncated = true;
        }
        self.response
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// The payload to store, if `route` or `key` qualifies.
    pub fn finish(self, route: &str, key: Option<&str>) -> Option<Payload> {
        if !self.cfg.applies(route, key) {
            return None;
        }
        let mut truncated = self.truncated;
        let mut cut = |b: &[u8]| {
            let end = b.len().min(self.cfg.max_bytes);
            truncated |= end < b.len();
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        let request = cut(&self.request);
        let response = cut(&self.response);
        let mut redacted = BTreeMap::new();
        let request = redact(&request, &mut redacted);
        let response = redact(&response, &mut redacted);
        Some(Payload {
            request,
            response,
            truncated,
            redacted,
        })
    }
}

/// Detectors applied before storage, most specific first.
static DETECTORS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "private_key",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
        ),
        ("anthropic_key", r"sk-ant-[A-Za-z0-9_\-]{20,}"),
        ("openai_key", r"sk-(proj-)?[A-Za-z0-9_\-]{20,}"),
        ("aws_access_key", r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
        ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
        ("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b"),
        ("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
        ("stripe_key", r"\b[rs]k_(live|test)_[A-Za-z0-9]{16,}\b"),
        ("bearer_token", r"(?i)bearer\s+[A-Za-z0-9_\-\.=]{20,}"),
        (
            "email",
            r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b",
        ),
        ("credit_card", r"\b(?:\d[ \-]?){13,19}\b"),
    ]
    .into_iter()
    .filter_map(|(name, re)| Regex::new(re).ok().map(|r| (name, r)))
    .collect()
});

/// Luhn check of the digits in `s`.
fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                (d * 2) % 9 + u32::from(*d == 9) * 9
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Replaces every detected value in `text`, counting per detector.
pub fn redact(text: &str, counts: &mut BTreeMap<String, u64>) -> String {
    let mut out = text.to_owned();
    for (name, re) in DETECTORS.iter() {
        if !re.is_match(&out) {
            continue;
        }
        let mut n = 0;
        let replaced = re.replace_all(&out, |c: &regex::Captures<'_>| {
            let m = &c[0];
            if *name == "credit_card" && !luhn(m) {
                return m.to_owned();
            }
            n += 1;
            format!("[REDACTED:{name}]")
        });
        let replaced = replaced.into_owned();
        if n > 0 {
            *counts.entry((*name).to_owned()).or_default() += n;
            out = replaced;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max: usize) -> PayloadConfig {
        PayloadConfig {
            enabled: false,
            routes: vec!["support".into()],
            keys: vec!["key_1".into()],
            max_bytes: max,
        }
    }

    #[test]
    fn redacts_secrets_and_personal_data() {
        let mut c = BTreeMap::new();
        let out = redact(
            "key sk-proj-abcdefghijklmnopqrstuvwxyz012345 mail bob@example.com card 4111 1111 1111 1111 not 1234 5678 9012 3456 aws AKIAIOSFODNN7EXAMPLE",
            &mut c,
        );
        assert!(!out.contains("sk-proj-abc"));
        assert!(!out.contains("bob@example.com"));
        assert!(!out.contains("4111 1111"));
        assert!(out.contains("1234 5678 9012 3456"), "fails Luhn: kept");
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(c["openai_key"], 1);
        assert_eq!(c["email"], 1);
        assert_eq!(c["credit_card"], 1);
        assert_eq!(c["aws_access_key"], 1);
    }

    #[test]
    fn kept_only_where_configured_and_cut_at_the_limit() {
        let mut cap = Capture::new(cfg(10), Bytes::from_static(b"0123456789abcdef"));
        cap.push_response(b"short");
        assert!(
            Capture::new(cfg(10), Bytes::new())
                .finish("default", None)
                .is_none()
        );
        let p = cap.finish("support", None).unwrap();
        assert_eq!(p.request, "0123456789");
        assert_eq!(p.response, "short");
        assert!(p.truncated);
        let by_key = Capture::new(cfg(10), Bytes::from_static(b"{}"));
        assert!(by_key.finish("default", Some("key_1")).is_some());
    }
}
