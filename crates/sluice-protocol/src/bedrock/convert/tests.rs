use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream as oracle;
use serde_json::json;

use super::*;
use crate::ErrorKind;
use crate::bedrock::stream::BedrockStream;
use crate::eventstream::Decoder;
use crate::openai::chat::ChatChunk;
use crate::stream::StreamMachine;

const OPENAI_REQUEST: &str = include_str!("../../../tests/fixtures/openai/chat_request_tools.json");
const RESPONSE_TOOL_USE: &str =
    include_str!("../../../tests/fixtures/bedrock/converse_response_tool_use.json");
const RESPONSE_TEXT: &str =
    include_str!("../../../tests/fixtures/bedrock/converse_response_text.json");
const STREAM_TEXT: &str = include_str!("../../../tests/fixtures/bedrock/stream_text.json");
const STREAM_TOOLS: &str = include_str!("../../../tests/fixtures/bedrock/stream_tools.json");

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn to_json(r: &ChatRequest, model: &str) -> Value {
    serde_json::to_value(to_bedrock(r, model, 1000).unwrap().value).unwrap()
}

#[test]
fn request_from_openai_fixture() {
    let r: ChatRequest = serde_json::from_str(OPENAI_REQUEST).unwrap();
    let t = to_bedrock(&r, "anthropic.claude-3-5-sonnet-20240620-v1:0", 4096).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(v["system"], json!([{"text": "You are terse."}]));
    assert_eq!(
        v["inferenceConfig"],
        json!({"maxTokens": 256, "temperature": 0.2})
    );
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[0],
        json!({"role": "user", "content": [
            {"text": "What is the weather in Paris and Rome?"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}]})
    );
    assert_eq!(
        msgs[1],
        json!({"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}]})
    );
    assert_eq!(
        msgs[2],
        json!({"role": "user", "content": [
            {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C, sunny"}]}}]})
    );
    assert_eq!(
        v["toolConfig"]["tools"][0],
        json!({"toolSpec": {"name": "get_weather", "description": "Weather for a city",
            "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}})
    );
    // JSON mode becomes a forced tool.
    assert_eq!(v["toolConfig"]["tools"][1]["toolSpec"]["name"], JSON_TOOL);
    assert_eq!(
        v["toolConfig"]["toolChoice"],
        json!({"tool": {"name": JSON_TOOL}})
    );
    assert_eq!(t.dropped, ["image_url.detail", "metadata", "seed"]);
}

#[test]
fn defaults_merging_choices_and_passthrough() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "developer", "content": "A"}, {"role": "system", "content": "B", "cache_control": {"type": "ephemeral"}},
        {"role": "user", "content": "one"}, {"role": "user", "content": "two"},
        {"role": "assistant", "content": "ok"}, {"role": "assistant", "content": "more"},
        {"role": "user", "content": "three"}],
        "stop": "END", "top_p": 0.9, "user": "u1", "parallel_tool_calls": false,
        "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required",
        "top_k": 5, "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
        "additionalModelRequestFields": {"foo": 1}, "unknown_thing": true}));
    let t = to_bedrock(&r, "anthropic.claude-v2", 1000).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v["system"],
        json!([{"text": "A"}, {"text": "B"}, {"cachePoint": {"type": "default"}}])
    );
    assert_eq!(
        v["inferenceConfig"],
        json!({"maxTokens": 1000, "topP": 0.9, "stopSequences": ["END"]})
    );
    assert_eq!(
        v["messages"],
        json!([
            {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
            {"role": "assistant", "content": [{"text": "ok"}, {"text": "more"}]},
            {"role": "user", "content": [{"text": "three"}]}])
    );
    assert_eq!(v["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(
        v["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"],
        json!({"json": {"type": "object", "properties": {}}})
    );
    assert_eq!(
        v["additionalModelRequestFields"],
        json!({"top_k": 5, "foo": 1})
    );
    assert_eq!(v["guardrailConfig"]["guardrailIdentifier"], "g");
    assert_eq!(t.dropped, ["unknown_thing", "user", "parallel_tool_calls"]);
    // A named tool and reasoning effort on a Claude model.
    let r = req(
        json!({"model": "m", "reasoning_effort": "medium", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}}),
    );
    let v = to_json(&r, "us.anthropic.claude-sonnet-4-5-v1:0");
    assert_eq!(
        v["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "f"}})
    );
    assert_eq!(
        v["additionalModelRequestFields"]["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    // Elsewhere reasoning effort has no translation and is named.
    let t = to_bedrock(&r, "amazon.nova-pro-v1:0", 10).unwrap();
    assert_eq!(t.dropped, ["reasoning_effort"]);
}

#[test]
fn tool_choice_none_drops_tools_or_refuses() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let r = req(
        json!({"model": "m", "tools": tools, "tool_choice": "none", "messages": [{"role": "user", "content": "x"}]}),
    );
    let t = to_bedrock(&r, "m", 10).unwrap();
    assert!(t.value.tool_config.is_none());
    assert_eq!(t.dropped, ["tools"]);
    let r = req(
        json!({"model": "m", "tools": tools, "tool_choice": "none", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"}]}),
    );
    let e = to_bedrock(&r, "m", 10).unwrap_err();
    assert_eq!((e.status(), e.param()), (400, Some("tool_choice")));
}

#[test]
fn parallel_tool_results_share_one_user_turn() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "user", "content": "weather and time"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"x\"}"}},
            {"id": "b", "type": "function", "function": {"name": "t", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "thanks"}]}));
    let v = to_json(&r, "m");
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[1]["content"].as_array().unwrap().len(),
        2,
        "no empty text block"
    );
    assert_eq!(msgs[1]["content"][1]["toolUse"]["input"], json!({}));
    assert_eq!(
        msgs[2]["content"],
        json!([
            {"toolResult": {"toolUseId": "a", "content": [{"text": "sunny"}]}},
            {"toolResult": {"toolUseId": "b", "content": [{"text": "noon"}]}},
            {"text": "thanks"}])
    );
}

