//! Fuzz entry points: the properties `cargo fuzz` checks on arbitrary
//! input, and that `cargo test` checks on the committed seed corpora.
//!
//! Each function takes raw bytes, must never panic on any input, and panics
//! (which is what a fuzzer reports) only when a property fails:
//! - [`sse`]: the events decoded do not depend on where the input is split;
//! - [`eventstream`]: the same for AWS event-stream messages;
//! - [`requests`]: every request parser and translator answers `Ok` or a
//!   typed error;
//! - [`streams`]: every provider stream translator, fed arbitrary events,
//!   ends in exactly one terminal state and never sends a chunk after it.
//!
//! The targets live in `fuzz/fuzz_targets/`; see `docs/fuzzing.md`.

use bytes::Bytes;

use crate::eventstream::{self, Message};
use crate::openai::chat::{ChatChunk, ChatRequest};
use crate::sse::{SseDecoder, SseEvent};
use crate::stream::StreamMachine;

/// Split points derived from the input itself, so a fuzzer explores them.
fn splits(data: &[u8]) -> Vec<usize> {
    let seed = data.first().copied().unwrap_or(1).max(1) as usize;
    let mut at = Vec::new();
    let mut i = seed % 7 + 1;
    while i < data.len() {
        at.push(i);
        i += data[i] as usize % 13 + 1;
    }
    at
}

/// Feeds `data` to `push` in the pieces `cuts` makes.
fn in_pieces(data: &[u8], cuts: &[usize], mut push: impl FnMut(&[u8])) {
    let mut from = 0;
    for &to in cuts {
        push(&data[from..to]);
        from = to;
    }
    push(&data[from..]);
}

/// Decodes SSE in one piece and in many; both must agree.
pub fn sse(data: &[u8]) {
    let whole = decode_sse(data, &[]);
    let pieces = decode_sse(data, &splits(data));
    assert_eq!(whole, pieces, "SSE events depend on chunk boundaries");
    let bytewise: Vec<usize> = (1..data.len().min(512)).collect();
    if data.len() <= 512 {
        assert_eq!(whole, decode_sse(data, &bytewise), "byte-at-a-time differs");
    }
}

fn decode_sse(data: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, bool) {
    let mut d = SseDecoder::new(64 * 1024);
    let (mut out, failed) = decode(&mut d, data, cuts, SseDecoder::push, SseDecoder::next_event);
    if failed {
        return (out, true);
    }
    match d.finish() {
        Ok(last) => out.extend(last),
        Err(_) => return (out, true),
    }
    (out, false)
}

