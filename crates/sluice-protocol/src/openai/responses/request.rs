//! A Responses request (and the earlier turns it continues) → a chat
//! request.
//!
//! `instructions` becomes the first, system, message; it is not part of the
//! stored conversation (as in the Responses API, instructions do not carry
//! over to the next response). `input` items become messages: user, system
//! and developer messages (developer is sent as system: most chat providers
//! lack the role), assistant messages and `function_call` items (grouped into
//! one assistant turn), `function_call_output` items (tool messages).
//! Reasoning items are skipped: reasoning belongs to the model that made it.

use serde_json::{Map, Value};

use super::{Echo, openai_only};
use crate::Error;
use crate::openai::chat::{
    ChatRequest, Content, ContentPart, FilePart, FunctionCall, FunctionDef, ImageUrl,
    JsonSchemaFormat, Message, NamedFunction, NamedToolChoice, ResponseFormat, Role, Tool,
    ToolCall, ToolChoice,
};
use crate::openai::request::invalid_json;

/// A translated Responses request.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// What the provider receives.
    pub chat: ChatRequest,
    /// Request parameters left out, for `x-sluice-dropped-params`.
    pub dropped: Vec<String>,
    /// The turns to keep for a later `previous_response_id`: the earlier
    /// ones and this request's input, without `instructions`.
    pub conversation: Vec<Message>,
    /// The fields the Response object repeats.
    pub echo: Echo,
}

/// Fields handled below or irrelevant to the answer.
const HANDLED: &[&str] = &[
    "model",
    "input",
    "instructions",
    "stream",
    "stream_options",
    "previous_response_id",
    "store",
    "metadata",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "user",
    "safety_identifier",
    "text",
    "reasoning",
    "background",
    "conversation",
    "prompt",
    "include",
    "truncation",
];

