//! Fixtures for every usage shape the meter reads, fed in awkward chunks.

use base64::Engine;
use bytes::Bytes;
use serde_json::json;

use super::*;

/// Feeds `body` to a meter in chunks of `n` bytes.
fn meter(framing: Framing, body: &[u8], n: usize) -> Metered {
    let mut m = BodyMeter::new(framing);
    for c in body.chunks(n.max(1)) {
        m.push(&Bytes::copy_from_slice(c));
    }
    m.finish()
}

/// The same body, chunked every way from 1 byte to whole, gives one answer.
fn every_chunking(framing: Framing, body: &[u8]) -> Metered {
    let whole = meter(framing, body, body.len());
    for n in [1, 2, 3, 7, 64] {
        assert_eq!(meter(framing, body, n), whole, "chunks of {n}");
    }
    whole
}

fn sse(events: &[serde_json::Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(format!("data: {e}\r\n\r\n").as_bytes());
    }
    out
}

fn usage(prompt: u64, completion: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        ..Usage::default()
    }
}

#[test]
fn framing_from_content_type() {
    assert_eq!(
        Framing::from_content_type(Some("application/json; charset=utf-8")),
        Framing::Json
    );
    assert_eq!(
        Framing::from_content_type(Some("application/problem+json")),
        Framing::Json
    );
    assert_eq!(
        Framing::from_content_type(Some("text/event-stream; charset=utf-8")),
        Framing::Sse
    );
    assert_eq!(
        Framing::from_content_type(Some("application/vnd.amazon.eventstream")),
        Framing::EventStream
    );
    assert_eq!(
        Framing::from_content_type(Some("audio/mpeg")),
        Framing::Other
    );
    assert_eq!(Framing::from_content_type(None), Framing::Other);
}

#[test]
fn openai_chat_and_embeddings() {
    let body = json!({"id": "c", "model": "gpt-4o-2024-08-06", "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 6}, "completion_tokens_details": {"reasoning_tokens": 2}}});
    let m = every_chunking(Framing::Json, body.to_string().as_bytes());
    assert_eq!(m.model.as_deref(), Some("gpt-4o-2024-08-06"));
    let u = m.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (10, 4));
    assert_eq!((u.cached_read_tokens, u.reasoning_tokens), (6, 2));
    assert_eq!(u.source, UsageSource::Provider);

    let emb = json!({"object": "list", "data": [{"embedding": [0.1, 0.2]}], "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 5, "total_tokens": 5}});
    let m = every_chunking(Framing::Json, emb.to_string().as_bytes());
    assert_eq!(m.usage, Some(usage(5, 0)));
}

#[test]
fn openai_stream_with_and_without_usage() {
    let chunk = |content: &str| json!({"id": "c", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}], "usage": null});
    let mut events = vec![chunk("Hel"), chunk("lo")];
    let no_usage = sse(&events);
    let m = every_chunking(Framing::Sse, &no_usage);
    assert_eq!(m.model.as_deref(), Some("gpt-4o"));
    assert_eq!(m.usage, None);
    assert_eq!(m.events, 2);

    events.push(json!({"id": "c", "model": "gpt-4o", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}));
    let mut body = sse(&events);
    body.extend_from_slice(b"data: [DONE]\n\n");
    let m = every_chunking(Framing::Sse, &body);
    assert_eq!(m.usage, Some(usage(7, 2)));
    assert_eq!(m.events, 3, "[DONE] is not an event");
    assert_eq!(m.error, None);
}

#[test]
fn responses_api_json_and_stream() {
    let resp = json!({"id": "resp_1", "object": "response", "model": "gpt-4.1", "output": [],
        "usage": {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 8},
            "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 25}});
    let m = every_chunking(Framing::Json, resp.to_string().as_bytes());
    let u = m.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (20, 5));
    assert_eq!((u.cached_read_tokens, u.reasoning_tokens), (8, 3));

    let body = sse(&[
        json!({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-4.1", "usage": null}}),
        json!({"type": "response.output_text.delta", "delta": "Hi"}),
        json!({"type": "response.completed", "response": resp}),
    ]);
    let m = every_chunking(Framing::Sse, &body);
    assert_eq!(m.model.as_deref(), Some("gpt-4.1"));
    assert_eq!(m.usage.unwrap().prompt_tokens, 20);
}

#[test]
fn anthropic_json_and_stream_with_cache() {
    let msg = json!({"id": "msg_1", "type": "message", "model": "claude-sonnet-4-5", "content": [],
        "usage": {"input_tokens": 3, "output_tokens": 9, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}});
    let m = every_chunking(Framing::Json, msg.to_string().as_bytes());
    let u = m.usage.unwrap();
    assert_eq!(
        u.prompt_tokens, 123,
        "input excludes cached tokens; Sluice's prompt includes them"
    );
    assert_eq!((u.cached_read_tokens, u.cached_write_tokens), (100, 20));
    assert_eq!(u.completion_tokens, 9);

    let mut body = Vec::new();
    for (name, data) in [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 100}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "\"usage\": {x}"}}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 15}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ] {
        body.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
    }
    let m = every_chunking(Framing::Sse, &body);
    assert_eq!(m.model.as_deref(), Some("claude-sonnet-4-5"));
    let u = m.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (103, 15));
    assert_eq!(m.events, 4);
}

