//! Request records as OpenTelemetry spans, encoded as an OTLP
//! `ExportTraceServiceRequest` in protobuf or JSON. Pure: no I/O.
//!
//! Each record becomes one SERVER span (the request) with one CLIENT child
//! per upstream attempt, named and attributed after the OpenTelemetry GenAI
//! semantic conventions (`gen_ai.operation.name`, `gen_ai.request.model`,
//! `gen_ai.usage.input_tokens`, ...). The protobuf encoder writes just the
//! fields these messages use (field numbers from
//! `opentelemetry/proto/trace/v1/trace.proto`).

use serde_json::{Value, json};
use sluice_store::{Outcome, RequestRecord};

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Double(f64),
}

/// A span, ready to encode.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// 2 = SERVER, 3 = CLIENT.
    pub kind: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: Vec<(&'static str, Val)>,
    /// The error, when the span failed.
    pub error: Option<String>,
}

fn operation(endpoint: &str) -> &str {
    match endpoint {
        "chat" | "messages" | "responses" | "count_tokens" => "chat",
        "completions" => "text_completion",
        "" => "request",
        other => other,
    }
}

/// The spans of one record (none when it has no trace context).
pub fn spans(r: &RequestRecord) -> Vec<Span> {
    let (Some(trace_id), Some(span_id)) = (&r.trace_id, &r.span_id) else {
        return Vec::new();
    };
    let op = operation(&r.meta.endpoint);
    let start_ns = r.started_at_ms.saturating_mul(1_000_000);
    let ns = |ms: f64| (ms.max(0.0) * 1e6) as u64;
    let mut attrs = vec![
        ("gen_ai.operation.name", Val::Str(op.to_owned())),
        ("http.request.method", Val::Str(r.method.clone())),
        ("url.path", Val::Str(r.path.clone())),
        ("http.response.status_code", Val::Int(i64::from(r.status))),
        ("sluice.request_id", Val::Str(r.request_id.clone())),
        ("sluice.outcome", Val::Str(r.outcome.as_str().to_owned())),
    ];
    let mut opt = |k: &'static str, v: &Option<String>| {
        if let Some(v) = v {
            attrs.push((k, Val::Str(v.clone())));
        }
    };
    opt("gen_ai.request.model", &r.meta.request_model);
    opt("gen_ai.response.model", &r.meta.response_model);
    opt("gen_ai.provider.name", &r.meta.provider_name);
    opt("gen_ai.system", &r.meta.provider_name);
    opt("sluice.key_id", &r.identity.key_id);
    opt("sluice.team", &r.identity.team);
    opt("sluice.cache", &r.cache);
    if !r.meta.route.is_empty() {
        attrs.push(("sluice.route", Val::Str(r.meta.route.clone())));
    }
    if let Some(u) = &r.usage {
        attrs.push((
            "gen_ai.usage.input_tokens",
            Val::Int(u.prompt_tokens as i64),
        ));
        attrs.push((
            "gen_ai.usage.output_tokens",
            Val::Int(u.completion_tokens as i64),
        ));
        if u.cached_read_tokens > 0 {
            attrs.push((
                "gen_ai.usage.cache_read.input_tokens",
                Val::Int(u.cached_read_tokens as i64),
            ));
        }
    }
    if let Some(c) = r.cost_usd {
        attrs.push(("sluice.cost_usd", Val::Double(c)));
    }
    if let Some(t) = r.ttft_ms {
        attrs.push(("sluice.ttft_ms", Val::Double(t)));
    }
    let error = (r.outcome != Outcome::Ok).then(|| {
        let kind = r
            .error
            .clone()
            .unwrap_or_else(|| r.outcome.as_str().to_owned());
        attrs.push(("error.type", Val::Str(kind.clone())));
        kind
    });
    let mut out = vec![Span {
        trace_id: trace_id.clone(),
        span_id: span_id.clone(),
        parent_span_id: r.parent_span_id.clone(),
        name: match &r.meta.request_model {
            Some(m) => format!("{op} {m}"),
            None => op.to_owned(),
        },
        kind: 2,
        start_ns,
        end_ns: start_ns + ns(r.latency_ms),
        attrs,
        error,
    }];
    for a in &r.attempts {
        let begin = start_ns + ns(a.start_ms.unwrap_or(0.0));
        let mut attrs = vec![
            ("gen_ai.operation.name", Val::Str(op.to_owned())),
            ("gen_ai.request.model", Val::Str(a.upstream_model.clone())),
            ("gen_ai.provider.name", Val::Str(a.provider.clone())),
            ("gen_ai.system", Val::Str(a.provider.clone())),
            ("sluice.attempt.outcome", Val::Str(a.outcome.clone())),
        ];
        if let Some(s) = a.status {
            attrs.push(("http.response.status_code", Val::Int(i64::from(s))));
        }
        if let Some(reason) = &a.reason {
            attrs.push(("sluice.attempt.reason", Val::Str(reason.clone())));
        }
        let error = (a.outcome != "ok").then(|| {
            attrs.push(("error.type", Val::Str(a.outcome.clone())));
            a.outcome.clone()
        });
        out.push(Span {
            trace_id: trace_id.clone(),
            span_id: super::context::new_span_id(),
            parent_span_id: Some(span_id.clone()),
            name: format!("{op} {}", a.upstream_model),
            kind: 3,
            start_ns: begin,
            end_ns: begin + ns(a.latency_ms),
            attrs,
            error,
        });
    }
    out
}

// ---- protobuf ----

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn tag(buf: &mut Vec<u8>, field: u64, wire: u64) {
    varint(buf, (field << 3) | wire);
}

