//! Replays the committed fuzz seed corpora (`fuzz/corpus/<target>/`) through
//! the same properties the fuzz targets check ([`sluice_protocol::fuzzing`]),
//! so every `cargo test` runs them. Inputs a fuzzer found and minimised are
//! added to these directories.
//!
//! `SLUICE_WRITE_SEEDS=1 cargo test -p sluice-protocol --test fuzz_corpus`
//! regenerates the seeds derived from the translation fixtures.
#![cfg(test)]

use std::path::{Path, PathBuf};

use sluice_protocol::eventstream::{self, Header, Message};
use sluice_protocol::fuzzing;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs `check` on every file of `target`'s corpus; at least `min` files.
fn replay(target: &str, min: usize, check: fn(&[u8])) {
    if std::env::var_os("SLUICE_WRITE_SEEDS").is_some() {
        write_seeds();
    }
    let mut n = 0;
    for entry in std::fs::read_dir(corpus(target)).expect("the corpus directory exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} fails its property", path.display());
        n += 1;
    }
    assert!(n >= min, "{target}: {n} seeds, expected at least {min}");
}

#[test]
fn sse_seeds() {
    replay("sse", 8, fuzzing::sse);
}

#[test]
fn eventstream_seeds() {
    replay("eventstream", 2, fuzzing::eventstream);
}

#[test]
fn request_seeds() {
    replay("requests", 3, fuzzing::requests);
}

#[test]
fn stream_seeds() {
    replay("streams", 8, fuzzing::streams);
}

/// An event-stream body from a Bedrock JSON fixture (`[{event, payload}]`).
fn bedrock_body(fixture: &Path) -> Vec<u8> {
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let mut out = Vec::new();
    for e in events {
        let msg = Message {
            headers: vec![
                Header::string(":event-type", e["event"].as_str().unwrap()),
                Header::string(":content-type", "application/json"),
                Header::string(":message-type", "event"),
            ],
            payload: serde_json::to_vec(&e["payload"]).unwrap().into(),
        };
        out.extend_from_slice(&eventstream::encode(&msg));
    }
    out
}

/// Writes the seeds derived from the fixtures. The first byte of a
/// `streams` seed picks the translator (see `fuzzing::streams`).
fn write_seeds() {
    let f = fixtures();
    let put = |target: &str, name: &str, data: &[u8]| {
        std::fs::write(corpus(target).join(name), data).unwrap();
    };
    let sse = [
        ("anthropic", "stream_text.sse", 0u8),
        ("anthropic", "stream_tools.sse", 8),
        ("gemini", "stream_text.sse", 1),
        ("gemini", "stream_tools.sse", 1),
        ("cohere", "stream_text.sse", 2),
        ("cohere", "stream_tools.sse", 2),
        ("cohere", "stream_citations.sse", 2),
        ("huggingface", "stream_eos.sse", 3),
        ("huggingface", "stream_length.sse", 3),
        ("replicate", "stream.sse", 4),
        ("openai", "chat_stream_text_tools.sse", 0),
    ];
    for (dir, file, pick) in sse {
        let data = std::fs::read(f.join(dir).join(file)).unwrap();
        let name = format!("{dir}-{}", file.trim_end_matches(".sse"));
        put("sse", &name, &data);
        let mut s = vec![pick];
        s.extend_from_slice(&data);
        put("streams", &name, &s);
    }
    for file in ["stream_text", "stream_tools"] {
        let body = bedrock_body(&f.join("bedrock").join(format!("{file}.json")));
        put("eventstream", &format!("bedrock-{file}"), &body);
        let mut s = vec![5u8];
        s.extend_from_slice(&body);
        put("streams", &format!("bedrock-{file}"), &s);
    }
    for (dir, file) in [
        ("openai", "chat_request_tools.json"),
        ("openai", "responses_request_tools.json"),
        ("anthropic", "messages_request_full.json"),
    ] {
        let data = std::fs::read(f.join(dir).join(file)).unwrap();
        put(
            "requests",
            &format!("{dir}-{}", file.trim_end_matches(".json")),
            &data,
        );
    }
}
