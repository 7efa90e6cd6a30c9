//! W3C Trace Context (`traceparent`): read from the client, made for each
//! request, and sent on every upstream call and back to the client.
//!
//! The record layer scopes the request's `traceparent` in a task-local
//! ([`CURRENT`]) around the handler; [`crate::provider::http::send`] adds
//! it to each upstream request made within that scope.

use std::sync::Arc;

tokio::task_local! {
    /// The `traceparent` of the request being served.
    pub static CURRENT: Arc<str>;
}

/// The parts of a valid `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub trace_id: String,
    pub span_id: String,
}

/// Parses `00-<32 hex>-<16 hex>-<2 hex>`; anything else (or all-zero ids)
/// is ignored, as the spec requires.
pub fn parse(value: &str) -> Option<Parent> {
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if zero(trace) || zero(span) {
        return None;
    }
    Some(Parent {
        trace_id: trace.to_owned(),
        span_id: span.to_owned(),
    })
}

/// A new trace id (32 hex digits, never all zero).
pub fn new_trace_id() -> String {
    format!("{:032x}", rand::random::<u128>().max(1))
}

/// A new span id (16 hex digits, never all zero).
pub fn new_span_id() -> String {
    format!("{:016x}", rand::random::<u64>().max(1))
}

/// The `traceparent` naming `span_id` in `trace_id`, sampled.
pub fn format(trace_id: &str, span_id: &str) -> String {
    format!("00-{trace_id}-{span_id}-01")
}

/// The current request's `traceparent`, inside a request's scope.
pub fn current() -> Option<Arc<str>> {
    CURRENT.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_ignores_invalid() {
        let p = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(p.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p.span_id, "00f067aa0ba902b7");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        let made = format(&new_trace_id(), &new_span_id());
        assert!(parse(&made).is_some());
    }
}
