//! The bad-input corpus: malformed, oversized, slow and smuggling requests,
//! each sent over a raw socket. Every one gets a 4xx (in the client's
//! dialect where the request reaches the gateway) or a closed connection;
//! none gets a 5xx, none hangs, and the gateway keeps serving afterwards.
#![cfg(test)]

#[cfg(test)]
pub mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::Harness;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONFIG: &str = r#"
server:
  max_body_size: 64KiB
  header_read_timeout: 1s
  body_read_timeout: 1s
providers:
  mock:
    type: openai
    base_url: MOCK_URL/v1
    api_key: env:PROVIDER_KEY
models:
  - name: gpt
    provider: mock
    model: mock-gpt
"#;

/// What came back on one connection.
struct Answer {
    status: Option<u16>,
    head: String,
    body: String,
    took: Duration,
}

/// Writes `parts` (pausing `pause` between them), then reads until the
/// server closes the connection or answers completely, for at most 10 s.
async fn send(h: &Harness, parts: &[&[u8]], pause: Duration) -> Answer {
    let addr = h.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.expect("connects");
    let started = Instant::now();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        // The server may answer and close before everything is written.
        if s.write_all(p).await.is_err() {
            break;
        }
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if complete(&buf) {
                    break;
                }
            }
            Err(_) => panic!("no answer within 10 s: {}", String::from_utf8_lossy(&buf)),
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status: head.split(' ').nth(1).and_then(|s| s.parse().ok()),
        head: head.to_owned(),
        body: body.to_owned(),
        took: started.elapsed(),
    }
}

