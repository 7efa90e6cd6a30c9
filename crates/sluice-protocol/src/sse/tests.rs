use super::*;

fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut d = SseDecoder::default();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        while let Some(ev) = d.next_event().unwrap() {
            out.push(ev);
        }
    }
    if let Some(ev) = d.finish().unwrap() {
        out.push(ev);
    }
    out
}

const OPENAI_STREAM: &[u8] = b"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n\
: keep-alive comment\n\n\
data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\r\n\r\n\
event: message_delta\r\ndata: {\"a\":1}\rdata: {\"b\":2}\r\r\
data: [DONE]\n\n";

#[test]
fn decodes_a_recorded_stream() {
    let evs = decode_all(&[OPENAI_STREAM]);
    assert_eq!(evs.len(), 5, "{evs:?}");
    assert_eq!(
        evs[1].data_str(),
        Some("{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}")
    );
    assert_eq!(evs[3].event.as_deref(), Some("message_delta"));
    assert_eq!(evs[3].data_str(), Some("{\"a\":1}\n{\"b\":2}"));
    assert_eq!(evs[4].data_str(), Some("[DONE]"));
}

#[test]
fn every_split_point_gives_the_same_events() {
    let whole = decode_all(&[OPENAI_STREAM]);
    for i in 0..=OPENAI_STREAM.len() {
        let (a, b) = OPENAI_STREAM.split_at(i);
        assert_eq!(decode_all(&[a, b]), whole, "split at {i}");
    }
    // And byte by byte.
    let bytes: Vec<&[u8]> = OPENAI_STREAM.chunks(1).collect();
    assert_eq!(decode_all(&bytes), whole);
}

#[test]
fn field_parsing_rules() {
    let evs = decode_all(&[b"data:no-space\nid: 7\nevent:x\nretry: 5\nunknown: 1\ndata\n\n"]);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].data_str(), Some("no-space\n"));
    assert_eq!(evs[0].id.as_deref(), Some("7"));
    assert_eq!(evs[0].event.as_deref(), Some("x"));
}

#[test]
fn event_without_data_is_not_dispatched() {
    let evs = decode_all(&[b"event: ping\n\ndata: 1\n\n"]);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].event, None);
}

#[test]
fn unterminated_last_event_is_returned_by_finish() {
    let evs = decode_all(&[b"data: 1\n\ndata: partial"]);
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[1].data_str(), Some("partial"));
}

#[test]
fn bom_is_skipped() {
    let evs = decode_all(&[b"\xEF\xBB", b"\xBFdata: x\n\n"]);
    assert_eq!(evs[0].data_str(), Some("x"));
}

#[test]
fn oversized_event_is_refused() {
    let mut d = SseDecoder::new(64);
    d.push(&[b'a'; 100]);
    assert_eq!(d.next_event(), Err(SseError::EventTooLarge { limit: 64 }));
    let mut d = SseDecoder::new(64);
    for _ in 0..10 {
        d.push(b"data: 0123456789\n");
    }
    assert!(d.next_event().is_err());
}

#[test]
fn encode_round_trips() {
    let enc = encode(Some("content_block_delta"), b"{\"x\":1}\nsecond");
    let evs = decode_all(&[&enc]);
    assert_eq!(evs[0].event.as_deref(), Some("content_block_delta"));
    assert_eq!(evs[0].data_str(), Some("{\"x\":1}\nsecond"));
}

proptest::proptest! {
    #[test]
    fn arbitrary_chunking_is_invisible(splits in proptest::collection::vec(0usize..OPENAI_STREAM.len(), 0..8)) {
        let mut points = splits.clone();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&OPENAI_STREAM[last..p]);
            last = p;
        }
        chunks.push(&OPENAI_STREAM[last..]);
        proptest::prop_assert_eq!(decode_all(&chunks), decode_all(&[OPENAI_STREAM]));
    }

    #[test]
    fn never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let mut d = SseDecoder::new(256);
        d.push(&input);
        while let Ok(Some(_)) = d.next_event() {}
        let _ = d.finish();
    }
}
