use sluice_protocol::Usage;
use sluice_store::{Attempt, Outcome, RequestRecord};

use super::Metrics;
use crate::ledger::Counters;

fn record(model: &str, outcome: Outcome, status: u16) -> RequestRecord {
    let mut r = RequestRecord::new("id".into(), 1, "POST", "/v1/chat/completions");
    r.meta.request_model = Some(model.into());
    r.meta.provider_name = Some("mock".into());
    r.meta.endpoint = "chat".into();
    r.outcome = outcome;
    r.status = status;
    r.latency_ms = 120.0;
    r.ttft_ms = Some(20.0);
    r.gateway_ms = Some(0.3);
    r.usage = Some(Usage {
        prompt_tokens: 10,
        completion_tokens: 11,
        ..Usage::default()
    });
    r.cost_usd = Some(0.002);
    r
}

#[test]
fn counts_render_in_exposition_format() {
    let m = Metrics::default();
    m.observe(&record("gpt-a", Outcome::Ok, 200));
    let mut r = record("gpt-a", Outcome::Ok, 200);
    r.attempts.push(Attempt {
        provider: "mock".into(),
        upstream_model: "m".into(),
        status: Some(500),
        outcome: "upstream_server".into(),
        latency_ms: 3.0,
        reason: None,
        usage: None,
        start_ms: None,
    });
    r.attempts.push(Attempt {
        provider: "backup".into(),
        upstream_model: "m".into(),
        status: Some(200),
        outcome: "ok".into(),
        latency_ms: 3.0,
        reason: Some("fallback_after_upstream_server".into()),
        usage: None,
        start_ms: None,
    });
    m.observe(&r);
    let mut limited = record("gpt-a", Outcome::RateLimited, 429);
    limited.usage = None;
    m.observe(&limited);
    // A bad model name never becomes a label.
    let mut bad = record("made-up-model-1234", Outcome::BadRequest, 404);
    bad.meta.provider_name = None;
    m.observe(&bad);

    let text = m.render(&Counters::default());
    assert!(text.contains("# TYPE sluice_requests_total counter"));
    assert!(text.contains(
        "sluice_requests_total{provider=\"mock\",model=\"gpt-a\",route=\"default\",endpoint=\"chat\",status_class=\"2xx\",outcome=\"ok\"} 2"
    ));
    assert!(
        text.contains(
            "sluice_tokens_total{provider=\"mock\",model=\"gpt-a\",type=\"completion\"} 33"
        )
    );
    assert!(text.contains("sluice_rejections_total{reason=\"rate_limited\"} 1"));
    assert!(text.contains("sluice_fallbacks_total{provider=\"backup\",upstream_model=\"m\"} 1"));
    assert!(!text.contains("made-up-model"));
    assert!(text.contains("sluice_request_duration_seconds_bucket{provider=\"mock\",model=\"gpt-a\",route=\"default\",le=\"0.25\"} 3"));
    assert!(text.contains("sluice_request_duration_seconds_bucket{provider=\"mock\",model=\"gpt-a\",route=\"default\",le=\"0.1\"} 0"));
    assert!(text.contains("# TYPE sluice_time_per_output_token_seconds histogram"));
    assert!(text.contains("sluice_ledger_spool_full 0"));
}