#[test]
fn refused_inputs() {
    let cases = [
        (
            json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}),
            "n",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
            "image_url",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}]}),
            "image_url",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}]}),
            "input_audio",
        ),
    ];
    for (body, param) in cases {
        let e = to_bedrock(&req(body), "m", 10).unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some(param)), "{e}");
    }
    assert!(
        to_bedrock(&req(json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]})), "m", 10)
            .unwrap_err()
            .message()
            .contains("data:image")
    );
}

#[test]
fn documents_and_reasoning_round_trip() {
    let resp: ConverseResponse = serde_json::from_str(RESPONSE_TOOL_USE).unwrap();
    let oa = from_bedrock(resp, "chatcmpl-1", "m", 7, false);
    let mut next = serde_json::to_value(&oa.choices[0].message).unwrap();
    next["role"] = json!("assistant");
    let r = req(json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "Q3 report.v2.pdf"}}]},
        next,
        {"role": "tool", "tool_call_id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "content": "Elemental Hotel"},
        {"role": "tool", "tool_call_id": "tooluse_5NVw2WrzT2e0R1A2jsTCVQ", "content": "Sweet Child"}]}));
    let v = to_json(&r, "m");
    assert_eq!(
        v["messages"][0]["content"][0],
        json!({"document": {"format": "pdf", "name": "Q3 report-v2", "source": {"bytes": "JVBERi0="}}})
    );
    assert_eq!(
        v["messages"][1]["content"][0],
        json!({"reasoningContent": {"reasoningText": {
            "text": "The user wants the most popular song on two stations.",
            "signature": "ErcBCkgIARABGAIiQMuM7dUrlhttbO8thgbHq2Y8"}}})
    );
    assert_eq!(
        v["messages"][1]["content"][2]["toolUse"]["input"],
        json!({"sign": "WZPZ"})
    );
}

#[test]
fn response_from_documented_examples() {
    let resp: ConverseResponse = serde_json::from_str(RESPONSE_TOOL_USE).unwrap();
    let oa = from_bedrock(resp, "chatcmpl-1", "anthropic.claude", 7, false);
    assert_eq!(
        (oa.id.as_str(), oa.model.as_str(), oa.created),
        ("chatcmpl-1", "anthropic.claude", 7)
    );
    let c = &oa.choices[0];
    assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        c.message.content.as_deref(),
        Some("I'll look up the top songs on both stations.")
    );
    assert_eq!(
        c.message.reasoning_content.as_deref(),
        Some("The user wants the most popular song on two stations.")
    );
    let calls = c.message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].id, "tooluse_5NVw2WrzT2e0R1A2jsTCVQ");
    assert_eq!(calls[1].function.arguments, r#"{"sign":"WKRP"}"#);
    let u = oa.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (1375, 91, 1466)
    );
    assert_eq!(u.prompt_tokens_details.unwrap().cached_tokens, 1000);

    let resp: ConverseResponse = serde_json::from_str(RESPONSE_TEXT).unwrap();
    let oa = from_bedrock(resp, "x", "m", 0, false);
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("stop"));
    let u = oa.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens),
        (12, 0),
        "explicit zero stays zero"
    );
    // No usage at all stays absent, so the gateway estimates.
    let mut v: Value = serde_json::from_str(RESPONSE_TEXT).unwrap();
    v.as_object_mut().unwrap().remove("usage");
    let oa = from_bedrock(serde_json::from_value(v).unwrap(), "x", "m", 0, false);
    assert!(oa.usage.is_none());
}

