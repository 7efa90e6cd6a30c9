use serde_json::json;

use super::*;

#[test]
fn turns_of_each_api() {
    let chat = json!({"model": "m", "messages": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:x"}}]}
    ]});
    let t = turns(&chat);
    assert_eq!(t.len(), 2);
    assert_eq!((t[1].role.as_str(), t[1].text.as_str()), ("user", "hi"));

    let anthropic = json!({"system": "sys", "messages": [{"role": "user", "content": "q"}]});
    let t = turns(&anthropic);
    assert_eq!(t[0].role, "system");
    assert_eq!(t[1].text, "q");

    let responses = json!({"instructions": "i", "input": "hello"});
    assert_eq!(turns(&responses)[1].text, "hello");
}

#[test]
fn rewrites_text_only() {
    let mut v = json!({"model": "secret", "messages": [
        {"role": "user", "name": "secret", "content": "secret here"}
    ]});
    let changed = rewrite_prompt(&mut v, &mut |s| {
        s.contains("secret").then(|| s.replace("secret", "X"))
    });
    assert!(changed);
    assert_eq!(v["model"], "secret");
    assert_eq!(v["messages"][0]["name"], "secret");
    assert_eq!(v["messages"][0]["content"], "X here");
}

#[test]
fn chunk_and_answer_text() {
    let openai = json!({"choices": [{"delta": {"content": "ab"}}]});
    assert_eq!(chunk_text(&openai), "ab");
    let anthropic =
        json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "cd"}});
    assert_eq!(chunk_text(&anthropic), "cd");
    let responses = json!({"type": "response.output_text.delta", "delta": "ef"});
    assert_eq!(chunk_text(&responses), "ef");
    let complete = json!({"choices": [{"message": {"role": "assistant", "content": "done",
        "tool_calls": [{"function": {"arguments": "{}"}}]}}]});
    assert_eq!(answer_text(&complete), "done");
}
