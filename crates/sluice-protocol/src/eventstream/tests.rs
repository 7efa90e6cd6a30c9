use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::DateTime;
use aws_smithy_types::event_stream as oracle;
use proptest::prelude::*;

use super::*;

fn every_type() -> Message {
    let h = |name: &str, value| Header {
        name: name.to_owned(),
        value,
    };
    Message {
        headers: vec![
            h("t", HeaderValue::Bool(true)),
            h("f", HeaderValue::Bool(false)),
            h("byte", HeaderValue::Byte(-3)),
            h("short", HeaderValue::Int16(-300)),
            h("int", HeaderValue::Int32(70_000)),
            h("long", HeaderValue::Int64(-5_000_000_000)),
            h(
                "bytes",
                HeaderValue::Bytes(Bytes::from_static(b"\x00\x01\xff")),
            ),
            h("str", HeaderValue::String("héllo".to_owned())),
            h("ts", HeaderValue::Timestamp(1_700_000_000_123)),
            h("uuid", HeaderValue::Uuid(*b"0123456789abcdef")),
        ],
        payload: Bytes::from_static(br#"{"hello":"world"}"#),
    }
}

fn to_oracle(m: &Message) -> oracle::Message {
    let headers = m
        .headers
        .iter()
        .map(|h| {
            let v = match &h.value {
                HeaderValue::Bool(b) => oracle::HeaderValue::Bool(*b),
                HeaderValue::Byte(v) => oracle::HeaderValue::Byte(*v),
                HeaderValue::Int16(v) => oracle::HeaderValue::Int16(*v),
                HeaderValue::Int32(v) => oracle::HeaderValue::Int32(*v),
                HeaderValue::Int64(v) => oracle::HeaderValue::Int64(*v),
                HeaderValue::Bytes(b) => oracle::HeaderValue::ByteArray(b.clone()),
                HeaderValue::String(s) => oracle::HeaderValue::String(s.clone().into()),
                HeaderValue::Timestamp(ms) => {
                    oracle::HeaderValue::Timestamp(DateTime::from_millis(*ms))
                }
                HeaderValue::Uuid(id) => oracle::HeaderValue::Uuid(u128::from_be_bytes(*id)),
            };
            oracle::Header::new(h.name.clone(), v)
        })
        .collect();
    oracle::Message::new_from_parts(headers, m.payload.clone())
}

fn sample_stream() -> (Vec<Message>, Vec<u8>) {
    let msgs = vec![
        event("messageStart", br#"{"role":"assistant","p":"abcd"}"#),
        every_type(),
        event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
        ),
        Message::default(),
        exception("throttlingException", br#"{"message":"slow down"}"#),
    ];
    let bytes = msgs.iter().flat_map(|m| encode(m).to_vec()).collect();
    (msgs, bytes)
}

fn decode_chunks(chunks: &[&[u8]]) -> Result<Vec<Message>, EventStreamError> {
    let mut d = Decoder::default();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        while let Some(m) = d.next_message()? {
            out.push(m);
        }
    }
    d.finish()?;
    Ok(out)
}

#[test]
fn encoder_matches_the_aws_implementation_byte_for_byte() {
    let (msgs, _) = sample_stream();
    for m in &msgs {
        let mut theirs = Vec::new();
        write_message_to(&to_oracle(m), &mut theirs).unwrap();
        assert_eq!(encode(m).to_vec(), theirs);
        // And their decoder reads ours back.
        let back = read_message_from(&encode(m)[..]).unwrap();
        assert_eq!(back.payload(), &m.payload);
        assert_eq!(back.headers().len(), m.headers.len());
    }
}

#[test]
fn decodes_every_header_type() {
    let m = every_type();
    let got = decode_chunks(&[&encode(&m)]).unwrap();
    assert_eq!(got, vec![m.clone()]);
    assert_eq!(got[0].header_str("str"), Some("héllo"));
    assert_eq!(got[0].header("int"), Some(&HeaderValue::Int32(70_000)));
}

#[test]
fn same_messages_at_every_split_point() {
    let (msgs, bytes) = sample_stream();
    for at in 0..=bytes.len() {
        assert_eq!(
            decode_chunks(&[&bytes[..at], &bytes[at..]]).unwrap(),
            msgs,
            "split at {at}"
        );
    }
    let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode_chunks(&one_by_one).unwrap(), msgs);
}

#[test]
fn checksums_are_verified() {
    let bytes = encode(&event("x", b"{}")).to_vec();
    let mut bad_prelude = bytes.clone();
    bad_prelude[9] ^= 1;
    assert_eq!(
        decode_chunks(&[&bad_prelude]),
        Err(EventStreamError::PreludeChecksum)
    );
    let mut bad_payload = bytes.clone();
    let n = bad_payload.len();
    bad_payload[n - 6] ^= 1;
    assert_eq!(
        decode_chunks(&[&bad_payload]),
        Err(EventStreamError::MessageChecksum)
    );
    let mut bad_crc = bytes;
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    assert_eq!(
        decode_chunks(&[&bad_crc]),
        Err(EventStreamError::MessageChecksum)
    );
}

#[test]
fn limits_and_truncation() {
    let big = encode(&event("x", &[b'a'; 2000]));
    let mut d = Decoder::new(1024);
    // Refused from the prelude alone, before the payload is buffered.
    d.push(&big[..12]);
    assert!(matches!(
        d.next_message(),
        Err(EventStreamError::TooLarge {
            len: _,
            limit: 1024
        })
    ));
    // The error sticks.
    assert!(d.next_message().is_err());
    let bytes = encode(&event("x", b"{}"));
    assert_eq!(
        decode_chunks(&[&bytes[..bytes.len() - 1]]),
        Err(EventStreamError::Truncated(bytes.len() - 1))
    );
    // A prelude whose lengths cannot hold a message.
    let mut tiny = Vec::new();
    tiny.extend_from_slice(&8u32.to_be_bytes());
    tiny.extend_from_slice(&0u32.to_be_bytes());
    tiny.extend_from_slice(&crc32fast::hash(&tiny).to_be_bytes());
    assert!(matches!(
        decode_chunks(&[&tiny]),
        Err(EventStreamError::BadLengths { .. })
    ));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512), at in 0usize..512) {
        let at = at.min(data.len());
        let _ = decode_chunks(&[&data[..at], &data[at..]]);
    }

    #[test]
    fn arbitrary_chunking_gives_the_same_messages(cuts in proptest::collection::vec(0usize..2000, 0..8)) {
        let (msgs, bytes) = sample_stream();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts {
            chunks.push(&bytes[prev..c]);
            prev = c;
        }
        chunks.push(&bytes[prev..]);
        prop_assert_eq!(decode_chunks(&chunks).unwrap(), msgs);
    }
}
