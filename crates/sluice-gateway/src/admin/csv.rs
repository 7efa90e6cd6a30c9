//! CSV rendering of log lines for `GET /v1/logs/export?format=csv`
//! (RFC 4180: comma-separated, CRLF line ends, fields quoted when needed).

use sluice_store::db::analytics::LogRow;

const HEADER: &str = "request_id,started_at_ms,key_id,consumer,team,route,endpoint,model,provider,\
upstream_model,status,outcome,stream,cache,prompt_tokens,completion_tokens,total_tokens,cost_usd,\
latency_ms,ttft_ms";

fn field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The rows as one CSV document with a header line.
pub fn render(rows: &[LogRow]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * 200);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for r in rows {
        let cells = [
            r.request_id.clone(),
            r.started_at_ms.to_string(),
            opt(&r.key_id),
            opt(&r.consumer),
            opt(&r.team),
            opt(&r.route),
            opt(&r.endpoint),
            opt(&r.model),
            opt(&r.provider),
            opt(&r.upstream_model),
            r.status.to_string(),
            r.outcome.clone(),
            r.stream.to_string(),
            opt(&r.cache),
            r.prompt_tokens.to_string(),
            r.completion_tokens.to_string(),
            r.total_tokens.to_string(),
            opt(&r.cost_usd),
            r.latency_ms.to_string(),
            opt(&r.ttft_ms),
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}
