use serde_json::json;

use super::*;
use crate::ErrorKind;
use crate::cohere::stream::CohereStream;
use crate::openai::chat::ChatChunk;
use crate::sse::SseDecoder;
use crate::stream::StreamMachine;

const OPENAI_REQUEST: &str = include_str!("../../../tests/fixtures/openai/chat_request_tools.json");
const RESPONSE_TOOL_CALL: &str =
    include_str!("../../../tests/fixtures/cohere/response_tool_call.json");
const RESPONSE_CITATIONS: &str =
    include_str!("../../../tests/fixtures/cohere/response_citations.json");
const STREAM_TEXT: &str = include_str!("../../../tests/fixtures/cohere/stream_text.sse");
const STREAM_TOOLS: &str = include_str!("../../../tests/fixtures/cohere/stream_tools.sse");
const STREAM_CITATIONS: &str = include_str!("../../../tests/fixtures/cohere/stream_citations.sse");

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn to_json(r: &ChatRequest) -> Value {
    serde_json::to_value(to_cohere(r, "command-a-03-2025").unwrap().value).unwrap()
}

#[test]
fn request_from_openai_fixture() {
    let r: ChatRequest = serde_json::from_str(OPENAI_REQUEST).unwrap();
    let t = to_cohere(&r, "command-a-vision-07-2025").unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v,
        json!({
            "model": "command-a-vision-07-2025",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is the weather in Paris and Rome?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
            "response_format": {"type": "json_object"},
            "max_tokens": 256,
            "temperature": 0.2,
            "seed": 42
        })
    );
    assert_eq!(t.dropped, ["metadata"]);
}

#[test]
fn parameters_and_passthrough() {
    let r = req(json!({"model": "m", "messages": [
            {"role": "developer", "content": "A"}, {"role": "user", "content": "hi", "name": "bob"},
            {"role": "system", "content": "B"}],
        "top_p": 0.9, "stop": ["END", "STOP"], "presence_penalty": 0.1, "frequency_penalty": 0.2,
        "max_tokens": 10, "max_completion_tokens": 20, "stream": true, "stream_options": {"include_usage": true},
        "logit_bias": {"1": 2}, "user": "u", "parallel_tool_calls": false, "logprobs": true,
        "top_k": 40, "safety_mode": "STRICT", "citation_options": {"mode": "FAST"},
        "documents": ["doc one", {"id": "d2", "data": {"text": "doc two"}}], "priority": 1, "store": true}));
    let t = to_cohere(&r, "m").unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v["messages"][0],
        json!({"role": "system", "content": "A\n\nB"})
    );
    assert_eq!(v["messages"].as_array().unwrap().len(), 2);
    assert_eq!(v["p"], 0.9);
    assert_eq!(v["k"], 40);
    assert_eq!(v["stop_sequences"], json!(["END", "STOP"]));
    assert_eq!(v["max_tokens"], 20);
    assert_eq!(v["stream"], true);
    assert_eq!(v["safety_mode"], "STRICT");
    assert_eq!(v["citation_options"], json!({"mode": "FAST"}));
    assert_eq!(v["priority"], 1);
    assert_eq!(
        v["documents"],
        json!(["doc one", {"id": "d2", "data": {"text": "doc two"}}])
    );
    assert!(v.get("stream_options").is_none() && v.get("user").is_none());
    let mut dropped = t.dropped.clone();
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "logit_bias",
            "logprobs",
            "messages[].name",
            "parallel_tool_calls",
            "store",
            "user"
        ]
    );
}

