use serde_json::json;

use super::*;
use crate::ErrorKind;
use crate::gemini::stream::GeminiStream;
use crate::openai::chat::ChatChunk;
use crate::sse::SseDecoder;
use crate::stream::StreamMachine;

const OPENAI_REQUEST: &str = include_str!("../../../tests/fixtures/openai/chat_request_tools.json");
const RESPONSE_CALLS: &str =
    include_str!("../../../tests/fixtures/gemini/response_function_call.json");
const RESPONSE_BLOCKED: &str = include_str!("../../../tests/fixtures/gemini/response_blocked.json");
const STREAM_TEXT: &str = include_str!("../../../tests/fixtures/gemini/stream_text.sse");
const STREAM_TOOLS: &str = include_str!("../../../tests/fixtures/gemini/stream_tools.sse");

fn req(v: serde_json::Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn wire(r: &ChatRequest) -> serde_json::Value {
    serde_json::to_value(to_gemini(r).unwrap().value).unwrap()
}

#[test]
fn request_from_openai_fixture() {
    let r: ChatRequest = serde_json::from_str(OPENAI_REQUEST).unwrap();
    let t = to_gemini(&r).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v["systemInstruction"],
        json!({"parts": [{"text": "You are terse."}]})
    );
    assert_eq!(
        v["contents"],
        json!([
            {"role": "user", "parts": [
                {"text": "What is the weather in Paris and Rome?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                "response": {"content": "18C, sunny"}}}]}
        ])
    );
    assert_eq!(
        v["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}])
    );
    assert_eq!(
        v["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        v["generationConfig"],
        json!({"temperature": 0.2, "maxOutputTokens": 256, "seed": 42, "responseMimeType": "application/json"})
    );
    assert_eq!(t.dropped, ["metadata"]);
}

#[test]
fn generation_config_tool_choice_and_thinking() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "developer", "content": "A"}, {"role": "system", "content": "B"},
        {"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
        "n": 2, "top_p": 0.9, "stop": ["END"], "presence_penalty": 0.5, "frequency_penalty": 0.25,
        "max_tokens": 50, "reasoning_effort": "low", "top_k": 40, "logit_bias": {"1": 2}, "user": "u",
        "parallel_tool_calls": false,
        "tools": [{"type": "function", "function": {"name": "f", "strict": true,
            "parameters": {"type": "object", "properties": {}, "additionalProperties": false}}},
            {"type": "function", "function": {"name": "g"}}],
        "tool_choice": {"type": "function", "function": {"name": "g"}},
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]}));
    let t = to_gemini(&r).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v["systemInstruction"]["parts"],
        json!([{"text": "A"}, {"text": "B"}])
    );
    assert_eq!(
        v["contents"],
        json!([{"role": "user", "parts": [{"text": "one"}, {"text": "two"}]}])
    );
    assert_eq!(
        v["generationConfig"],
        json!({"candidateCount": 2, "topP": 0.9, "topK": 40, "stopSequences": ["END"],
            "presencePenalty": 0.5, "frequencyPenalty": 0.25, "maxOutputTokens": 50,
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}})
    );
    assert_eq!(
        v["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}})
    );
    // A function without properties is declared without parameters.
    assert_eq!(
        v["tools"][0]["functionDeclarations"][0],
        json!({"name": "f"})
    );
    assert_eq!(v["safetySettings"][0]["threshold"], "BLOCK_NONE");
    assert_eq!(
        t.dropped,
        [
            "logit_bias",
            "parallel_tool_calls",
            "tools.function.parameters.additionalProperties",
            "tools.function.strict",
            "user"
        ]
    );
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}],
        "tool_choice": "required"}),
    );
    assert_eq!(
        wire(&r)["toolConfig"]["functionCallingConfig"],
        json!({"mode": "ANY"})
    );
}

#[test]
fn json_schema_mode_cleans_the_schema() {
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "strict": true, "schema": {
            "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
            "additionalProperties": false}}}}),
    );
    let t = to_gemini(&r).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        v["generationConfig"]["responseSchema"],
        json!({"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}, "required": ["answer"]})
    );
    assert_eq!(
        t.dropped,
        [
            "response_format.json_schema.schema.additionalProperties",
            "response_format.json_schema.strict"
        ]
    );
}

#[test]
fn refusals_are_clear_400s() {
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
    );
    let e = to_gemini(&r).unwrap_err();
    assert_eq!(e.status(), 400);
    assert_eq!(e.param(), Some("image_url"));
    assert!(e.message().contains("data:"), "{}", e.message());
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "q"},
        {"role": "tool", "tool_call_id": "nowhere", "content": "x"}]}),
    );
    assert_eq!(to_gemini(&r).unwrap_err().param(), Some("messages"));
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "q"}],
        "tools": [{"type": "custom", "function": {"name": "f"}}]}),
    );
    assert_eq!(to_gemini(&r).unwrap_err().param(), Some("tools"));
}

