use bytes::Bytes;
use serde_json::{Value, json};

use super::events::ResponsesEvents;
use super::reply::Output;
use super::request::prepare;
use super::*;
use crate::openai::chat::{ChatChunk, ChatResponse, Message, Role};
use crate::sse::SseDecoder;

const REQUEST: &str = include_str!("../../../tests/fixtures/openai/responses_request_tools.json");
const CHAT_STREAM: &str = include_str!("../../../tests/fixtures/openai/chat_stream_text_tools.sse");

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn head_is_read_and_checked() {
    let p = parse_responses(Bytes::from_static(
        br#"{"model":"m","input":"hi","stream":true}"#,
    ))
    .unwrap();
    assert_eq!(p.head.model, "m");
    assert!(p.head.stream);
    for (b, param) in [
        (&br#"{"input":"hi"}"#[..], "model"),
        (br#"{"model":"m","input":5}"#, "input"),
        (br#"{"model":"m","input":"x","stream":1}"#, "stream"),
    ] {
        let e = parse_responses(Bytes::from_static(b)).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.param(), Some(param));
    }
}

#[test]
fn request_from_fixture() {
    let p = prepare(REQUEST.as_bytes(), Vec::new()).unwrap();
    let v = serde_json::to_value(&p.chat).unwrap();
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(
        msgs[0],
        json!({"role": "system", "content": "You are a weather bot."})
    );
    assert_eq!(
        msgs[1]["content"],
        json!([{"type": "text", "text": "Weather in Paris?"},
               {"type": "image_url", "image_url": {"url": "https://example.com/paris.png", "detail": "low"}}])
    );
    assert_eq!(
        msgs[2],
        json!({"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    );
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "content": "18C, sunny", "tool_call_id": "call_1"})
    );
    assert_eq!(msgs[4], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(msgs[5], json!({"role": "user", "content": "And tomorrow?"}));
    assert_eq!(msgs.len(), 6);
    assert_eq!(v["tools"][0]["function"]["strict"], true);
    assert_eq!(
        v["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    assert_eq!(v["parallel_tool_calls"], false);
    assert_eq!(v["max_tokens"], 300);
    assert_eq!(v["temperature"], 0.5);
    assert_eq!(v["reasoning_effort"], "low");
    assert_eq!(v["response_format"]["type"], "json_schema");
    assert_eq!(v["response_format"]["json_schema"]["name"], "forecast");
    assert_eq!(v["stream"], true);
    assert_eq!(p.dropped, ["include", "text.verbosity"]);
    // The instructions are not kept for the next turn.
    assert_eq!(p.conversation.len(), 5);
    assert!(p.echo.store());
}

#[test]
fn history_is_continued() {
    let history = vec![
        Message::text(Role::User, "My name is Ada."),
        Message::text(Role::Assistant, "Hello Ada."),
    ];
    let p = prepare(
        &body(json!({"model": "m", "input": "What is my name?", "instructions": "Be kind."})),
        history,
    )
    .unwrap();
    let roles: Vec<Role> = p.chat.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::System, Role::User, Role::Assistant, Role::User]
    );
    assert_eq!(p.conversation.len(), 3);
    let e = prepare(&body(json!({"model": "m"})), Vec::new()).unwrap_err();
    assert_eq!(e.param(), Some("input"));
}

#[test]
fn what_chat_cannot_honour_is_refused() {
    for (req, param, needle) in [
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}),
            "tools",
            "`web_search`",
        ),
        (
            json!({"model": "m", "input": "x", "background": true}),
            "background",
            "Background",
        ),
        (
            json!({"model": "m", "input": "x", "prompt": {"id": "pmpt_1"}}),
            "prompt",
            "prompt",
        ),
        (
            json!({"model": "m", "input": "x", "conversation": "conv_1"}),
            "conversation",
            "Conversations",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input",
            "item_reference",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]}),
            "input",
            "file_id",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "file_search"}}),
            "tool_choice",
            "file_search",
        ),
    ] {
        let e = prepare(&body(req), Vec::new()).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.param(), Some(param));
        assert!(e.message().contains(needle), "{}", e.message());
        assert!(e.message().contains("OpenAI or Azure"), "{}", e.message());
    }
}

fn chat_response(v: Value) -> ChatResponse {
    serde_json::from_value(v).unwrap()
}

#[test]
fn response_object_from_chat() {
    let p = prepare(
        &body(json!({"model": "m", "input": "hi", "metadata": {"k": "v"}, "temperature": 0.2})),
        Vec::new(),
    )
    .unwrap();
    let resp = chat_response(
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gemini-2.0-flash",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "prompt_tokens_details": {"cached_tokens": 1}}}),
    );
    let out = Output::of(&resp);
    let r = out.response("resp_abc", 1_700_000_000, &p.echo);
    assert_eq!(r["id"], "resp_abc");
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["model"], "gemini-2.0-flash");
    assert_eq!(r["metadata"], json!({"k": "v"}));
    assert_eq!(r["temperature"], 0.2);
    assert_eq!(r["tools"], json!([]));
    assert_eq!(r["tool_choice"], "auto");
    assert_eq!(r["parallel_tool_calls"], true);
    assert_eq!(
        r["output"],
        json!([{"type": "message", "id": "msg_abc", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}]}])
    );
    assert_eq!(r["usage"]["input_tokens"], 4);
    assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 1);
    assert_eq!(r["usage"]["total_tokens"], 6);
    let a = out.assistant();
    assert_eq!(a.role, Role::Assistant);
    assert_eq!(a.content.unwrap().joined_text(), "Hello!");
}