#[test]
fn tool_choices() {
    let tools = json!([{"type": "function", "function": {"name": "a"}},
        {"type": "function", "function": {"name": "b", "strict": true, "parameters": {"type": "object"}}}]);
    let base = |choice: Value| {
        to_json(&req(
            json!({"model": "m", "tools": tools, "tool_choice": choice, "messages": [{"role": "user", "content": "x"}]}),
        ))
    };
    let v = base(json!("required"));
    assert_eq!(v["tool_choice"], "REQUIRED");
    assert_eq!(v["strict_tools"], true);
    assert_eq!(
        v["tools"][0]["function"]["parameters"],
        json!({"type": "object", "properties": {}})
    );
    assert_eq!(base(json!("none"))["tool_choice"], "NONE");
    assert!(base(json!("auto")).get("tool_choice").is_none());
    let v = base(json!({"type": "function", "function": {"name": "b"}}));
    assert_eq!(v["tool_choice"], "REQUIRED");
    assert_eq!(v["tools"].as_array().unwrap().len(), 1);
    assert_eq!(v["tools"][0]["function"]["name"], "b");
    let r = req(
        json!({"model": "m", "tools": tools, "tool_choice": {"type": "function", "function": {"name": "zz"}},
        "messages": [{"role": "user", "content": "x"}]}),
    );
    assert_eq!(to_cohere(&r, "m").unwrap_err().param(), Some("tool_choice"));
}

#[test]
fn meaning_changing_params_are_refused() {
    let e = to_cohere(
        &req(json!({"model": "m", "n": 3, "messages": [{"role": "user", "content": "x"}]})),
        "m",
    )
    .unwrap_err();
    assert_eq!((e.status(), e.param()), (400, Some("n")));
    for (part, param) in [
        (
            json!({"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}),
            "input_audio",
        ),
        (
            json!({"type": "file", "file": {"file_data": "data:application/pdf;base64,AA=="}}),
            "file",
        ),
    ] {
        let r = req(json!({"model": "m", "messages": [{"role": "user", "content": [part]}]}));
        assert_eq!(to_cohere(&r, "m").unwrap_err().param(), Some(param));
    }
    for (k, bad) in [
        ("documents", json!("nope")),
        ("top_k", json!("high")),
        ("safety_mode", json!(1)),
    ] {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        body[k] = bad;
        assert_eq!(to_cohere(&req(body), "m").unwrap_err().param(), Some(k));
    }
}

#[test]
fn json_schema_becomes_json_object_with_schema() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let v = to_json(&req(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": true}}}),
    ));
    assert_eq!(
        v["response_format"],
        json!({"type": "json_object", "json_schema": schema})
    );
    let v = to_json(&req(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "text"}}),
    ));
    assert!(v.get("response_format").is_none());
}

#[test]
fn response_with_parallel_tool_calls() {
    let resp: CoResponse = serde_json::from_str(RESPONSE_TOOL_CALL).unwrap();
    let oa = from_cohere(resp, "command-a-03-2025", 7).unwrap();
    let c = &oa.choices[0];
    assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        c.message.content.as_deref(),
        Some("I will search for the weather in Madrid and Brasilia.")
    );
    let calls = c.message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].id, "get_weather_gh65bt2tcdy1");
    assert_eq!(calls[1].function.arguments, r#"{"location":"Brasilia"}"#);
    let u = oa.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (913, 83, 996)
    );
    assert_eq!(
        oa.extra["billed_units"],
        json!({"input_tokens": 37, "output_tokens": 28})
    );
    assert_eq!(oa.model, "command-a-03-2025");
    assert_eq!(oa.id, "5d5d4d7c-3f25-4b0c-9a53-8a0b5c8a6f21");

    // Sent back as the next turn, the plan returns to `tool_plan`.
    let mut assistant = serde_json::to_value(&c.message).unwrap();
    assistant["role"] = json!("assistant");
    let v = to_json(&req(json!({"model": "m", "messages": [
        {"role": "user", "content": "weather?"}, assistant,
        {"role": "tool", "tool_call_id": "get_weather_dkf0akqdazjb", "content": [{"type": "text", "text": "24C"}]}]})));
    assert_eq!(
        v["messages"][1]["tool_plan"],
        "I will search for the weather in Madrid and Brasilia."
    );
    assert!(v["messages"][1].get("content").is_none());
    assert_eq!(
        v["messages"][1]["tool_calls"][0]["id"],
        "get_weather_dkf0akqdazjb"
    );
    assert_eq!(
        v["messages"][2],
        json!({"role": "tool", "tool_call_id": "get_weather_dkf0akqdazjb", "content": "24C"})
    );
}

