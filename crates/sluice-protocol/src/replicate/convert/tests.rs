use serde_json::json;

use super::*;
use crate::ErrorKind;
use crate::openai::chat::ChatChunk;
use crate::replicate::stream::ReplicateStream;
use crate::sse::SseDecoder;
use crate::stream::StreamMachine;

const STARTING: &str = include_str!("../../../tests/fixtures/replicate/prediction_starting.json");
const SUCCEEDED: &str = include_str!("../../../tests/fixtures/replicate/prediction_succeeded.json");
const STREAM: &str = include_str!("../../../tests/fixtures/replicate/stream.sse");

fn req(v: serde_json::Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

#[test]
fn targets_from_model_names() {
    assert_eq!(
        Target::parse("meta/meta-llama-3-8b-instruct")
            .unwrap()
            .path(),
        "models/meta/meta-llama-3-8b-instruct/predictions"
    );
    let v = Target::parse("acme/llama:5c7d5dc6dd8bf75c1acaa8565735e7986bc5b662").unwrap();
    assert_eq!(
        v,
        Target::Version("5c7d5dc6dd8bf75c1acaa8565735e7986bc5b662".into())
    );
    assert_eq!(v.path(), "predictions");
    assert_eq!(
        Target::parse("deployments/acme/my-llm").unwrap().path(),
        "deployments/acme/my-llm/predictions"
    );
    for bad in ["a/b/c", "../x", "a/..", "a b/c", "owner/name:ver/../x", ""] {
        let e = Target::parse(bad).unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some("model")), "{bad}");
    }
}

#[test]
fn single_turn_request_is_sent_verbatim() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Tina has one brother and one sister. How many sisters do Tina's siblings have?"}],
        "max_tokens": 1024, "temperature": 0.6, "top_p": 0.9, "presence_penalty": 0, "frequency_penalty": 0,
        "top_k": 50, "stop": ["<end>", "<stop>"], "seed": 4, "logprobs": true}));
    let t = to_replicate(&r, "meta/meta-llama-3.1-405b-instruct", false).unwrap();
    assert_eq!(
        t.value.target,
        Target::Model {
            owner: "meta".into(),
            name: "meta-llama-3.1-405b-instruct".into()
        }
    );
    assert_eq!(t.value.max_tokens, Some(1024));
    assert_eq!(
        serde_json::to_value(&t.value.body).unwrap(),
        json!({"input": {
            "prompt": "Tina has one brother and one sister. How many sisters do Tina's siblings have?",
            "system_prompt": "You are a helpful assistant.",
            "max_tokens": 1024, "max_new_tokens": 1024, "temperature": 0.6, "top_p": 0.9,
            "presence_penalty": 0.0, "frequency_penalty": 0.0, "seed": 4,
            "stop_sequences": "<end>,<stop>", "top_k": 50}})
    );
    assert_eq!(t.dropped, ["logprobs"]);
}

#[test]
fn multi_turn_versions_streams_and_input_overrides() {
    let r = req(json!({"model": "m", "messages": [
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "ahoy"},
        {"role": "user", "content": "second"}],
        "input": {"prompt_template": "{prompt}", "max_tokens": 9}, "mystery": true}));
    let t = to_replicate(&r, "acme/llm:abc123", true).unwrap();
    let v = serde_json::to_value(&t.value.body).unwrap();
    assert_eq!(v["version"], "abc123");
    assert_eq!(v["stream"], true);
    assert_eq!(
        v["input"]["prompt"],
        "User: first\n\nAssistant: ahoy\n\nUser: second"
    );
    assert_eq!(v["input"]["prompt_template"], "{prompt}");
    assert_eq!(v["input"]["max_tokens"], 9);
    assert!(v["input"].get("system_prompt").is_none());
    assert_eq!(t.dropped, ["mystery"]);
}

#[test]
fn refusals() {
    let base = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    let mut tools = base.clone();
    tools["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    let mut json_mode = base.clone();
    json_mode["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "a"}});
    let mut comma = base.clone();
    comma["stop"] = json!(["a,b"]);
    let image = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]});
    for (body, param) in [
        (tools, "tools"),
        (json_mode, "response_format"),
        (comma, "stop"),
        (image, "image_url"),
    ] {
        let e = to_replicate(&req(body), "a/b", false).unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some(param)));
    }
}

