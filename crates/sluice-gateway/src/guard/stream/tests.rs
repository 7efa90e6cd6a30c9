use futures_util::StreamExt;
use serde_json::json;

use super::*;
use crate::guard::body::chunk_text;
use crate::guard::detect::Scanner;
use crate::guard::dlp::{Action, Dlp};
use crate::provider::Chunk;

fn chunk(text: &str) -> Result<Chunk, Error> {
    Ok(Chunk {
        data: Bytes::from(
            json!({"choices": [{"index": 0, "delta": {"content": text}}]}).to_string(),
        ),
        usage: None,
        usage_only: false,
    })
}

fn record() -> RecordHandle {
    let (ledger, _task) = crate::ledger::Ledger::start_many(Vec::new());
    RecordHandle::start(ledger, "POST", "/t")
}

fn dlp(action: Action) -> Arc<Policy> {
    let scanner = Scanner::build(&["openai_key".into(), "email".into()], &[]).unwrap();
    Arc::new(Policy {
        name: "dlp".into(),
        kind: Kind::Dlp(Dlp {
            actions: vec![action; scanner.detectors().len()],
            scanner,
            input: false,
            output: true,
        }),
    })
}

async fn run(pieces: &[&str], watched: Vec<Arc<Policy>>, vault: Vault) -> (String, Option<Error>) {
    let inner = Box::pin(futures_util::stream::iter(
        pieces.iter().map(|p| chunk(p)).collect::<Vec<_>>(),
    ));
    let mut s = guard(inner, watched, vault, record());
    let mut text = String::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(c) => {
                let v: Value = serde_json::from_slice(&c.data).unwrap();
                text.push_str(&chunk_text(&v));
            }
            Err(e) => return (text, Some(e)),
        }
    }
    (text, None)
}

#[tokio::test]
async fn placeholders_split_over_chunks_are_restored() {
    let mut vault = Vault::default();
    let d = dlp(Action::Restore);
    let Kind::Dlp(inner) = &d.kind else {
        unreachable!()
    };
    let mut f = inner.findings();
    let sent = inner
        .apply("a@b.io", &mut f, &mut vault, &mut Vec::new())
        .unwrap();
    assert_eq!(sent, "[EMAIL_1]");
    let (text, err) = run(&["Mail ", "[EMA", "IL_", "1] now", "."], Vec::new(), vault).await;
    assert!(err.is_none());
    assert_eq!(text, "Mail a@b.io now.");
}

#[tokio::test]
async fn secrets_split_over_chunks_are_redacted_in_streams() {
    let pieces = ["key: sk-canary01234", "56789abcdefghij", " end"];
    let (text, err) = run(&pieces, vec![dlp(Action::Redact)], Vault::default()).await;
    assert!(err.is_none());
    assert_eq!(text, "key: [REDACTED_OPENAI_KEY] end");
    let (text, err) = run(&pieces, vec![dlp(Action::Block)], Vault::default()).await;
    assert!(err.is_some());
    assert!(!text.contains("sk-canary"), "{text}");
}

#[tokio::test]
async fn a_clean_stream_passes_whole() {
    let g = Arc::new(Policy {
        name: "og".into(),
        kind: Kind::OutputGuard(OutputGuard {
            deny: RegexSet::new(["nope"]).unwrap(),
            hold_back: 8,
        }),
    });
    let pieces = ["one ", "two ", "three ", "four"];
    let (text, err) = run(&pieces, vec![g], Vault::default()).await;
    assert!(err.is_none());
    assert_eq!(text, "one two three four");
}