/// Feeds `data` to decoder `d` in the pieces `cuts` makes, draining `next`
/// after each piece until it needs more bytes or fails. Returns what was
/// decoded and whether it failed.
fn decode<D, T, E>(
    d: &mut D,
    data: &[u8],
    cuts: &[usize],
    push: fn(&mut D, &[u8]),
    next: fn(&mut D) -> Result<Option<T>, E>,
) -> (Vec<T>, bool) {
    let mut out = Vec::new();
    let mut failed = false;
    in_pieces(data, cuts, |piece| {
        if failed {
            return;
        }
        push(d, piece);
        loop {
            match next(d) {
                Ok(Some(item)) => out.push(item),
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
    });
    (out, failed)
}

/// Decodes an AWS event stream in one piece and in many; both must agree.
pub fn eventstream(data: &[u8]) {
    let whole = decode_eventstream(data, &[]);
    let pieces = decode_eventstream(data, &splits(data));
    assert_eq!(
        whole, pieces,
        "event-stream messages depend on chunk boundaries"
    );
    // Whatever decoded must encode back to the bytes it came from.
    for m in &whole.0 {
        let again = decode_eventstream(&eventstream::encode(m), &[]);
        assert_eq!(again.0.first(), Some(m), "encode/decode round trip");
    }
}

fn decode_eventstream(data: &[u8], cuts: &[usize]) -> (Vec<Message>, bool) {
    let mut d = eventstream::Decoder::new(256 * 1024);
    let push = eventstream::Decoder::push;
    let (out, failed) = decode(&mut d, data, cuts, push, eventstream::Decoder::next_message);
    (out, failed || d.finish().is_err())
}

/// Runs every request parser and translator on `data` as a request body.
/// Each must answer `Ok` or a typed error, never panic.
pub fn requests(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    if let Ok(p) = crate::openai::request::parse_chat(body.clone()) {
        let _ = p.upstream_body("model", true);
    }
    let _ = crate::openai::request::parse_embeddings(body.clone());
    let _ = crate::openai::request::parse_rerank(body.clone());
    let _ = crate::openai::completions::parse_completions(body.clone());
    let _ = crate::openai::responses::parse_responses(body.clone());
    let _ = crate::anthropic::ingress::parse_messages(body);
    if let Ok(t) = crate::anthropic::ingress::to_chat(data) {
        translate(&t.value);
    }
    if let Ok(req) = serde_json::from_slice::<ChatRequest>(data) {
        translate(&req);
    }
}

/// Translates `req` for every provider family.
fn translate(req: &ChatRequest) {
    let _ = crate::anthropic::convert::to_anthropic(req, "claude", 1024);
    let _ = crate::gemini::convert::to_gemini(req);
    let _ = crate::bedrock::convert::to_bedrock(req, "anthropic.claude", 1024);
    let _ = crate::cohere::convert::to_cohere(req, "command-r");
    let _ = crate::huggingface::convert::to_text_generation(req, true);
    let _ = crate::replicate::convert::to_replicate(req, "owner/model", true);
}

/// The stream translators, by the first byte of the input.
const MACHINES: usize = 6;

/// Feeds the rest of `data`, decoded as SSE (or as an event stream for
/// Bedrock), to the stream translator the first byte picks.
pub fn streams(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick as usize % MACHINES {
        0 => drive(
            crate::anthropic::stream::AnthropicStream::new(1, pick & 8 != 0),
            sse_events(rest),
        ),
        1 => drive(
            crate::gemini::stream::GeminiStream::new(1, "m", 1 + u32::from(pick & 8 != 0)),
            sse_events(rest),
        ),
        2 => drive(
            crate::cohere::stream::CohereStream::new("m", 1),
            sse_events(rest),
        ),
        3 => drive(
            crate::huggingface::stream::TgiStream::new("id", 1, "m"),
            sse_events(rest),
        ),
        4 => drive(
            crate::replicate::stream::ReplicateStream::new("id", 1, "m", Some(16)),
            sse_events(rest),
        ),
        _ => drive(
            crate::bedrock::stream::BedrockStream::new("id", "m", 1, pick & 8 != 0),
            decode_eventstream(rest, &[]).0,
        ),
    }
}

fn sse_events(data: &[u8]) -> Vec<SseEvent> {
    decode_sse(data, &[]).0
}

/// Runs a translator the way the gateway does: events until the first
/// error, then the end. Exactly one terminal state; at most one finish
/// reason per choice; nothing after the end.
fn drive<M: StreamMachine>(mut m: M, events: Vec<M::Event>) {
    let mut chunks: Vec<ChatChunk> = Vec::new();
    let mut ended_with_error = false;
    for ev in events {
        match m.on_event(ev) {
            Ok(more) => chunks.extend(more),
            Err(_) => {
                ended_with_error = true;
                break;
            }
        }
    }
    if !ended_with_error {
        match m.on_end() {
            Ok(last) => chunks.extend(last),
            Err(_) => ended_with_error = true,
        }
    }
    let mut finished = std::collections::HashSet::new();
    for c in &chunks {
        for choice in &c.choices {
            if choice.finish_reason.is_some() {
                assert!(
                    finished.insert(choice.index),
                    "two finish reasons for choice {}: {chunks:?}",
                    choice.index
                );
            }
        }
    }
    let _ = ended_with_error;
}