#[test]
fn prediction_responses() {
    let p: Prediction = serde_json::from_str(SUCCEEDED).unwrap();
    let oa = from_prediction(p, 5, "fallback", Some(1024)).unwrap();
    let c = &oa.choices[0];
    assert_eq!(
        c.message.content.as_deref(),
        Some("Tina has one brother and one sister. So her siblings have 2 sisters.")
    );
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    let u = oa.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (26, 84, 110)
    );
    assert_eq!(oa.id, "zjq6szssxdrm20cgw0fsntgvbg");
    assert_eq!(oa.model, "meta/meta-llama-3.1-405b-instruct");
    // Capped at 84 tokens: `length`.
    let p: Prediction = serde_json::from_str(SUCCEEDED).unwrap();
    let oa = from_prediction(p, 5, "m", Some(84)).unwrap();
    assert_eq!(oa.choices[0].finish_reason.as_deref(), Some("length"));
    // A string output, no token counts: no usage (the gateway estimates).
    let p: Prediction = serde_json::from_value(json!({"id": "p", "status": "succeeded",
        "output": "hello", "metrics": {"predict_time": 0.1}}))
    .unwrap();
    let oa = from_prediction(p, 0, "acme/x", None).unwrap();
    assert_eq!(oa.choices[0].message.content.as_deref(), Some("hello"));
    assert_eq!(oa.model, "acme/x");
    assert!(oa.usage.is_none());
    // Explicit zeros stay zeros.
    let p: Prediction =
        serde_json::from_value(json!({"id": "p", "status": "succeeded", "output": [],
        "metrics": {"input_token_count": 3, "output_token_count": 0}}))
        .unwrap();
    assert_eq!(
        from_prediction(p, 0, "m", None)
            .unwrap()
            .usage
            .unwrap()
            .completion_tokens,
        0
    );
    // Not finished, failed, canceled.
    let p: Prediction = serde_json::from_str(STARTING).unwrap();
    assert!(!p.is_terminal());
    assert!(p.urls.as_ref().unwrap().stream.is_some());
    let failed: Prediction = serde_json::from_value(json!({"id": "p", "status": "failed",
        "error": "E005: The input or output was flagged as sensitive."}))
    .unwrap();
    assert_eq!(
        from_prediction(failed, 0, "m", None).unwrap_err().kind(),
        ErrorKind::ContentFiltered
    );
    let canceled: Prediction =
        serde_json::from_value(json!({"id": "p", "status": "canceled"})).unwrap();
    assert!(
        from_prediction(canceled, 0, "m", None)
            .unwrap_err()
            .message()
            .contains("canceled")
    );
}

/// Runs a recorded stream through the decoder and translator, split at `at`,
/// then finishes it with `metrics` as the provider does after `done`.
fn run_stream(sse: &str, at: usize, metrics: Option<&Metrics>) -> Result<Vec<ChatChunk>, Error> {
    let mut dec = SseDecoder::default();
    let mut m = ReplicateStream::new("fuwwvjtbdmroc4xifxdcwqtdfq", 1, "meta/llama", Some(64));
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
    out.extend(m.finish(metrics));
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
    let metrics = Metrics {
        input_token_count: Some(4),
        output_token_count: Some(12),
        ..Metrics::default()
    };
    let whole = run_stream(STREAM, 0, Some(&metrics)).unwrap();
    for at in 0..=STREAM.len() {
        assert_eq!(
            run_stream(STREAM, at, Some(&metrics)).unwrap(),
            whole,
            "split at {at}"
        );
    }
    assert_eq!(
        text_of(&whole),
        "Once upon a time, there was a gateway\nthat spoke every dialect."
    );
    assert_eq!(whole[0].choices[0].delta.role.as_deref(), Some("assistant"));
    assert_eq!(finishes(&whole), ["stop"], "exactly one finish");
    let last = whole.last().unwrap();
    assert!(last.choices.is_empty());
    let u = last.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (4, 12));
    // Without metrics: the finish, no usage chunk. At the cap: `length`.
    let bare = run_stream(STREAM, 0, None).unwrap();
    assert!(bare.iter().all(|c| c.usage.is_none()));
    let capped = Metrics {
        output_token_count: Some(64),
        ..Metrics::default()
    };
    assert_eq!(
        finishes(&run_stream(STREAM, 0, Some(&capped)).unwrap()),
        ["length"]
    );
}

#[test]
fn cut_stream_error_events_and_cancellation() {
    let cut = &STREAM[..STREAM.find("event: done").unwrap()];
    assert_eq!(
        run_stream(cut, 0, None).unwrap_err().kind(),
        ErrorKind::StreamInterrupted
    );
    let with_error = format!(
        "{cut}event: error\ndata: {{\"detail\": \"CUDA error: device-side assert triggered\"}}\n\nevent: done\ndata: {{\"reason\": \"error\"}}\n\n"
    );
    let e = run_stream(&with_error, 0, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UpstreamServer);
    assert!(e.message().contains("CUDA error"));
    let canceled = format!("{cut}event: done\ndata: {{\"reason\": \"canceled\"}}\n\n");
    assert!(
        run_stream(&canceled, 0, None)
            .unwrap_err()
            .message()
            .contains("canceled")
    );
    let malformed = format!("{cut}event: done\ndata: {{\"reas\n\n");
    assert_eq!(
        run_stream(&malformed, 0, None).unwrap_err().kind(),
        ErrorKind::UpstreamProtocol
    );
}