#[test]
fn tool_calls_reasoning_and_incomplete() {
    let p = prepare(&body(json!({"model": "m", "input": "hi"})), Vec::new()).unwrap();
    let resp = chat_response(
        json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": null,
            "reasoning_content": "Thinking", "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}]}),
    );
    let out = Output::of(&resp);
    let r = out.response("resp_x", 1, &p.echo);
    assert_eq!(r["status"], "incomplete");
    assert_eq!(
        r["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    let items = r["output"].as_array().unwrap();
    assert_eq!(items[0]["type"], "reasoning");
    assert_eq!(items[0]["content"][0]["text"], "Thinking");
    assert_eq!(
        items[1],
        json!({"type": "function_call", "id": "fc_x_0", "call_id": "call_9", "name": "f",
            "arguments": "{\"a\":1}", "status": "completed"})
    );
    assert_eq!(items.len(), 2);
    let a = out.assistant();
    assert!(a.content.is_none());
    assert_eq!(a.tool_calls.unwrap()[0].id, "call_9");
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
    let p = prepare(
        &body(json!({"model": "m", "input": "hi", "stream": true})),
        Vec::new(),
    )
    .unwrap();
    let mut t = ResponsesEvents::new("resp_s1", 7, p.echo);
    let mut ev = Vec::new();
    for c in chunks(CHAT_STREAM) {
        ev.extend(t.on_chunk(&c));
    }
    ev.extend(t.finish());
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(e["sequence_number"], i as u64);
    }
    assert_eq!(ev[0]["response"]["status"], "in_progress");
    assert_eq!(ev[0]["response"]["id"], "resp_s1");
    assert_eq!(ev[2]["item"]["id"], "msg_s1");
    assert_eq!(ev[6]["text"], "Checking now.");
    assert_eq!(ev[9]["item"]["call_id"], "call_abc");
    assert_eq!(ev[9]["output_index"], 1);
    assert_eq!(ev[12]["arguments"], "{\"city\": \"Paris\"}");
    assert_eq!(ev[14]["output_index"], 2);
    let done = &ev[18]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["id"], "resp_s1");
    let out = done["output"].as_array().unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], ev[8]["item"]);
    assert_eq!(out[1], ev[13]["item"]);
    assert_eq!(out[2]["arguments"], "{\"tz\":\"CET\"}");
    assert_eq!(done["usage"]["input_tokens"], 82);
    assert_eq!(done["usage"]["output_tokens"], 31);
    let a = t.output().assistant();
    assert_eq!(a.content.unwrap().joined_text(), "Checking now.");
    assert_eq!(a.tool_calls.unwrap().len(), 2);
    assert!(t.finish().is_empty());
}

#[test]
fn stream_error_event_makes_sdks_raise() {
    let p = prepare(&body(json!({"model": "m", "input": "hi"})), Vec::new()).unwrap();
    let mut t = ResponsesEvents::new("resp_e", 7, p.echo);
    let first: ChatChunk = serde_json::from_value(json!({"id": "c", "object": "chat.completion.chunk", "created": 1,
        "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}))
    .unwrap();
    let n = t.on_chunk(&first).len();
    let e = t.error(&crate::Error::new(
        crate::ErrorKind::StreamInterrupted,
        "cut",
    ));
    assert_eq!(e["type"], "error");
    assert_eq!(e["sequence_number"], n as u64);
    assert_eq!(e["message"], "cut");
    assert_eq!(e["error"]["type"], "server_error");
    assert!(t.finish().is_empty());
}

#[test]
fn history_round_trips_through_input_items() {
    use super::history::{assistant_of, expand_input, input_items};
    let openai_answer = json!({"id": "resp_1", "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Hi Ada."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"}]});
    let a = assistant_of(&openai_answer);
    assert_eq!(a.content.as_ref().unwrap().joined_text(), "Hi Ada.");
    assert_eq!(a.tool_calls.as_ref().unwrap()[0].id, "call_1");
    let history = vec![
        Message::text(Role::User, "I am Ada."),
        a,
        Message {
            tool_call_id: Some("call_1".into()),
            ..Message::text(Role::Tool, "ok")
        },
    ];
    let items = input_items(&history);
    assert_eq!(
        Value::Array(items.clone()),
        json!([{"role": "user", "content": "I am Ada."}, {"role": "assistant", "content": "Hi Ada."},
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "ok"}])
    );
    // Back to chat, the same conversation.
    let p = prepare(&body(json!({"model": "m", "input": items})), Vec::new()).unwrap();
    assert_eq!(p.conversation, history);
    let v = expand_input(&history[..1], Some("\"Who am I?\"")).unwrap();
    assert_eq!(
        v,
        json!([{"role": "user", "content": "I am Ada."}, {"role": "user", "content": "Who am I?"}])
    );
}
