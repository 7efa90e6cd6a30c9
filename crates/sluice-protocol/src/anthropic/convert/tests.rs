use serde_json::json;

use super::*;
use crate::anthropic::stream::AnthropicStream;
use crate::openai::chat::ChatChunk;
use crate::sse::SseDecoder;
use crate::stream::StreamMachine;

const OPENAI_REQUEST: &str = include_str!("../../../tests/fixtures/openai/chat_request_tools.json");
const RESPONSE_TOOL_USE: &str =
    include_str!("../../../tests/fixtures/anthropic/response_tool_use.json");
const STREAM_TEXT: &str = include_str!("../../../tests/fixtures/anthropic/stream_text.sse");
const STREAM_TOOLS: &str = include_str!("../../../tests/fixtures/anthropic/stream_tools.sse");

fn req(v: serde_json::Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

#[test]
fn request_from_openai_fixture() {
    let r: ChatRequest = serde_json::from_str(OPENAI_REQUEST).unwrap();
    let t = to_anthropic(&r, "claude-sonnet-4-5", 4096).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["system"], "You are terse.");
    assert_eq!(v["max_tokens"], 256);
    assert_eq!(v["temperature"], 0.2);
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(
        msgs[0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(
        msgs[1]["content"][0],
        json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(
        msgs[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_1", "content": "18C, sunny"})
    );
    assert_eq!(v["tools"][0]["input_schema"]["required"], json!(["city"]));
    // JSON mode becomes a forced tool.
    assert_eq!(v["tools"][1]["name"], JSON_TOOL);
    assert_eq!(v["tool_choice"], json!({"type": "tool", "name": JSON_TOOL}));
    assert_eq!(t.dropped, ["metadata", "seed"]);
}

#[test]
fn max_tokens_defaults_and_roles_merge() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "developer", "content": "A"}, {"role": "system", "content": "B"},
        {"role": "user", "content": "one"}, {"role": "user", "content": [{"type": "text", "text": "two", "cache_control": {"type": "ephemeral"}}]},
    ], "stop": "END", "user": "u1", "parallel_tool_calls": false,
       "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"}));
    let v = serde_json::to_value(to_anthropic(&r, "m", 1000).unwrap().value).unwrap();
    assert_eq!(v["max_tokens"], 1000);
    assert_eq!(v["system"], "A\n\nB");
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["messages"][0]["content"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(v["stop_sequences"], json!(["END"]));
    assert_eq!(v["metadata"], json!({"user_id": "u1"}));
    assert_eq!(
        v["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        v["tools"][0]["input_schema"],
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn meaning_changing_params_are_refused() {
    let r = req(json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}));
    let e = to_anthropic(&r, "m", 10).unwrap_err();
    assert_eq!(e.status(), 400);
    assert_eq!(e.param(), Some("n"));
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}]}),
    );
    assert_eq!(
        to_anthropic(&r, "m", 10).unwrap_err().param(),
        Some("input_audio")
    );
}

#[test]
fn thinking_blocks_round_trip_to_the_next_turn() {
    let resp: MessagesResponse = serde_json::from_str(RESPONSE_TOOL_USE).unwrap();
    let oa = from_anthropic(resp, 7, false);
    let msg = &oa.choices[0].message;
    let blocks = msg.extra["thinking_blocks"].clone();
    assert_eq!(
        blocks[0]["signature"],
        "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
    );
    // The client sends the assistant message back: the signature survives.
    let mut next = serde_json::to_value(msg).unwrap();
    next["role"] = json!("assistant");
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "q"}, next,
        {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "sunny"}]}),
    );
    let v = serde_json::to_value(to_anthropic(&r, "m", 10).unwrap().value).unwrap();
    assert_eq!(v["messages"][1]["content"][0]["type"], "thinking");
    assert_eq!(
        v["messages"][1]["content"][0]["signature"],
        blocks[0]["signature"]
    );
}

