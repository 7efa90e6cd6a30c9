use super::*;

const REQUEST: &str = include_str!("../../../tests/fixtures/openai/chat_request_tools.json");
const RESPONSE: &str = include_str!("../../../tests/fixtures/openai/chat_response_tool_calls.json");

#[test]
fn request_round_trips_without_loss() {
    let req: ChatRequest = serde_json::from_str(REQUEST).unwrap();
    assert_eq!(req.messages.len(), 4);
    assert_eq!(req.tools.as_ref().unwrap()[0].function.name, "get_weather");
    assert!(matches!(req.tool_choice, Some(ToolChoice::Mode(ref m)) if m == "auto"));
    assert_eq!(req.extra["metadata"]["x"], "y");
    let Some(Content::Parts(parts)) = &req.messages[1].content else {
        panic!("parts expected")
    };
    assert!(
        matches!(&parts[1], ContentPart::ImageUrl { image_url } if image_url.url.starts_with("data:"))
    );
    let back = serde_json::to_value(&req).unwrap();
    let mut orig: serde_json::Value = serde_json::from_str(REQUEST).unwrap();
    // `content: null` and an absent `content` mean the same; we emit the latter.
    orig["messages"][2]
        .as_object_mut()
        .unwrap()
        .remove("content");
    assert_eq!(back, orig);
}

#[test]
fn response_round_trips_and_converts_usage() {
    let resp: ChatResponse = serde_json::from_str(RESPONSE).unwrap();
    let calls = resp.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(resp.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    let usage: crate::Usage = resp.usage.unwrap().into();
    assert_eq!(usage.cached_read_tokens, 10);
    assert_eq!(usage.reasoning_tokens, 0);
    assert_eq!(usage.total_tokens(), 100);
    let back = serde_json::to_value(&resp).unwrap();
    let orig: serde_json::Value = serde_json::from_str(RESPONSE).unwrap();
    assert_eq!(back, orig);
}