/// Translates `body`, continuing `history` (the stored conversation of the
/// `previous_response_id`, if any).
pub fn prepare(body: &[u8], history: Vec<Message>) -> Result<Prepared, Error> {
    let req: Map<String, Value> = serde_json::from_slice(body).map_err(|e| invalid_json(&e))?;
    let get = |k: &str| req.get(k).filter(|v| !v.is_null());
    if get("background").and_then(Value::as_bool) == Some(true) {
        return Err(openai_only(
            "background",
            "Background mode (`background: true`)",
        ));
    }
    if get("conversation").is_some() {
        return Err(openai_only(
            "conversation",
            "The Conversations API (`conversation`)",
        ));
    }
    if get("prompt").is_some() {
        return Err(openai_only("prompt", "A stored prompt template (`prompt`)"));
    }
    let mut dropped = Vec::new();
    if get("include")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        dropped.push("include".to_owned());
    }
    if get("truncation").and_then(Value::as_str) == Some("auto") {
        dropped.push("truncation".to_owned());
    }
    let mut conversation = history;
    match get("input") {
        None => {}
        Some(Value::String(s)) => conversation.push(Message::text(Role::User, s.clone())),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, i, &mut conversation)?;
            }
        }
        Some(_) => {
            return Err(
                Error::invalid("'input' must be a string or a list of input items")
                    .with_param("input"),
            );
        }
    }
    if conversation.is_empty() {
        return Err(Error::invalid("Missing required parameter: 'input'.").with_param("input"));
    }
    let mut messages = Vec::with_capacity(conversation.len() + 1);
    match get("instructions") {
        None => {}
        Some(Value::String(s)) => messages.push(Message::text(Role::System, s.clone())),
        Some(_) => {
            return Err(openai_only(
                "instructions",
                "`instructions` given as a list of items",
            ));
        }
    }
    messages.extend(conversation.iter().cloned());
    let tools = match get("tools") {
        None => None,
        Some(Value::Array(t)) if t.is_empty() => None,
        Some(Value::Array(t)) => Some(tools(t)?),
        Some(_) => return Err(Error::invalid("'tools' must be a list").with_param("tools")),
    };
    let tool_choice = get("tool_choice").map(tool_choice).transpose()?;
    let (response_format, verbosity) = text_format(get("text"))?;
    if verbosity {
        dropped.push("text.verbosity".to_owned());
    }
    let stream = get("stream").and_then(Value::as_bool) == Some(true);
    let user = get("user")
        .or_else(|| get("safety_identifier"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let num = |k: &str| get(k).and_then(Value::as_f64);
    for (k, v) in &req {
        if !HANDLED.contains(&k.as_str()) && !v.is_null() {
            dropped.push(k.clone());
        }
    }
    let chat = ChatRequest {
        model: get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        messages,
        stream: stream.then_some(true),
        max_tokens: get("max_output_tokens").and_then(Value::as_u64),
        temperature: num("temperature"),
        top_p: num("top_p"),
        user,
        parallel_tool_calls: get("parallel_tool_calls")
            .and_then(Value::as_bool)
            .filter(|_| tools.is_some()),
        tools,
        tool_choice,
        response_format,
        reasoning_effort: get("reasoning")
            .and_then(|r| r.get("effort"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..ChatRequest::default()
    };
    Ok(Prepared {
        chat,
        dropped,
        conversation,
        echo: Echo::of(&req),
    })
}

fn bad_item(i: usize, why: &str) -> Error {
    Error::invalid(format!("input[{i}]: {why}")).with_param("input")
}

/// Appends the message(s) for one input item.
fn input_item(item: &Value, i: usize, out: &mut Vec<Message>) -> Result<(), Error> {
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        None | Some("message") => out.push(message_item(item, i)?),
        Some("function_call") => {
            let field = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad_item(i, &format!("a function_call needs `{k}`")))
            };
            let call = ToolCall {
                id: field("call_id")?,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: field("name")?,
                    arguments: item
                        .get("arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}")
                        .to_owned(),
                },
            };
            match out.last_mut() {
                Some(last) if last.role == Role::Assistant => {
                    last.tool_calls.get_or_insert_with(Vec::new).push(call);
                }
                _ => out.push(Message {
                    content: None,
                    tool_calls: Some(vec![call]),
                    ..Message::text(Role::Assistant, "")
                }),
            }
        }
        Some("function_call_output") => {
            let call_id = item
                .get("call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_item(i, "a function_call_output needs `call_id`"))?;
            let text = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => {
                    let mut texts = Vec::with_capacity(parts.len());
                    for p in parts {
                        match p.get("type").and_then(Value::as_str) {
                            Some("input_text" | "output_text") => texts.push(
                                p.get("text")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_owned(),
                            ),
                            other => {
                                return Err(openai_only(
                                    "input",
                                    &format!(
                                        "A `{}` part inside a function_call_output (input[{i}])",
                                        other.unwrap_or("unknown")
                                    ),
                                ));
                            }
                        }
                    }
                    texts.join("\n")
                }
                _ => return Err(bad_item(i, "a function_call_output needs `output`")),
            };
            out.push(Message {
                tool_call_id: Some(call_id.to_owned()),
                ..Message::text(Role::Tool, text)
            });
        }
        // Reasoning is bound to the model that produced it.
        Some("reasoning") => {}
        Some(other) => {
            return Err(openai_only(
                "input",
                &format!("The `{other}` input item (input[{i}])"),
            ));
        }
    }
    Ok(())
}

fn message_item(item: &Value, i: usize) -> Result<Message, Error> {
    let role = match item.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system" | "developer") => Role::System,
        _ => {
            return Err(bad_item(
                i,
                "a message needs a `role` of user, assistant, system or developer",
            ));
        }
    };
    let content = match item.get("content") {
        Some(Value::String(s)) => Content::Text(s.clone()),
        Some(Value::Array(parts)) => {
            let parts = parts
                .iter()
                .map(|p| content_part(p, i))
                .collect::<Result<Vec<_>, _>>()?;
            let plain = parts.iter().all(|p| matches!(p, ContentPart::Text { .. }));
            if plain {
                Content::Text(
                    parts
                        .iter()
                        .filter_map(|p| match p {
                            ContentPart::Text { text, .. } => Some(text.as_str()),
                            _ => None,
                        })
                        .collect(),
                )
            } else if role == Role::User {
                Content::Parts(parts)
            } else {
                return Err(bad_item(
                    i,
                    "only user messages may carry images, files or audio",
                ));
            }
        }
        _ => return Err(bad_item(i, "a message needs `content`")),
    };
    Ok(Message {
        content: Some(content),
        ..Message::text(role, "")
    })
}

