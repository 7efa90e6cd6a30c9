use serde_json::json;

use super::*;
use crate::ErrorKind;
use crate::huggingface::stream::TgiStream;
use crate::huggingface::wire::GenerateResponse;
use crate::openai::chat::ChatChunk;
use crate::sse::SseDecoder;
use crate::stream::StreamMachine;

const RESPONSE: &str = include_str!("../../../tests/fixtures/huggingface/generate_response.json");
const STREAM_LENGTH: &str = include_str!("../../../tests/fixtures/huggingface/stream_length.sse");
const STREAM_EOS: &str = include_str!("../../../tests/fixtures/huggingface/stream_eos.sse");

fn req(v: serde_json::Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

#[test]
fn request_renders_the_prompt_and_maps_parameters() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ahoy"},
        {"role": "user", "content": "second"}],
        "max_tokens": 64, "temperature": 0.7, "top_p": 0.9, "stop": ["\nUser:"], "seed": 7,
        "frequency_penalty": 0.5, "presence_penalty": 0.1, "user": "u1", "top_k": 40, "foo": 1}));
    let t = to_text_generation(&r, false).unwrap();
    let v = serde_json::to_value(&t.value).unwrap();
    assert_eq!(
        v,
        json!({
            "inputs": "System: You are a pirate.\n\nUser: first\n\nAssistant: ahoy\n\nUser: second\n\nAssistant:",
            "parameters": {"max_new_tokens": 64, "temperature": 0.7, "do_sample": true, "top_p": 0.9,
                "stop": ["\nUser:"], "seed": 7, "frequency_penalty": 0.5, "return_full_text": false,
                "details": true, "decoder_input_details": true, "top_k": 40},
            "stream": false
        })
    );
    assert_eq!(t.dropped, ["foo", "presence_penalty", "user"]);
}

#[test]
fn greedy_and_streaming_requests() {
    let r = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0, "top_p": 1}),
    );
    let v = serde_json::to_value(to_text_generation(&r, true).unwrap().value).unwrap();
    assert_eq!(
        v["parameters"],
        json!({"do_sample": false, "return_full_text": false, "details": true})
    );
    assert_eq!(v["stream"], true);
    assert_eq!(v["inputs"], "User: hi\n\nAssistant:");
}

#[test]
fn tools_images_and_json_mode_are_refused() {
    let base = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    let mut tools = base.clone();
    tools["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    let mut json_mode = base.clone();
    json_mode["response_format"] = json!({"type": "json_object"});
    let mut n = base.clone();
    n["n"] = json!(2);
    let image = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]});
    for (body, param) in [
        (tools, "tools"),
        (json_mode, "response_format"),
        (n, "n"),
        (image, "image_url"),
    ] {
        let e = to_text_generation(&req(body), false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedParam);
        assert_eq!((e.status(), e.param()), (400, Some(param)));
    }
}

#[test]
fn response_from_documented_shape() {
    let resp: GenerateResponse = serde_json::from_str(RESPONSE).unwrap();
    let oa = from_text_generation(resp.into_first().unwrap(), "hf-1", 9, "gpt2");
    let c = &oa.choices[0];
    assert_eq!(
        c.message.content.as_deref(),
        Some(" To make cheese, you need to start with milk.")
    );
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    let u = oa.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (13, 13, 26)
    );
    assert_eq!(
        (oa.id.as_str(), oa.model.as_str(), oa.created),
        ("hf-1", "gpt2", 9)
    );
    // `/generate` answers with one object; no details means no usage.
    let one: GenerateResponse = serde_json::from_value(json!({"generated_text": "hi"})).unwrap();
    let oa = from_text_generation(one.into_first().unwrap(), "i", 0, "m");
    assert!(oa.usage.is_none());
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("stop"));
    // An explicit zero stays zero.
    let zero: GenerateResponse = serde_json::from_value(json!([{"generated_text": "",
        "details": {"finish_reason": "length", "generated_tokens": 0, "prefill": [{"id": 1, "text": "<s>"}], "tokens": []}}])).unwrap();
    let oa = from_text_generation(zero.into_first().unwrap(), "i", 0, "m");
    assert_eq!(oa.usage.unwrap().completion_tokens, 0);
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("length"));
}

/// Runs a recorded stream through the decoder and translator, split at `at`.
fn run_stream(sse: &str, at: usize) -> Result<Vec<ChatChunk>, Error> {
    let mut dec = SseDecoder::default();
    let mut m = TgiStream::new("hf-1", 1, "gpt2");
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
fn stream_at_every_split_point() {
    for (sse, text, finish, usage) in [
        (
            STREAM_LENGTH,
            "\nTo make cheese, you need to start with milk.",
            "length",
            (7, 12),
        ),
        (STREAM_EOS, "Deep learning is neat.", "stop", (9, 6)),
    ] {
        let whole = run_stream(sse, 0).unwrap();
        for at in 0..=sse.len() {
            assert_eq!(run_stream(sse, at).unwrap(), whole, "split at {at}");
        }
        assert_eq!(text_of(&whole), text);
        assert_eq!(whole[0].choices[0].delta.role.as_deref(), Some("assistant"));
        assert_eq!(
            whole
                .iter()
                .filter(|c| c.choices.iter().any(|ch| ch.delta.role.is_some()))
                .count(),
            1
        );
        assert_eq!(finishes(&whole), [finish], "exactly one finish");
        let last = whole.last().unwrap();
        assert!(last.choices.is_empty());
        let u = last.usage.unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), usage);
        assert!(whole.iter().all(|c| c.id == "hf-1" && c.model == "gpt2"));
    }
}

#[test]
fn cut_stream_error_event_and_malformed_event() {
    let cut = &STREAM_LENGTH[..STREAM_LENGTH.find("data:{\"index\":12").unwrap()];
    assert_eq!(
        run_stream(cut, 0).unwrap_err().kind(),
        ErrorKind::StreamInterrupted
    );
    let with_error = format!(
        "{cut}data:{{\"error\":\"Request failed during generation: Server error: CUDA out of memory\",\"error_type\":\"generation\"}}\n\n"
    );
    let e = run_stream(&with_error, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UpstreamServer);
    assert!(e.message().contains("CUDA"));
    let overloaded = format!(
        "{cut}data:{{\"error\":\"Model is overloaded\",\"error_type\":\"overloaded\"}}\n\n"
    );
    assert!(run_stream(&overloaded, 0).unwrap_err().is_retryable());
    let malformed = format!("{cut}data:{{\"index\":12,\"tok\n\n");
    assert_eq!(
        run_stream(&malformed, 0).unwrap_err().kind(),
        ErrorKind::UpstreamProtocol
    );
    // No details: no usage chunk, and the gateway estimates.
    let bare = "data:{\"token\":{\"text\":\"hi\",\"special\":false},\"generated_text\":\"hi\"}\n\n";
    let chunks = run_stream(bare, 0).unwrap();
    assert!(chunks.iter().all(|c| c.usage.is_none()));
    assert_eq!(finishes(&chunks), ["stop"]);
}