#[test]
fn stop_reasons_and_json_mode() {
    for (stop, want) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
    ] {
        assert_eq!(finish_reason(stop, false), want);
    }
    let resp: ConverseResponse = serde_json::from_value(json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t", "name": JSON_TOOL, "input": {"answer": 42}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}))
    .unwrap();
    let oa = from_bedrock(resp, "x", "m", 0, true);
    assert_eq!(
        oa.choices[0].message.content.as_deref(),
        Some(r#"{"answer":42}"#)
    );
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("stop"));
    assert!(oa.choices[0].message.tool_calls.is_none());
}

/// Encodes a JSON list of frames with the AWS implementation (an
/// independent encoder), as Bedrock would have sent them.
fn recorded(frames: &str) -> Vec<u8> {
    let frames: Vec<Value> = serde_json::from_str(frames).unwrap();
    let mut out = Vec::new();
    for f in frames {
        let (kind_header, kind, message_type) = match f.get("exception") {
            Some(e) => (":exception-type", e.as_str().unwrap(), "exception"),
            None => (":event-type", f["event"].as_str().unwrap(), "event"),
        };
        let msg = oracle::Message::new(serde_json::to_vec(&f["payload"]).unwrap())
            .add_header(oracle::Header::new(
                kind_header,
                oracle::HeaderValue::String(kind.to_owned().into()),
            ))
            .add_header(oracle::Header::new(
                ":content-type",
                oracle::HeaderValue::String("application/json".into()),
            ))
            .add_header(oracle::Header::new(
                ":message-type",
                oracle::HeaderValue::String(message_type.into()),
            ));
        write_message_to(&msg, &mut out).unwrap();
    }
    out
}

/// Decodes and translates `bytes` delivered in two reads split at `at`.
fn run_stream(bytes: &[u8], at: usize, json_mode: bool) -> Result<Vec<ChatChunk>, Error> {
    let mut dec = Decoder::default();
    let mut m = BedrockStream::new("chatcmpl-x", "model-x", 1, json_mode);
    let mut out = Vec::new();
    let protocol = |e: crate::eventstream::EventStreamError| Error::new(e.kind(), e.to_string());
    for part in [&bytes[..at], &bytes[at..]] {
        dec.push(part);
        while let Some(msg) = dec.next_message().map_err(protocol)? {
            out.extend(m.on_event(msg)?);
        }
    }
    dec.finish().map_err(protocol)?;
    out.extend(m.on_end()?);
    Ok(out)
}

fn text_of(chunks: &[ChatChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .collect()
}

fn finishes(chunks: &[ChatChunk]) -> Vec<String> {
    chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.finish_reason.clone())
        .collect()
}

#[test]
fn text_stream_at_every_split_point() {
    let bytes = recorded(STREAM_TEXT);
    let whole = run_stream(&bytes, 0, false).unwrap();
    for at in 0..=bytes.len() {
        assert_eq!(
            run_stream(&bytes, at, false).unwrap(),
            whole,
            "split at {at}"
        );
    }
    assert_eq!(text_of(&whole), "Hello! How can I help?");
    assert_eq!(whole[0].choices[0].delta.role.as_deref(), Some("assistant"));
    assert_eq!(finishes(&whole), ["stop"], "exactly one finish");
    let last = whole.last().unwrap();
    assert!(last.choices.is_empty());
    let u = last.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (30, 15));
    assert!(
        whole
            .iter()
            .all(|c| c.id == "chatcmpl-x" && c.model == "model-x")
    );
}