fn content_part(p: &Value, i: usize) -> Result<ContentPart, Error> {
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(match p.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text") => ContentPart::Text {
            text: s("text").unwrap_or_default(),
            extra: Map::new(),
        },
        Some("refusal") => ContentPart::Text {
            text: s("refusal").unwrap_or_default(),
            extra: Map::new(),
        },
        Some("input_image") => match s("image_url") {
            Some(url) => ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url,
                    detail: s("detail").filter(|d| d != "auto"),
                },
            },
            None => {
                return Err(openai_only(
                    "input",
                    &format!("An image given by `file_id` (input[{i}])"),
                ));
            }
        },
        Some("input_file") => match s("file_data") {
            Some(data) => ContentPart::File {
                file: FilePart {
                    file_data: Some(data),
                    file_id: None,
                    filename: s("filename"),
                },
            },
            None => {
                return Err(openai_only(
                    "input",
                    &format!("A file given by `file_id` or `file_url` (input[{i}])"),
                ));
            }
        },
        Some("input_audio") => ContentPart::InputAudio {
            input_audio: p.get("input_audio").cloned().unwrap_or(Value::Null),
        },
        other => {
            return Err(openai_only(
                "input",
                &format!(
                    "The `{}` content part (input[{i}])",
                    other.unwrap_or("unknown")
                ),
            ));
        }
    })
}

fn tools(list: &[Value]) -> Result<Vec<Tool>, Error> {
    list.iter()
        .map(|t| match t.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = t.get("name").and_then(Value::as_str).ok_or_else(|| {
                    Error::invalid("a function tool needs a `name`").with_param("tools")
                })?;
                Ok(Tool {
                    kind: "function".to_owned(),
                    function: FunctionDef {
                        name: name.to_owned(),
                        description: t
                            .get("description")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        parameters: t.get("parameters").filter(|p| !p.is_null()).cloned(),
                        strict: t.get("strict").and_then(Value::as_bool),
                    },
                    extra: Map::new(),
                })
            }
            other => Err(openai_only(
                "tools",
                &format!("The built-in `{}` tool", other.unwrap_or("unknown")),
            )),
        })
        .collect()
}

fn tool_choice(v: &Value) -> Result<ToolChoice, Error> {
    match v {
        Value::String(mode) if ["none", "auto", "required"].contains(&mode.as_str()) => {
            Ok(ToolChoice::Mode(mode.clone()))
        }
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o.get("name").and_then(Value::as_str).ok_or_else(|| {
                Error::invalid("tool_choice needs a `name`").with_param("tool_choice")
            })?;
            Ok(ToolChoice::Named(NamedToolChoice {
                kind: "function".to_owned(),
                function: NamedFunction {
                    name: name.to_owned(),
                },
            }))
        }
        Value::Object(o) => Err(openai_only(
            "tool_choice",
            &format!(
                "A `{}` tool_choice",
                o.get("type").and_then(Value::as_str).unwrap_or("unknown")
            ),
        )),
        _ => Err(Error::invalid("invalid tool_choice").with_param("tool_choice")),
    }
}

/// `text.format` as a chat `response_format`, and whether `text.verbosity`
/// was set (it has no chat counterpart).
fn text_format(text: Option<&Value>) -> Result<(Option<ResponseFormat>, bool), Error> {
    let Some(text) = text else {
        return Ok((None, false));
    };
    let verbosity = text.get("verbosity").is_some_and(|v| !v.is_null());
    let Some(format) = text.get("format").filter(|f| !f.is_null()) else {
        return Ok((None, verbosity));
    };
    let rf = match format.get("type").and_then(Value::as_str) {
        Some("text") | None => None,
        Some("json_object") => Some(ResponseFormat::JsonObject),
        Some("json_schema") => Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: format
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .to_owned(),
                description: format
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                schema: format.get("schema").cloned(),
                strict: format.get("strict").and_then(Value::as_bool),
            },
        }),
        Some(other) => {
            return Err(openai_only("text", &format!("The `{other}` text format")));
        }
    };
    Ok((rf, verbosity))
}

/// A request's raw `input` (a string or a list of items) as a list of
/// items, for [`super::history::expand_input`].
pub fn parse_history_input(raw: Option<&str>) -> Result<Vec<Value>, Error> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::String(s)) => Ok(vec![serde_json::json!({"role": "user", "content": s})]),
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Null) => Ok(Vec::new()),
        _ => Err(
            Error::invalid("'input' must be a string or a list of input items").with_param("input"),
        ),
    }
}