#[test]
fn response_from_documented_example() {
    let resp: MessagesResponse = serde_json::from_str(RESPONSE_TOOL_USE).unwrap();
    let oa = from_anthropic(resp, 7, false);
    let c = &oa.choices[0];
    assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        c.message.content.as_deref(),
        Some("I'll check the weather in both cities.")
    );
    assert_eq!(
        c.message.reasoning_content.as_deref(),
        Some("The user wants the weather.")
    );
    let calls = c.message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].function.arguments, r#"{"city":"Rome"}"#);
    let u = oa.usage.unwrap();
    assert_eq!(u.prompt_tokens, 472 + 100 + 2000);
    assert_eq!(u.prompt_tokens_details.unwrap().cached_tokens, 2000);
    assert_eq!(u.completion_tokens, 91);
}

#[test]
fn json_mode_tool_becomes_content() {
    let resp: MessagesResponse = serde_json::from_value(json!({
        "id": "m", "model": "c", "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 2},
        "content": [{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"answer": 42}}]})).unwrap();
    let oa = from_anthropic(resp, 0, true);
    assert_eq!(
        oa.choices[0].message.content.as_deref(),
        Some(r#"{"answer":42}"#)
    );
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("stop"));
    assert!(oa.choices[0].message.tool_calls.is_none());
}

/// Runs a recorded stream through the decoder and translator, split at `at`.
fn run_stream(sse: &str, at: usize, json_mode: bool) -> Result<Vec<ChatChunk>, Error> {
    let mut dec = SseDecoder::default();
    let mut m = AnthropicStream::new(1, json_mode);
    let mut out = Vec::new();
    for part in [&sse.as_bytes()[..at], &sse.as_bytes()[at..]] {
        dec.push(part);
        while let Some(ev) = dec.next_event().unwrap() {
            out.extend(m.on_event(ev)?);
        }
    }
    if let Some(ev) = dec.finish().unwrap() {
        out.extend(m.on_event(ev)?);
    }
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

#[test]
fn text_stream_at_every_split_point() {
    let whole = run_stream(STREAM_TEXT, 0, false).unwrap();
    for at in 0..=STREAM_TEXT.len() {
        assert_eq!(
            run_stream(STREAM_TEXT, at, false).unwrap(),
            whole,
            "split at {at}"
        );
    }
    assert_eq!(text_of(&whole), "Hello!");
    assert_eq!(whole[0].choices[0].delta.role.as_deref(), Some("assistant"));
    let finish: Vec<_> = whole
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.finish_reason.clone())
        .collect();
    assert_eq!(finish, ["stop"], "exactly one finish");
    let last = whole.last().unwrap();
    assert!(last.choices.is_empty());
    let u = last.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (30, 15));
    assert_eq!(last.id, "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
}

#[test]
fn tool_and_thinking_stream() {
    let chunks = run_stream(STREAM_TOOLS, 0, false).unwrap();
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
        names[0],
        (
            0,
            "get_weather".to_owned(),
            "toolu_01T1x1fJ34qAmk2tNTrN7Up6".to_owned()
        )
    );
    assert_eq!(names[1].1, "get_time");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&args[0]).unwrap(),
        json!({"city": "San Francisco"})
    );
    assert_eq!(args[1], r#"{"tz":"PST"}"#);
    assert_eq!(reasoning, "Need the weather.");
    assert_eq!(
        signature.as_deref(),
        Some("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds")
    );
    assert_eq!(text_of(&chunks), "Okay, let's check");
    let finish: Vec<_> = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.finish_reason.clone())
        .collect();
    assert_eq!(finish, ["tool_calls"]);
}

#[test]
fn cut_stream_is_an_error_and_error_events_are_typed() {
    let cut = &STREAM_TEXT[..STREAM_TEXT.find("event: message_delta").unwrap()];
    let e = run_stream(cut, 0, false).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::StreamInterrupted);
    let with_error = format!(
        "{cut}event: error\ndata: {{\"type\": \"error\", \"error\": {{\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}}}\n\n"
    );
    let e = run_stream(&with_error, 0, false).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::UpstreamOverloaded);
    let malformed = format!("{cut}event: content_block_delta\ndata: {{\"type\": \"content_bl\n\n");
    assert_eq!(
        run_stream(&malformed, 0, false).unwrap_err().kind(),
        crate::ErrorKind::UpstreamProtocol
    );
}