fn bytes_field(buf: &mut Vec<u8>, field: u64, data: &[u8]) {
    tag(buf, field, 2);
    varint(buf, data.len() as u64);
    buf.extend_from_slice(data);
}

fn message(buf: &mut Vec<u8>, field: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    f(&mut inner);
    bytes_field(buf, field, &inner);
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn key_value(buf: &mut Vec<u8>, field: u64, key: &str, v: &Val) {
    message(buf, field, |kv| {
        bytes_field(kv, 1, key.as_bytes());
        message(kv, 2, |any| match v {
            Val::Str(s) => bytes_field(any, 1, s.as_bytes()),
            Val::Int(i) => {
                tag(any, 3, 0);
                varint(any, *i as u64);
            }
            Val::Double(d) => {
                tag(any, 4, 1);
                any.extend_from_slice(&d.to_le_bytes());
            }
        });
    });
}

fn span_proto(buf: &mut Vec<u8>, s: &Span) {
    message(buf, 2, |p| {
        bytes_field(p, 1, &hex_bytes(&s.trace_id));
        bytes_field(p, 2, &hex_bytes(&s.span_id));
        if let Some(parent) = &s.parent_span_id {
            bytes_field(p, 4, &hex_bytes(parent));
        }
        bytes_field(p, 5, s.name.as_bytes());
        tag(p, 6, 0);
        varint(p, s.kind);
        tag(p, 7, 1);
        p.extend_from_slice(&s.start_ns.to_le_bytes());
        tag(p, 8, 1);
        p.extend_from_slice(&s.end_ns.to_le_bytes());
        for (k, v) in &s.attrs {
            key_value(p, 9, k, v);
        }
        message(p, 15, |st| match &s.error {
            Some(e) => {
                bytes_field(st, 2, e.as_bytes());
                tag(st, 3, 0);
                varint(st, 2);
            }
            None => {
                tag(st, 3, 0);
                varint(st, 1);
            }
        });
    });
}

/// An `ExportTraceServiceRequest` in protobuf.
pub fn encode_proto(service: &str, spans: &[Span]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256 * spans.len() + 128);
    message(&mut buf, 1, |rs| {
        message(rs, 1, |res| {
            key_value(res, 1, "service.name", &Val::Str(service.to_owned()));
        });
        message(rs, 2, |ss| {
            message(ss, 1, |scope| {
                bytes_field(scope, 1, b"sluice");
                bytes_field(scope, 2, env!("CARGO_PKG_VERSION").as_bytes());
            });
            for s in spans {
                span_proto(ss, s);
            }
        });
    });
    buf
}

// ---- JSON ----

fn json_val(v: &Val) -> Value {
    match v {
        Val::Str(s) => json!({"stringValue": s}),
        Val::Int(i) => json!({"intValue": i.to_string()}),
        Val::Double(d) => json!({"doubleValue": d}),
    }
}

/// An `ExportTraceServiceRequest` in OTLP/JSON (ids in hex).
pub fn encode_json(service: &str, spans: &[Span]) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut v = json!({
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "name": s.name,
                "kind": s.kind,
                "startTimeUnixNano": s.start_ns.to_string(),
                "endTimeUnixNano": s.end_ns.to_string(),
                "attributes": s.attrs.iter().map(|(k, v)| json!({"key": k, "value": json_val(v)})).collect::<Vec<_>>(),
                "status": match &s.error {
                    Some(e) => json!({"code": 2, "message": e}),
                    None => json!({"code": 1}),
                },
            });
            if let Some(p) = &s.parent_span_id {
                v["parentSpanId"] = json!(p);
            }
            v
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "sluice", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_protocol::Usage;
    use sluice_store::Attempt;

    fn record() -> RequestRecord {
        let mut r = RequestRecord::new(
            "req-1".into(),
            1_700_000_000_000,
            "POST",
            "/v1/chat/completions",
        );
        r.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        r.span_id = Some("00f067aa0ba902b7".into());
        r.parent_span_id = Some("1111111111111111".into());
        r.meta.endpoint = "chat".into();
        r.meta.request_model = Some("gpt".into());
        r.meta.provider_name = Some("openai".into());
        r.status = 200;
        r.latency_ms = 250.0;
        r.usage = Some(Usage {
            prompt_tokens: 12,
            completion_tokens: 30,
            ..Usage::default()
        });
        r.attempts.push(Attempt {
            provider: "openai".into(),
            upstream_model: "gpt-4o".into(),
            status: Some(200),
            outcome: "ok".into(),
            latency_ms: 200.0,
            reason: None,
            usage: None,
            start_ms: Some(10.0),
        });
        r
    }

    #[test]
    fn a_record_is_a_server_span_with_client_children() {
        let s = spans(&record());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "chat gpt");
        assert_eq!(s[0].kind, 2);
        assert_eq!(s[0].end_ns - s[0].start_ns, 250_000_000);
        assert!(
            s[0].attrs
                .contains(&("gen_ai.usage.input_tokens", Val::Int(12)))
        );
        assert_eq!(s[1].parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(s[1].start_ns - s[0].start_ns, 10_000_000);
        assert!(
            s[1].attrs
                .contains(&("gen_ai.request.model", Val::Str("gpt-4o".into())))
        );
        let proto = encode_proto("sluice", &s);
        // The trace id's bytes are in the message, as bytes, not hex.
        let id = hex_bytes("4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(proto.windows(16).any(|w| w == id.as_slice()));
        let json = encode_json("sluice", &s);
        let spans = &json["resourceSpans"][0]["scopeSpans"][0]["spans"];
        assert_eq!(spans[0]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(spans[1]["parentSpanId"], "00f067aa0ba902b7");
    }

    #[test]
    fn varints_encode_as_protobuf_does() {
        let mut b = Vec::new();
        varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
    }
}