#[test]
fn response_with_citations_and_thinking() {
    let resp: CoResponse = serde_json::from_str(RESPONSE_CITATIONS).unwrap();
    let oa = from_cohere(resp, "m", 0).unwrap();
    let msg = &oa.choices[0].message;
    assert!(
        msg.content
            .as_deref()
            .unwrap()
            .starts_with("Yes, we offer gym")
    );
    assert_eq!(msg.extra["citations"][0]["sources"][0]["id"], "doc:1");
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(oa.usage.unwrap().prompt_tokens, 1118);

    let resp: CoResponse = serde_json::from_value(json!({"id": "r", "finish_reason": "MAX_TOKENS",
        "message": {"role": "assistant", "content": [{"type": "thinking", "thinking": "Hmm."}, {"type": "text", "text": "Part"}]},
        "usage": {"billed_units": {"input_tokens": 0, "output_tokens": 0}}}))
    .unwrap();
    let oa = from_cohere(resp, "m", 0).unwrap();
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("length"));
    assert_eq!(
        oa.choices[0].message.reasoning_content.as_deref(),
        Some("Hmm.")
    );
    // Only billed units reported, both zero: an explicit zero stays zero.
    let u = oa.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (0, 0));

    // A reasoning turn sent back becomes a thinking block.
    let v = to_json(&req(json!({"model": "m", "messages": [
        {"role": "assistant", "content": "Part", "reasoning_content": "Hmm."}]})));
    assert_eq!(
        v["messages"][0]["content"],
        json!([{"type": "thinking", "thinking": "Hmm."}, {"type": "text", "text": "Part"}])
    );
}

#[test]
fn failures_and_missing_usage() {
    let resp: CoResponse = serde_json::from_value(
        json!({"id": "r", "finish_reason": "ERROR", "message": {"role": "assistant"}}),
    )
    .unwrap();
    assert_eq!(
        from_cohere(resp, "m", 0).unwrap_err().kind(),
        ErrorKind::UpstreamServer
    );
    let resp: CoResponse = serde_json::from_value(json!({"id": "r", "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}}))
    .unwrap();
    let oa = from_cohere(resp, "m", 0).unwrap();
    assert!(
        oa.usage.is_none(),
        "no usage reported: the gateway estimates"
    );
    assert!(!oa.extra.contains_key("billed_units"));
}

/// Runs a recorded stream through the decoder and translator, split at `at`.
fn run_stream(sse: &str, at: usize) -> Result<Vec<ChatChunk>, Error> {
    let mut dec = SseDecoder::default();
    let mut m = CohereStream::new("command-a-03-2025", 1);
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

fn finishes(chunks: &[ChatChunk]) -> Vec<String> {
    chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.finish_reason.clone())
        .collect()
}

#[test]
fn streams_at_every_split_point() {
    for sse in [STREAM_TEXT, STREAM_TOOLS, STREAM_CITATIONS] {
        let whole = run_stream(sse, 0).unwrap();
        // Byte offsets, so multi-byte characters (°) are split too.
        for at in 0..=sse.len() {
            assert_eq!(run_stream(sse, at).unwrap(), whole, "split at {at}");
        }
    }
}

#[test]
fn text_stream() {
    let chunks = run_stream(STREAM_TEXT, 0).unwrap();
    assert_eq!(text_of(&chunks), "Coca-Cola is a carbonated soft drink.");
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(chunks[0].id, "a8fc192e-4bb8-4e15-ae1f-a174e8b02ae8");
    assert_eq!(chunks[0].model, "command-a-03-2025");
    assert_eq!(finishes(&chunks), ["stop"], "exactly one finish");
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let u = last.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (186, 105));
    assert_eq!(
        last.extra["billed_units"],
        json!({"input_tokens": 21, "output_tokens": 105}),
        "billed units are passed on exactly as Cohere sent them"
    );
}

#[test]
fn tool_stream() {
    let chunks = run_stream(STREAM_TOOLS, 0).unwrap();
    let mut args = [String::new(), String::new()];
    let mut names = Vec::new();
    for c in chunks.iter().flat_map(|c| &c.choices) {
        for tc in c.delta.tool_calls.iter().flatten() {
            let f = tc.function.as_ref().unwrap();
            if let Some(n) = &f.name {
                names.push((tc.index, n.clone(), tc.id.clone().unwrap()));
            }
            args[tc.index as usize].push_str(f.arguments.as_deref().unwrap_or(""));
        }
    }
    assert_eq!(
        names,
        [
            (
                0,
                "get_weather".to_owned(),
                "get_weather_p1t92w7gfgq7".to_owned()
            ),
            (
                1,
                "get_weather".to_owned(),
                "get_weather_ay6nmvjgp9vn".to_owned()
            )
        ]
    );
    assert_eq!(
        serde_json::from_str::<Value>(&args[1]).unwrap(),
        json!({"location": "Brasilia"})
    );
    assert_eq!(text_of(&chunks), "I will search for the weather.");
    assert_eq!(finishes(&chunks), ["tool_calls"]);
    let u = chunks.last().unwrap().usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (913, 83));
}

#[test]
fn citation_stream() {
    let chunks = run_stream(STREAM_CITATIONS, 0).unwrap();
    let cites: Vec<&Value> = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.extra.get("citations"))
        .collect();
    assert_eq!(cites.len(), 1);
    assert_eq!(cites[0][0]["text"], "24°C");
    assert_eq!(text_of(&chunks), "It is currently 24°C in Madrid.");
}

