use bytes::Bytes;
use serde_json::{Value, json};

use super::events::{MessagesEvents, error_event, event_name};
use super::reply::from_chat;
use super::*;
use crate::openai::chat::{ChatChunk, ChatResponse};
use crate::sse::SseDecoder;

const REQUEST: &str = include_str!("../../../tests/fixtures/anthropic/messages_request_full.json");
const CHAT_STREAM: &str = include_str!("../../../tests/fixtures/openai/chat_stream_text_tools.sse");
const CHAT_RESPONSE: &str =
    include_str!("../../../tests/fixtures/openai/chat_response_tool_calls.json");

fn chat(v: Value) -> Result<Translated<ChatRequest>, Error> {
    to_chat(&serde_json::to_vec(&v).unwrap())
}

#[test]
fn head_checks_follow_the_real_api() {
    let p = parse_messages(Bytes::from_static(
        br#"{"model":"claude","max_tokens":10,"messages":[],"stream":true}"#,
    ))
    .unwrap();
    assert_eq!(p.head.model, "claude");
    assert!(p.head.stream);
    for (body, param) in [
        (&br#"{"max_tokens":1,"messages":[]}"#[..], Some("model")),
        (br#"{"model":"m","messages":[]}"#, Some("max_tokens")),
        (
            br#"{"model":"m","max_tokens":-1,"messages":[]}"#,
            Some("max_tokens"),
        ),
        (br#"{"model":"m","max_tokens":1}"#, Some("messages")),
        (
            br#"{"model":"m","max_tokens":1,"messages":{}}"#,
            Some("messages"),
        ),
        (
            br#"{"model":"m","max_tokens":1,"messages":[],"stream":"y"}"#,
            Some("stream"),
        ),
        (b"{nope", None),
    ] {
        let e = parse_messages(Bytes::from_static(body)).unwrap_err();
        assert_eq!(e.status(), 400, "{body:?}");
        assert_eq!(e.param(), param, "{body:?}");
    }
}

#[test]
fn full_request_from_fixture() {
    let t = to_chat(REQUEST.as_bytes()).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["max_tokens"], 512);
    assert_eq!(v["temperature"], 0.3);
    assert_eq!(v["stop"], json!(["END"]));
    assert_eq!(v["user"], "user-42");
    assert_eq!(v["stream"], true);
    // Usage is asked for by each adapter (OpenAI-wire upstreams get
    // `stream_options` patched in where supported).
    assert!(v.get("stream_options").is_none());
    assert_eq!(v["parallel_tool_calls"], false);
    assert_eq!(v["tool_choice"], "auto");
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(
        msgs[0],
        json!({"role": "system", "content": "You are a weather bot.\nAnswer in one line."})
    );
    assert_eq!(msgs[1]["role"], "user");
    assert_eq!(
        msgs[1]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}})
    );
    // Thinking is not sent to other providers; text and the call are.
    assert_eq!(
        msgs[2],
        json!({"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    );
    // The tool result answers the call first, then the user's text.
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "content": "18C, sunny", "tool_call_id": "toolu_01A"})
    );
    assert_eq!(msgs[4], json!({"role": "user", "content": "And tomorrow?"}));
    assert_eq!(msgs.len(), 5);
    assert_eq!(
        v["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
    );
    assert_eq!(t.dropped, ["cache_control", "thinking", "top_k"]);
}

#[test]
fn tool_choice_forms() {
    let base = |choice: Value| {
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": choice})
    };
    let v = serde_json::to_value(chat(base(json!({"type": "any"}))).unwrap().value).unwrap();
    assert_eq!(v["tool_choice"], "required");
    assert!(v.get("parallel_tool_calls").is_none());
    let v = serde_json::to_value(
        chat(base(json!({"type": "tool", "name": "f"})))
            .unwrap()
            .value,
    )
    .unwrap();
    assert_eq!(
        v["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    let v = serde_json::to_value(chat(base(json!({"type": "none"}))).unwrap().value).unwrap();
    assert_eq!(v["tool_choice"], "none");
    assert_eq!(
        chat(base(json!({"type": "tool"}))).unwrap_err().status(),
        400
    );
    assert_eq!(
        chat(base(json!({"type": "sometimes"})))
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn anthropic_only_features_are_refused_clearly() {
    let msg = |content: Value| json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": content}]});
    let mut server_tool = msg(json!("search the web"));
    server_tool["tools"] =
        json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]);
    let mut mcp = msg(json!("hi"));
    mcp["mcp_servers"] = json!([{"type": "url", "url": "https://mcp.example", "name": "x"}]);
    for (body, param, needle) in [
        (server_tool, "tools", "web_search_20250305"),
        (mcp, "mcp_servers", "mcp_servers"),
        (
            msg(json!([{"type": "image", "source": {"type": "file", "file_id": "file_1"}}])),
            "messages",
            "file id",
        ),
        (
            msg(json!([{"type": "search_result", "source": "s", "title": "t", "content": []}])),
            "messages",
            "search_result",
        ),
        (
            msg(
                json!([{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]),
            ),
            "messages",
            "inside a tool result",
        ),
    ] {
        let e = chat(body).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedParam);
        assert_eq!(e.status(), 400);
        assert_eq!(e.param(), Some(param));
        assert!(e.message().contains(needle), "{}", e.message());
        assert!(
            e.message().contains("Anthropic upstream"),
            "{}",
            e.message()
        );
    }
}

#[test]
fn documents_and_text_sources() {
    let t = chat(json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "document", "title": "spec.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain text"}, "citations": {"enabled": true}},
        {"type": "text", "text": "Summarise"}]}]}))
    .unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    let parts = &v["messages"][0]["content"];
    assert_eq!(
        parts[0],
        json!({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "spec.pdf"}})
    );
    assert_eq!(parts[1], json!({"type": "text", "text": "plain text"}));
    assert_eq!(t.dropped, ["citations"]);
}