#[test]
fn tool_and_reasoning_stream_at_every_split_point() {
    let bytes = recorded(STREAM_TOOLS);
    let chunks = run_stream(&bytes, 0, false).unwrap();
    for at in (0..=bytes.len()).step_by(7) {
        assert_eq!(
            run_stream(&bytes, at, false).unwrap(),
            chunks,
            "split at {at}"
        );
    }
    let mut args = [String::new(), String::new()];
    let mut names = Vec::new();
    let mut reasoning = String::new();
    let mut signature = None;
    for c in chunks.iter().flat_map(|c| &c.choices) {
        for tc in c.delta.tool_calls.iter().flatten() {
            let f = tc.function.as_ref().unwrap();
            if let Some(n) = &f.name {
                names.push((tc.index, n.clone(), tc.id.clone().unwrap()));
            }
            args[tc.index as usize].push_str(f.arguments.as_deref().unwrap_or(""));
        }
        reasoning.push_str(c.delta.reasoning_content.as_deref().unwrap_or(""));
        if let Some(tb) = c.delta.extra.get("thinking_blocks") {
            signature = tb[0]["signature"].as_str().map(str::to_owned);
        }
    }
    assert_eq!(
        names,
        [
            (
                0,
                "get_weather".to_owned(),
                "tooluse_hKMrYGexQ_S0qnYQZaPLkg".to_owned()
            ),
            (
                1,
                "get_time".to_owned(),
                "tooluse_2lWxoYw4Qb2f5gQ1Hvs0pQ".to_owned()
            )
        ]
    );
    assert_eq!(
        serde_json::from_str::<Value>(&args[0]).unwrap(),
        json!({"city": "San Francisco"})
    );
    assert_eq!(args[1], r#"{"tz":"PST"}"#);
    assert_eq!(reasoning, "Need the weather.");
    assert_eq!(
        signature.as_deref(),
        Some("ErcBCkgIARABGAIiQMuM7dUrlhttbO8thgbHq2Y8")
    );
    assert_eq!(text_of(&chunks), "Okay, let's check");
    assert_eq!(finishes(&chunks), ["tool_calls"]);
    let u = chunks.last().unwrap().usage.unwrap();
    assert_eq!(u.prompt_tokens, 612);
}

#[test]
fn json_mode_stream_becomes_content() {
    let frames = json!([
        {"event": "messageStart", "payload": {"role": "assistant"}},
        {"event": "contentBlockStart", "payload": {"contentBlockIndex": 0, "start": {"toolUse": {"name": JSON_TOOL, "toolUseId": "t"}}}},
        {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"a\":"}}}},
        {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "1}"}}}},
        {"event": "contentBlockStop", "payload": {"contentBlockIndex": 0}},
        {"event": "messageStop", "payload": {"stopReason": "tool_use"}},
        {"event": "metadata", "payload": {"usage": {"inputTokens": 1, "outputTokens": 0, "totalTokens": 1}}}
    ]);
    let chunks = run_stream(&recorded(&frames.to_string()), 0, true).unwrap();
    assert_eq!(text_of(&chunks), r#"{"a":1}"#);
    assert_eq!(finishes(&chunks), ["stop"]);
    assert!(
        chunks
            .iter()
            .flat_map(|c| &c.choices)
            .all(|c| c.delta.tool_calls.is_none())
    );
    assert_eq!(chunks.last().unwrap().usage.unwrap().completion_tokens, 0);
}

#[test]
fn cut_streams_exceptions_and_bad_frames_are_errors() {
    let frames: Vec<Value> = serde_json::from_str(STREAM_TEXT).unwrap();
    // Cut before messageStop, and between messageStop and metadata.
    for keep in [3, 6] {
        let cut = serde_json::to_string(&frames[..keep]).unwrap();
        let e = run_stream(&recorded(&cut), 0, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StreamInterrupted, "keep {keep}");
    }
    // Cut inside a frame.
    let bytes = recorded(STREAM_TEXT);
    let e = run_stream(&bytes[..bytes.len() - 5], 0, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StreamInterrupted);
    // An exception frame inside the 200.
    for (exception, kind) in [
        ("throttlingException", ErrorKind::UpstreamRateLimited),
        ("modelStreamErrorException", ErrorKind::UpstreamServer),
        ("validationException", ErrorKind::UpstreamBadRequest),
        ("serviceUnavailableException", ErrorKind::UpstreamOverloaded),
        ("internalServerException", ErrorKind::UpstreamServer),
    ] {
        let mut with = frames[..3].to_vec();
        with.push(json!({"exception": exception, "payload": {"message": "mock failure"}}));
        let e =
            run_stream(&recorded(&serde_json::to_string(&with).unwrap()), 0, false).unwrap_err();
        assert_eq!(e.kind(), kind, "{exception}");
        assert_eq!(e.message(), "mock failure");
    }
    // A frame whose checksum is wrong.
    let mut bad = bytes.clone();
    bad[40] ^= 0x20;
    assert_eq!(
        run_stream(&bad, 0, false).unwrap_err().kind(),
        ErrorKind::UpstreamProtocol
    );
    // A payload that does not parse.
    let mut with = frames[..2].to_vec();
    with.push(json!({"event": "contentBlockDelta", "payload": "not an object"}));
    assert_eq!(
        run_stream(&recorded(&serde_json::to_string(&with).unwrap()), 0, false)
            .unwrap_err()
            .kind(),
        ErrorKind::UpstreamProtocol
    );
}
