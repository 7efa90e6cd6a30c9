//! Payload logging: request and response bodies kept with the record,
//! redacted and truncated, when `ledger.payloads` applies to the request's
//! route or key. Off by default.
//!
//! When the config enables payloads anywhere, the body reader arms a
//! [`Capture`] on the record (holding the request `Bytes`, no copy) and the
//! answer writers append what they send, up to the size limit. When the
//! record is finished, and only if the route or key qualifies, the bodies
//! are truncated, secrets and personal data found by the guardrails'
//! detectors ([`crate::guard::detect`]) are replaced by
//! `[REDACTED:<detector>]`, and the result goes into the record. Nothing is
//! kept for other requests.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use bytes::Bytes;
use sluice_store::Payload;

use crate::config::observe::PayloadConfig;
use crate::guard::detect::{Scanner, builtin_names};

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

/// Every built-in guardrail detector, compiled once.
static SCANNER: LazyLock<Option<Scanner>> = LazyLock::new(|| {
    let names: Vec<String> = builtin_names().map(str::to_owned).collect();
    match Scanner::build(&names, &[]) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "payload redaction detectors do not compile");
            None
        }
    }
});

/// Replaces every value the guardrails' built-in detectors find in `text`
/// with `[REDACTED:<detector>]`, counting per detector. Without a scanner
/// (it cannot fail to compile, but if it did) nothing is kept at all.
pub fn redact(text: &str, counts: &mut BTreeMap<String, u64>) -> String {
    let Some(scanner) = SCANNER.as_ref() else {
        return "[REDACTED:unavailable]".to_owned();
    };
    let mut hits = Vec::new();
    scanner.scan(text, &mut hits);
    if hits.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in hits {
        let name = &scanner.detectors()[h.detector].name;
        out.push_str(&text[at..h.start]);
        out.push_str("[REDACTED:");
        out.push_str(name);
        out.push(']');
        *counts.entry(name.clone()).or_default() += 1;
        at = h.end;
    }
    out.push_str(&text[at..]);
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