#[test]
fn audio_is_inline_data_and_json_results_stay_objects() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"ok\": true}"}]}));
    let v = wire(&r);
    assert_eq!(
        v["contents"][0]["parts"][0],
        json!({"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}})
    );
    assert_eq!(
        v["contents"][1]["parts"][0]["functionCall"]["args"],
        json!({})
    );
    assert_eq!(
        v["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "f", "response": {"ok": true}})
    );
}

#[test]
fn response_from_documented_example() {
    let resp: GenerateContentResponse = serde_json::from_str(RESPONSE_CALLS).unwrap();
    let oa = from_gemini(resp, 7, "fallback").unwrap();
    assert_eq!(oa.id, "chatcmpl-mdJ0aPnVBOCU7M8Pv4yq4Qc");
    assert_eq!(oa.model, "gemini-2.5-flash");
    let c = &oa.choices[0];
    assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        c.message.content.as_deref(),
        Some("Let me check both cities.")
    );
    assert_eq!(
        c.message.reasoning_content.as_deref(),
        Some("The user wants the weather in two cities.")
    );
    let calls = c.message.tool_calls.as_ref().unwrap();
    assert_eq!(
        calls[0].id,
        "call_mdJ0aPnVBOCU7M8Pv4yq4Qc_0~ts~CiwBVKhc7qN3c2lnMQ=="
    );
    assert_eq!(calls[1].id, "call_mdJ0aPnVBOCU7M8Pv4yq4Qc_1");
    assert_eq!(calls[1].function.arguments, r#"{"city":"Rome"}"#);
    let u = oa.usage.unwrap();
    assert_eq!(u.prompt_tokens, 120);
    assert_eq!(u.completion_tokens, 24 + 30);
    assert_eq!(u.total_tokens, 174);
    assert_eq!(u.prompt_tokens_details.unwrap().cached_tokens, 64);
    assert_eq!(u.completion_tokens_details.unwrap().reasoning_tokens, 30);

    // The assistant turn goes back with its calls and the signature.
    let mut next = serde_json::to_value(&c.message).unwrap();
    next["role"] = json!("assistant");
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "q"}, next,
        {"role": "tool", "tool_call_id": calls[0].id, "content": "18C"},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "21C"}]}),
    );
    let t = to_gemini(&r).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v["contents"][1]["parts"][1],
        json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": "CiwBVKhc7qN3c2lnMQ=="})
    );
    assert_eq!(v["contents"][2]["parts"].as_array().unwrap().len(), 2);
    assert_eq!(t.dropped, ["messages.reasoning_content"]);
}

#[test]
fn finish_reasons_and_explicit_zero_usage() {
    let resp: GenerateContentResponse = serde_json::from_value(json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "cut"}]}, "finishReason": "MAX_TOKENS"},
            {"index": 1, "finishReason": "SAFETY"}],
        "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}}))
    .unwrap();
    let oa = from_gemini(resp, 1, "gemini-x").unwrap();
    assert_eq!(oa.model, "gemini-x");
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("length"));
    assert_eq!(
        oa.choices[1].finish_reason.as_deref(),
        Some("content_filter")
    );
    assert_eq!(oa.choices[1].message.content.as_deref(), Some(""));
    let u = oa.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (0, 0));
    for (r, f) in [
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("STOP", "stop"),
        ("OTHER", "stop"),
    ] {
        assert_eq!(finish_reason(r, false), f);
    }
    let resp: GenerateContentResponse =
        serde_json::from_value(json!({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}))
            .unwrap();
    assert!(from_gemini(resp, 1, "m").unwrap().usage.is_none());
}

#[test]
fn blocked_prompt_is_a_content_filter_error() {
    let resp: GenerateContentResponse = serde_json::from_str(RESPONSE_BLOCKED).unwrap();
    let e = from_gemini(resp, 1, "m").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ContentFiltered);
    assert_eq!(e.status(), 400);
    assert!(e.message().contains("SAFETY"));
    let e = run_stream(
        &format!("data: {}\r\n\r\n", RESPONSE_BLOCKED.replace('\n', "")),
        0,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ContentFiltered);
}