#[test]
fn broken_streams_are_errors() {
    let cut = &STREAM_TEXT[..STREAM_TEXT.find("event: message-end").unwrap()];
    assert_eq!(
        run_stream(cut, 0).unwrap_err().kind(),
        ErrorKind::StreamInterrupted
    );
    let failed = format!(
        "{cut}event: message-end\ndata: {{\"type\":\"message-end\",\"delta\":{{\"finish_reason\":\"ERROR\",\"error\":\"model overloaded\"}}}}\n\n"
    );
    let e = run_stream(&failed, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UpstreamServer);
    assert!(e.message().contains("model overloaded"));
    let malformed = format!("{cut}event: content-delta\ndata: {{\"type\":\"content-del\n\n");
    assert_eq!(
        run_stream(&malformed, 0).unwrap_err().kind(),
        ErrorKind::UpstreamProtocol
    );
    let untyped = format!("{cut}data: {{\"message\":\"streaming error\"}}\n\n");
    assert_eq!(
        run_stream(&untyped, 0).unwrap_err().kind(),
        ErrorKind::UpstreamServer
    );
    // No usage on message-end: no usage chunk, the gateway estimates.
    let no_usage = format!(
        "{cut}event: message-end\ndata: {{\"type\":\"message-end\",\"delta\":{{\"finish_reason\":\"STOP_SEQUENCE\"}}}}\n\n"
    );
    let chunks = run_stream(&no_usage, 0).unwrap();
    assert!(chunks.iter().all(|c| c.usage.is_none()));
    assert_eq!(finishes(&chunks), ["stop"]);
    // Unknown event types are skipped; `data` without `type` takes the event name.
    let extra = format!(
        "{cut}event: something-new\ndata: {{\"type\":\"something-new\"}}\n\nevent: message-end\ndata: {{\"delta\":{{\"finish_reason\":\"MAX_TOKENS\"}}}}\n\n"
    );
    assert_eq!(finishes(&run_stream(&extra, 0).unwrap()), ["length"]);
}