#[test]
fn response_from_chat_fixture() {
    let resp: ChatResponse = serde_json::from_str(CHAT_RESPONSE).unwrap();
    let m = serde_json::to_value(from_chat(resp.clone())).unwrap();
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert!(m["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["stop_sequence"], Value::Null);
    let calls: Vec<&Value> = m["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .collect();
    assert_eq!(
        calls.len(),
        resp.choices[0].message.tool_calls.as_ref().unwrap().len()
    );
    assert!(calls[0]["input"].is_object());
    let u = resp.usage.unwrap();
    assert_eq!(
        m["usage"]["input_tokens"].as_u64().unwrap()
            + m["usage"]["cache_read_input_tokens"].as_u64().unwrap(),
        u.prompt_tokens
    );
    assert_eq!(m["usage"]["output_tokens"], u.completion_tokens);
}

#[test]
fn response_text_reasoning_and_stop_reasons() {
    let resp: ChatResponse = serde_json::from_value(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "deepseek-reasoner",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant",
            "content": "Partial", "reasoning_content": "Thinking it over"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}))
    .unwrap();
    let m = serde_json::to_value(from_chat(resp)).unwrap();
    assert_eq!(m["id"], "msg_chatcmpl-1");
    assert_eq!(
        m["content"],
        json!([{"type": "thinking", "thinking": "Thinking it over", "signature": ""},
               {"type": "text", "text": "Partial"}])
    );
    assert_eq!(m["stop_reason"], "max_tokens");
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 10, "output_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
    assert_eq!(reply::stop_reason(Some("content_filter"), false), "refusal");
    assert_eq!(reply::stop_reason(Some("stop"), true), "tool_use");
    assert_eq!(reply::stop_reason(None, false), "end_turn");
    assert_eq!(reply::tool_input("not json"), json!("not json"));
}

fn chunks(sse: &str) -> Vec<ChatChunk> {
    let mut dec = SseDecoder::default();
    dec.push(sse.as_bytes());
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        if ev.data.as_ref() != b"[DONE]" {
            out.push(serde_json::from_slice(&ev.data).unwrap());
        }
    }
    out
}

#[test]
fn stream_events_from_chat_fixture() {
    let mut t = MessagesEvents::new();
    let mut events = Vec::new();
    for c in chunks(CHAT_STREAM) {
        events.extend(t.on_chunk(&c));
    }
    events.extend(t.finish());
    let names: Vec<&str> = events.iter().map(event_name).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let v: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(v[0]["message"]["id"], "msg_chatcmpl-9x");
    assert_eq!(v[0]["message"]["model"], "gpt-4o-2024-08-06");
    assert_eq!(v[0]["message"]["content"], json!([]));
    assert_eq!(v[1]["content_block"], json!({"type": "text", "text": ""}));
    assert_eq!(
        v[3]["delta"],
        json!({"type": "text_delta", "text": " now."})
    );
    assert_eq!(
        v[5]["content_block"],
        json!({"type": "tool_use", "id": "call_abc", "name": "get_weather", "input": {}})
    );
    assert_eq!(v[5]["index"], 1);
    let args: String = v[6..8]
        .iter()
        .map(|e| e["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(v[9]["index"], 2);
    assert_eq!(v[10]["delta"]["partial_json"], "{\"tz\":\"CET\"}");
    assert_eq!(
        v[12],
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": 31, "input_tokens": 18, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64}})
    );
    assert_eq!(v[13], json!({"type": "message_stop"}));
    // Nothing after the end.
    assert!(t.finish().is_empty());
}

#[test]
fn stream_reasoning_then_text_and_signatures() {
    let mut t = MessagesEvents::new();
    let chunk = |delta: Value, finish: Value| -> ChatChunk {
        serde_json::from_value(
            json!({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
        .unwrap()
    };
    let mut ev = t.on_chunk(&chunk(json!({"reasoning_content": "Hmm"}), Value::Null));
    ev.extend(t.on_chunk(&chunk(
        json!({"thinking_blocks": [{"type": "thinking", "thinking": "Hmm", "signature": "sig-1"}]}),
        Value::Null,
    )));
    ev.extend(t.on_chunk(&chunk(json!({"content": "Answer"}), json!("stop"))));
    ev.extend(t.finish());
    let v: Vec<Value> = ev
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(
        v[1]["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    assert_eq!(
        v[2]["delta"],
        json!({"type": "thinking_delta", "thinking": "Hmm"})
    );
    assert_eq!(
        v[3]["delta"],
        json!({"type": "signature_delta", "signature": "sig-1"})
    );
    assert_eq!(v[4], json!({"type": "content_block_stop", "index": 0}));
    assert_eq!(v[5]["index"], 1);
    assert_eq!(v[7], json!({"type": "content_block_stop", "index": 1}));
    assert_eq!(v[8]["delta"]["stop_reason"], "end_turn");
    // Without reported usage the delta still carries zero counts.
    assert_eq!(v[8]["usage"]["output_tokens"], 0);
}

#[test]
fn error_event_shape() {
    let e = Error::new(ErrorKind::UpstreamOverloaded, "busy");
    let v = serde_json::to_value(error_event(&e)).unwrap();
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    );
}