#[test]
fn gemini_json_sse_and_array() {
    let chunk = |text: &str, c: u64| {
        json!({"candidates": [{"content": {"parts": [{"text": text}]}}],
        "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": c, "thoughtsTokenCount": 2, "cachedContentTokenCount": 4},
        "modelVersion": "gemini-2.0-flash-001"})
    };
    let m = every_chunking(Framing::Json, chunk("Hi", 3).to_string().as_bytes());
    assert_eq!(m.model.as_deref(), Some("gemini-2.0-flash-001"));
    let u = m.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (11, 5));
    assert_eq!((u.reasoning_tokens, u.cached_read_tokens), (2, 4));

    let m = every_chunking(Framing::Sse, &sse(&[chunk("a", 1), chunk("b", 6)]));
    assert_eq!(
        m.usage.unwrap().completion_tokens,
        8,
        "cumulative: the last one wins"
    );

    let array = json!([chunk("a", 1), chunk("b", 6)]);
    let m = every_chunking(Framing::Json, array.to_string().as_bytes());
    assert_eq!(m.usage.unwrap().completion_tokens, 8);
}

#[test]
fn bedrock_converse_json_and_event_stream() {
    let conv = json!({"output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
        "stopReason": "end_turn", "usage": {"inputTokens": 12, "outputTokens": 4, "totalTokens": 16, "cacheReadInputTokens": 2},
        "metrics": {"latencyMs": 120}});
    let m = every_chunking(Framing::Json, conv.to_string().as_bytes());
    let u = m.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.cached_read_tokens),
        (14, 4, 2)
    );

    let mut body = Vec::new();
    for msg in [
        eventstream::event("messageStart", br#"{"role":"assistant"}"#),
        eventstream::event("contentBlockDelta", br#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#),
        eventstream::event("metadata", br#"{"usage":{"inputTokens":12,"outputTokens":4,"totalTokens":16},"metrics":{"latencyMs":99}}"#),
    ] {
        body.extend_from_slice(&eventstream::encode(&msg));
    }
    let m = every_chunking(Framing::EventStream, &body);
    assert_eq!(m.usage, Some(usage(12, 4)));
    assert_eq!(m.events, 3);
    assert_eq!(m.error, None);

    let mut broken = body.clone();
    broken.extend_from_slice(&eventstream::encode(&eventstream::exception(
        "throttlingException",
        br#"{"message":"Too many requests"}"#,
    )));
    let m = every_chunking(Framing::EventStream, &broken);
    assert_eq!(
        m.error.as_deref(),
        Some("throttlingException: Too many requests")
    );
}

#[test]
fn bedrock_invoke_stream_chunks_carry_the_models_own_json() {
    let b64 = |v: serde_json::Value| {
        let inner = base64::engine::general_purpose::STANDARD.encode(v.to_string());
        eventstream::encode(&eventstream::event(
            "chunk",
            json!({"bytes": inner}).to_string().as_bytes(),
        ))
    };
    let mut body = Vec::new();
    body.extend_from_slice(&b64(json!({"type": "message_start", "message": {"model": "claude-3-haiku", "usage": {"input_tokens": 9, "output_tokens": 1}}})));
    body.extend_from_slice(&b64(
        json!({"type": "message_delta", "usage": {"output_tokens": 6}}),
    ));
    body.extend_from_slice(&b64(json!({"type": "message_stop",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 9, "outputTokenCount": 6}})));
    let m = every_chunking(Framing::EventStream, &body);
    assert_eq!(m.model.as_deref(), Some("claude-3-haiku"));
    assert_eq!(m.usage, Some(usage(9, 6)));

    // A model whose native JSON has no usage: the invocation metrics count.
    let mut body = Vec::new();
    body.extend_from_slice(&b64(json!({"outputText": "hi"})));
    body.extend_from_slice(&b64(json!({"outputText": "",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 5, "outputTokenCount": 2}})));
    assert_eq!(
        every_chunking(Framing::EventStream, &body).usage,
        Some(usage(5, 2))
    );

    let titan = json!({"embedding": [0.1, 0.2], "inputTextTokenCount": 4});
    assert_eq!(
        every_chunking(Framing::Json, titan.to_string().as_bytes()).usage,
        Some(usage(4, 0))
    );

    assert_eq!(
        bedrock_header_usage(Some("7"), Some(" 3 ")),
        Some(usage(7, 3))
    );
    assert_eq!(bedrock_header_usage(None, Some("x")), None);
}