/// Runs a recorded stream through the decoder and translator, split at `at`.
fn run_stream(sse: &str, at: usize) -> Result<Vec<ChatChunk>, Error> {
    let mut dec = SseDecoder::default();
    let mut m = GeminiStream::new(1, "requested-model", 1);
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
fn text_stream_at_every_split_point() {
    let whole = run_stream(STREAM_TEXT, 0).unwrap();
    for at in 0..=STREAM_TEXT.len() {
        assert_eq!(run_stream(STREAM_TEXT, at).unwrap(), whole, "split at {at}");
    }
    assert_eq!(
        text_of(&whole),
        "The quick brown fox jumps over the lazy dog."
    );
    assert_eq!(whole[0].choices[0].delta.role.as_deref(), Some("assistant"));
    assert_eq!(finishes(&whole), ["stop"], "exactly one finish");
    let last = whole.last().unwrap();
    assert!(last.choices.is_empty());
    let u = last.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (8, 11, 19)
    );
    assert_eq!(last.id, "chatcmpl-8ZpDaLqIK9iWmNAP2pezuQg");
    assert_eq!(last.model, "gemini-2.0-flash");
}

#[test]
fn tool_stream_at_every_split_point() {
    let whole = run_stream(STREAM_TOOLS, 0).unwrap();
    for at in 0..=STREAM_TOOLS.len() {
        assert_eq!(
            run_stream(STREAM_TOOLS, at).unwrap(),
            whole,
            "split at {at}"
        );
    }
    let mut calls = Vec::new();
    let mut reasoning = String::new();
    for c in whole.iter().flat_map(|c| &c.choices) {
        for tc in c.delta.tool_calls.iter().flatten() {
            let f = tc.function.as_ref().unwrap();
            calls.push((
                tc.index,
                tc.id.clone().unwrap(),
                f.name.clone().unwrap(),
                f.arguments.clone().unwrap(),
            ));
        }
        reasoning.push_str(c.delta.reasoning_content.as_deref().unwrap_or(""));
    }
    assert_eq!(
        calls,
        [
            (
                0,
                "call_Xy1aaBbCcDd_0~ts~CiwBVKhc7qN3c2lnMQ==".to_owned(),
                "get_weather".to_owned(),
                r#"{"city":"Paris"}"#.to_owned()
            ),
            (
                1,
                "call_Xy1aaBbCcDd_1".to_owned(),
                "get_time".to_owned(),
                r#"{"tz":"CET"}"#.to_owned()
            ),
        ]
    );
    assert_eq!(reasoning, "Need both cities.");
    assert_eq!(finishes(&whole), ["tool_calls"]);
    let u = whole.last().unwrap().usage.unwrap();
    assert_eq!(u.completion_tokens, 35);
    assert_eq!(u.completion_tokens_details.unwrap().reasoning_tokens, 15);
}

#[test]
fn cut_stream_is_an_error_and_error_events_are_typed() {
    let cut = &STREAM_TEXT[..STREAM_TEXT.rfind("data:").unwrap()];
    assert_eq!(
        run_stream(cut, 0).unwrap_err().kind(),
        ErrorKind::StreamInterrupted
    );
    let with_error = format!(
        "{cut}data: {{\"error\": {{\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}}}\r\n\r\n"
    );
    let e = run_stream(&with_error, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UpstreamOverloaded);
    let with_error = format!(
        "{cut}data: {{\"error\": {{\"code\": 429, \"message\": \"quota\", \"status\": \"RESOURCE_EXHAUSTED\"}}}}\r\n\r\n"
    );
    assert_eq!(
        run_stream(&with_error, 0).unwrap_err().kind(),
        ErrorKind::UpstreamRateLimited
    );
    let malformed = format!("{cut}data: {{\"candidates\": [{{\"cont\r\n\r\n");
    assert_eq!(
        run_stream(&malformed, 0).unwrap_err().kind(),
        ErrorKind::UpstreamProtocol
    );
}

#[test]
fn several_candidates_stream_as_several_choices() {
    let sse = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\"}]}, \"index\": 0},",
        " {\"content\": {\"parts\": [{\"text\": \"b\"}]}, \"index\": 1}], \"responseId\": \"r\"}\n\n",
        "data: {\"candidates\": [{\"finishReason\": \"STOP\", \"index\": 0}, {\"finishReason\": \"MAX_TOKENS\", \"index\": 1}],",
        " \"usageMetadata\": {\"promptTokenCount\": 3, \"candidatesTokenCount\": 2}}\n\n"
    );
    let mut dec = SseDecoder::default();
    let mut m = GeminiStream::new(1, "m", 2);
    dec.push(sse.as_bytes());
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        out.extend(m.on_event(ev).unwrap());
    }
    out.extend(m.on_end().unwrap());
    let by_index = |i: u32| -> String {
        out.iter()
            .flat_map(|c| &c.choices)
            .filter(|c| c.index == i)
            .filter_map(|c| c.delta.content.clone())
            .collect()
    };
    assert_eq!((by_index(0), by_index(1)), ("a".to_owned(), "b".to_owned()));
    assert_eq!(finishes(&out), ["stop", "length"]);
    assert_eq!(out.last().unwrap().usage.unwrap().completion_tokens, 2);
}
