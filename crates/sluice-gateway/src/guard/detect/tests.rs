use super::*;

fn all() -> Scanner {
    let names: Vec<String> = builtin_names().map(str::to_owned).collect();
    Scanner::build(&names, &[("ticket".into(), r"TICKET-[0-9]{4}".into())]).unwrap()
}

fn found(s: &Scanner, text: &str) -> Vec<String> {
    let mut hits = Vec::new();
    s.scan(text, &mut hits);
    hits.iter()
        .map(|h| s.detectors()[h.detector].name.clone())
        .collect()
}

#[test]
fn finds_each_builtin() {
    let s = all();
    let cases = [
        ("key sk-canary1234567890abcdefghij here", "openai_key"),
        ("sk-proj-abcdefghijklmnopqrstuvwx", "openai_key"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "anthropic_key"),
        ("AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
        ("xoxb-1234567890-abcdefghij", "slack_token"),
        ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "google_api_key"),
        ("sk_live_abcdefghijklmnop1234", "stripe_key"),
        (
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc123XYZ",
            "bearer_token",
        ),
        ("card 4111 1111 1111 1111 ok", "credit_card"),
        ("mail jane.doe@example.com now", "email"),
        ("call +1 415-555-2671 today", "phone"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
        ("host 192.168.10.1 up", "ip_address"),
        ("see TICKET-1234", "ticket"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "private_key",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(found(&s, text), vec![want.to_owned()], "{text}");
    }
}

#[test]
fn checks_reject_lookalikes() {
    let s = all();
    assert!(
        found(&s, "order 4111 1111 1111 1112").is_empty(),
        "Luhn fails"
    );
    assert!(
        found(&s, "GB00 WEST 1234 5698 7654 32").is_empty(),
        "mod 97 fails"
    );
    assert!(
        found(&s, "bearer aaaaaaaaaaaaaaaaaaaaaaaa").is_empty(),
        "low entropy"
    );
    assert!(found(&s, "plain text, nothing here. 3.14 and 42").is_empty());
}

#[test]
fn unknown_detector_is_refused() {
    let e = Scanner::build(&["nope".into()], &[]).unwrap_err();
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn non_ascii_text_is_fine() {
    let s = all();
    assert_eq!(
        found(&s, "clé: sk-canary1234567890abcdefghij — merci"),
        vec!["openai_key".to_owned()]
    );
}