#[test]
fn cohere_v2_v1_and_rerank() {
    let chat = json!({"id": "c", "finish_reason": "COMPLETE", "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
        "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 2}, "tokens": {"input_tokens": 70, "output_tokens": 2}}});
    let m = every_chunking(Framing::Json, chat.to_string().as_bytes());
    assert_eq!(
        m.usage,
        Some(usage(70, 2)),
        "tokens the model processed win"
    );

    let body = sse(&[
        json!({"type": "message-start", "id": "c"}),
        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "hi"}}}}),
        json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE",
            "usage": {"billed_units": {"input_tokens": 5.0, "output_tokens": 2.0}}}}),
    ]);
    assert_eq!(every_chunking(Framing::Sse, &body).usage, Some(usage(5, 2)));

    let embed = json!({"id": "e", "embeddings": {"float": [[0.1]]}, "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 9}}});
    assert_eq!(
        every_chunking(Framing::Json, embed.to_string().as_bytes()).usage,
        Some(usage(9, 0))
    );
    let rerank = json!({"results": [], "meta": {"billed_units": {"search_units": 1}}});
    assert_eq!(
        every_chunking(Framing::Json, rerank.to_string().as_bytes()).usage,
        Some(usage(1, 0))
    );
}

#[test]
fn replicate_prediction_metrics() {
    let p = json!({"id": "p1", "model": "meta/meta-llama-3-8b-instruct", "status": "succeeded", "error": null,
        "output": ["hi"], "metrics": {"input_token_count": 8, "output_token_count": 3, "predict_time": 0.2}});
    let m = every_chunking(Framing::Json, p.to_string().as_bytes());
    assert_eq!(m.model.as_deref(), Some("meta/meta-llama-3-8b-instruct"));
    assert_eq!(m.usage, Some(usage(8, 3)));
    assert_eq!(m.error, None, "`error: null` is no error");
}

#[test]
fn in_stream_errors_are_reported() {
    let body = sse(&[
        json!({"id": "c", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": "a"}}]}),
        json!({"error": {"message": "The server had an error", "type": "server_error"}}),
    ]);
    assert_eq!(
        every_chunking(Framing::Sse, &body).error.as_deref(),
        Some("The server had an error")
    );
    let anthropic = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    assert_eq!(
        every_chunking(Framing::Sse, anthropic).error.as_deref(),
        Some("Overloaded")
    );
}

#[test]
fn unknown_and_oversized_bodies_are_left_alone() {
    assert_eq!(
        meter(Framing::Other, b"\x00\x01binary", 3),
        Metered::default()
    );
    assert_eq!(meter(Framing::Json, b"not json", 3), Metered::default());
    assert_eq!(meter(Framing::Json, b"[1, 2, 3]", 3), Metered::default());
    let mut m = BodyMeter::new(Framing::Json);
    let big = Bytes::from(vec![b' '; MAX_JSON_BYTES]);
    m.push(&Bytes::from_static(b"{\"usage\": {\"prompt_tokens\": 1}"));
    m.push(&big);
    m.push(&Bytes::from_static(b"}"));
    assert_eq!(m.finish().usage, None);
}