/// Whether `buf` holds a whole response with a `Content-Length` body.
fn complete(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .is_some_and(|n| body.len() >= n)
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

fn error_type(a: &Answer) -> String {
    let v: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    v["error"]["type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bad_input_corpus_gets_4xx_and_never_5xx() {
    let h = Harness::start(CONFIG).await;
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep = format!(r#"{{"model":"gpt","messages":{nested}}}"#);
    let wrong_types = br#"{"model": 5, "messages": "hi"}"#;
    let mut invalid_utf8 = br#"{"model":"gpt","messages":[{"role":"user","content":""#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid_utf8.extend_from_slice(br#""}]}"#);
    // (name, request, expected status, expected error type)
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed JSON",
            post("/v1/chat/completions", b"{\"model\":"),
            400,
            "invalid_request_error",
        ),
        (
            "wrong types",
            post("/v1/chat/completions", wrong_types),
            400,
            "invalid_request_error",
        ),
        (
            "deep nesting",
            post("/v1/chat/completions", deep.as_bytes()),
            413,
            "invalid_request_error",
        ),
        (
            "invalid UTF-8",
            post("/v1/chat/completions", &invalid_utf8),
            400,
            "invalid_request_error",
        ),
        (
            "malformed JSON, Anthropic dialect",
            post("/v1/messages", b"{oops"),
            400,
            "invalid_request_error",
        ),
        (
            "deep nesting, small",
            post(
                "/v1/chat/completions",
                format!(
                    r#"{{"model":"gpt","messages":{}{}}}"#,
                    "[".repeat(5000),
                    "]".repeat(5000)
                )
                .as_bytes(),
            ),
            400,
            "invalid_request_error",
        ),
    ];
    for (name, req, status, kind) in cases {
        let a = send(&h, &[&req], Duration::ZERO).await;
        assert_eq!(a.status, Some(status), "{name}: {}\n{}", a.head, a.body);
        assert_eq!(error_type(&a), kind, "{name}: {}", a.body);
        if name.contains("Anthropic") {
            assert!(a.body.contains(r#""type":"error""#), "{}", a.body);
        }
    }
    // The gateway still serves.
    let ok = send(
        &h,
        &[&post(
            "/v1/chat/completions",
            br#"{"model":"gpt","messages":[{"role":"user","content":"hi"}]}"#,
        )],
        Duration::ZERO,
    )
    .await;
    assert_eq!(ok.status, Some(200), "{}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_before_they_are_sent() {
    let h = Harness::start(CONFIG).await;
    // A declared length over the limit: refused on the headers alone.
    let head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 104857600\r\n\r\n";
    let a = send(&h, &[head], Duration::ZERO).await;
    assert_eq!(a.status, Some(413), "{}", a.head);
    assert_eq!(error_type(&a), "invalid_request_error");
    // Chunked: refused once the count crosses the limit, while more is coming.
    let head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "a".repeat(16 * 1024));
    let parts: Vec<&[u8]> = std::iter::once(&head[..])
        .chain(std::iter::repeat_n(chunk.as_bytes(), 8))
        .collect();
    let a = send(&h, &parts, Duration::from_millis(5)).await;
    assert_eq!(a.status, Some(413), "{}", a.head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_headers_get_431() {
    let h = Harness::start(CONFIG).await;
    let req = format!(
        "GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(300 * 1024)
    );
    let a = send(&h, &[req.as_bytes()], Duration::ZERO).await;
    assert_eq!(a.status, Some(431), "{}", a.head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_clients_are_cut_off() {
    let h = Harness::start(CONFIG).await;
    // Headers that never finish: the connection is closed after the
    // header read timeout (1 s here), whatever the client still sends.
    let a = send(
        &h,
        &[
            b"POST /v1/chat/completions HTTP/1.1\r\n",
            b"host: x\r\n",
            b"x-a: b\r\n",
        ],
        Duration::from_millis(700),
    )
    .await;
    assert!(
        a.status.is_none_or(|s| (400..500).contains(&s)),
        "{}",
        a.head
    );
    assert!(
        a.took < Duration::from_secs(4),
        "cut off after {:?}",
        a.took
    );
    // A body that trickles: 408 after the body read timeout.
    let head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    let a = send(&h, &[head, b"{\"model\"", b":"], Duration::from_millis(700)).await;
    assert_eq!(a.status, Some(408), "{}\n{}", a.head, a.body);
    assert!(a.took < Duration::from_secs(4), "408 after {:?}", a.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_smuggling_forms_are_refused() {
    let h = Harness::start(CONFIG).await;
    let body = r#"{"model":"gpt","messages":[{"role":"user","content":"hi"}]}"#;
    let smuggled = "GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n";
    let cases = [
        (
            "CL + TE",
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\
                 transfer-encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}",
                5 + smuggled.len()
            ),
        ),
        (
            "two Content-Lengths",
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\
                 content-length: 5\r\n\r\n{body}",
                body.len()
            ),
        ),
        (
            "bad chunk size",
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n\
                 transfer-encoding: chunked\r\n\r\nzz\r\n{body}\r\n0\r\n\r\n"
            ),
        ),
        (
            "TE not chunked",
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n\
                 transfer-encoding: gzip\r\n\r\n{body}"
            ),
        ),
    ];
    for (name, req) in cases {
        let a = send(&h, &[req.as_bytes()], Duration::ZERO).await;
        assert!(
            a.status.is_some_and(|s| (400..500).contains(&s)),
            "{name}: {}\n{}",
            a.head,
            a.body
        );
        // Nothing was smuggled behind it: one answer, then the close.
        assert_eq!(a.body.matches("HTTP/1.1").count(), 0, "{name}: {}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let h = Harness::start(&CONFIG.replace("server:\n", "server:\n  max_connections: 2\n")).await;
    let addr = h.url.trim_start_matches("http://");
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("closed at once, not left hanging");
    assert!(matches!(n, Ok(0) | Err(_)), "served over the cap: {n:?}");
    drop((_a, _b));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ok = send(
        &h,
        &[b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"],
        Duration::ZERO,
    )
    .await;
    assert_eq!(ok.status, Some(200), "a freed slot serves again");
}
