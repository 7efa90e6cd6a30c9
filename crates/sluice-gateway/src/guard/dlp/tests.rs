use std::time::{Duration, Instant};

use super::*;
use crate::guard::detect::builtin_names;

fn policy(action: Action) -> Dlp {
    let names: Vec<String> = builtin_names().map(str::to_owned).collect();
    let scanner = Scanner::build(&names, &[]).unwrap();
    let actions = vec![action; scanner.detectors().len()];
    Dlp {
        scanner,
        actions,
        input: true,
        output: false,
    }
}

#[test]
fn redacts_and_counts() {
    let d = policy(Action::Redact);
    let mut f = d.findings();
    let out = d
        .apply(
            "a sk-canary1234567890abcdefghij and jane@example.com",
            &mut f,
            &mut Vault::default(),
            &mut Vec::new(),
        )
        .unwrap();
    assert_eq!(out, "a [REDACTED_OPENAI_KEY] and [REDACTED_EMAIL]");
    let named: Vec<_> = f.named(&d).collect();
    assert_eq!(named, vec![("openai_key", 1), ("email", 1)]);
    assert!(f.changed && !f.blocked);
}

#[test]
fn restore_round_trips() {
    let d = policy(Action::Restore);
    let mut f = d.findings();
    let mut vault = Vault::default();
    let out = d
        .apply(
            "mail a@x.io, b@y.io and a@x.io",
            &mut f,
            &mut vault,
            &mut Vec::new(),
        )
        .unwrap();
    assert_eq!(out, "mail [EMAIL_1], [EMAIL_2] and [EMAIL_1]");
    assert_eq!(
        vault.restore("Sent to [EMAIL_2] and [EMAIL_1].").unwrap(),
        "Sent to b@y.io and a@x.io."
    );
    assert!(vault.restore("nothing").is_none());
}

#[test]
fn block_and_log_change_nothing() {
    for (action, blocked) in [(Action::Block, true), (Action::Log, false)] {
        let d = policy(action);
        let mut f = d.findings();
        let out = d.apply(
            "key sk-canary1234567890abcdefghij",
            &mut f,
            &mut Vault::default(),
            &mut Vec::new(),
        );
        assert!(out.is_none());
        assert_eq!(f.blocked, blocked);
        assert_eq!(f.named(&d).collect::<Vec<_>>(), vec![("openai_key", 1)]);
    }
}

/// The 100 KB figure of the issue: prints the median time of redacting a
/// 100 KB prompt with every built-in detector. Under 1 ms is asserted in
/// optimised builds (`cargo test --release`); debug builds only get a
/// loose bound.
#[test]
fn redaction_of_100kb_is_fast() {
    let d = policy(Action::Redact);
    let line = "The quarterly report shows revenue grew 12% while costs fell; contact \
                jane.doe@example.com or see ticket 4411 for details. ";
    let mut text = String::with_capacity(100 * 1024);
    while text.len() < 100 * 1024 {
        text.push_str(line);
        if text.len().is_multiple_of(7) {
            text.push_str("key sk-canary1234567890abcdefghij ");
        }
    }
    let mut hits = Vec::new();
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let mut f = d.findings();
            let mut vault = Vault::default();
            let t = Instant::now();
            let out = d.apply(&text, &mut f, &mut vault, &mut hits);
            let e = t.elapsed();
            assert!(out.is_some());
            e
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "redaction of {} bytes: median {:?} (min {:?})",
        text.len(),
        median,
        times[0]
    );
    let bound = if cfg!(debug_assertions) {
        Duration::from_millis(100)
    } else {
        Duration::from_millis(1)
    };
    assert!(median < bound, "median {median:?}");
}
