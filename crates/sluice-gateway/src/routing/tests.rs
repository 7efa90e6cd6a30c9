use super::*;

#[test]
fn wildcard_capture() {
    assert_eq!(capture("openai/*", "openai/gpt-4o"), Some("gpt-4o"));
    assert_eq!(capture("openai/*", "openai/"), None);
    assert_eq!(capture("gpt-*", "gpt-4o-mini"), Some("4o-mini"));
    assert_eq!(capture("*-latest", "claude-latest"), Some("claude"));
    assert_eq!(capture("exact", "exact"), Some(""));
    assert_eq!(capture("exact", "exactly"), None);
}

#[test]
fn upstream_names() {
    assert_eq!(
        upstream_name(None, "openai/*", "openai/gpt-4o", "gpt-4o"),
        "gpt-4o"
    );
    assert_eq!(upstream_name(None, "gpt-*", "gpt-4o", "4o"), "gpt-4o");
    assert_eq!(
        upstream_name(Some("llama-*"), "local/*", "local/3", "3"),
        "llama-3"
    );
    assert_eq!(upstream_name(Some("fixed"), "m", "m", ""), "fixed");
    assert_eq!(upstream_name(None, "m", "m", ""), "m");
}

#[test]
fn route_policy() {
    let mut r = RouteConfig::default_route();
    assert_eq!(apply_route_policy(&r, "a").unwrap(), "a");
    r.pinned_model = Some("p".into());
    assert_eq!(apply_route_policy(&r, "a").unwrap(), "p");
    r.on_model_mismatch = OnModelMismatch::Reject;
    assert_eq!(apply_route_policy(&r, "a").unwrap_err().status(), 400);
    assert_eq!(apply_route_policy(&r, "p").unwrap(), "p");
    r.pinned_model = None;
    r.allowed_models = Some(vec!["gpt-*".into()]);
    assert_eq!(apply_route_policy(&r, "claude").unwrap_err().status(), 403);
    assert_eq!(apply_route_policy(&r, "gpt-4o").unwrap(), "gpt-4o");
}
