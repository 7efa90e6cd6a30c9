//! A chat answer → a Response object, and the assistant turn kept for the
//! next `previous_response_id`.
//!
//! Runs once per complete answer (and, through [`Output`], at the end of a
//! translated stream). Output items, in order: a `reasoning` item when the
//! provider returned reasoning, a `message` item with the text (or refusal),
//! one `function_call` item per tool call. `finish_reason: length` makes the
//! response `incomplete` (`max_output_tokens`), `content_filter` too.

use serde_json::{Value, json};

use super::{Echo, id_suffix};
use crate::openai::chat::{
    ChatResponse, Content, FunctionCall, Message, Role, ToolCall, WireUsage,
};

/// What a finished answer produced, gathered from a response or a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub reasoning: String,
    pub text: String,
    pub refusal: String,
    /// `(call_id, name, arguments)`.
    pub calls: Vec<(String, String, String)>,
    pub finish: Option<String>,
    pub usage: Option<WireUsage>,
    pub model: String,
}

impl Output {
    /// The output of a complete chat response (first choice).
    pub fn of(resp: &ChatResponse) -> Self {
        let mut out = Output {
            usage: resp.usage,
            model: resp.model.clone(),
            ..Output::default()
        };
        if let Some(c) = resp.choices.first() {
            let m = &c.message;
            out.reasoning = m.reasoning_content.clone().unwrap_or_default();
            out.text = m.content.clone().unwrap_or_default();
            out.refusal = m.refusal.clone().unwrap_or_default();
            out.calls = m
                .tool_calls
                .iter()
                .flatten()
                .map(|t| {
                    (
                        t.id.clone(),
                        t.function.name.clone(),
                        t.function.arguments.clone(),
                    )
                })
                .collect();
            out.finish = c.finish_reason.clone();
        }
        out
    }

    /// The Response `status` and `incomplete_details`.
    pub fn status(&self) -> (&'static str, Value) {
        match self.finish.as_deref() {
            Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
            Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
            _ => ("completed", Value::Null),
        }
    }

    /// The output items.
    pub fn items(&self, response_id: &str) -> Vec<Value> {
        let ids = ItemIds::new(response_id);
        let mut items = Vec::new();
        if !self.reasoning.is_empty() {
            items.push(reasoning_item(
                &ids.reasoning(),
                &self.reasoning,
                "completed",
            ));
        }
        if !self.text.is_empty() || !self.refusal.is_empty() || self.calls.is_empty() {
            let part = if self.refusal.is_empty() || !self.text.is_empty() {
                text_part(&self.text)
            } else {
                json!({"type": "refusal", "refusal": self.refusal})
            };
            items.push(message_item(&ids.message(), vec![part], "completed"));
        }
        for (i, (call_id, name, args)) in self.calls.iter().enumerate() {
            items.push(function_item(
                &ids.call(i),
                call_id,
                name,
                args,
                "completed",
            ));
        }
        items
    }

    /// The assistant turn to store for the next `previous_response_id`.
    pub fn assistant(&self) -> Message {
        let text = if self.text.is_empty() {
            &self.refusal
        } else {
            &self.text
        };
        let calls: Vec<ToolCall> = self
            .calls
            .iter()
            .map(|(id, name, args)| ToolCall {
                id: id.clone(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: name.clone(),
                    arguments: args.clone(),
                },
            })
            .collect();
        Message {
            content: (!text.is_empty() || calls.is_empty()).then(|| Content::Text(text.clone())),
            tool_calls: (!calls.is_empty()).then_some(calls),
            ..Message::text(Role::Assistant, "")
        }
    }

    /// The finished Response object.
    pub fn response(&self, id: &str, created_at: u64, echo: &Echo) -> Value {
        let (status, incomplete) = self.status();
        let mut r = echo.response(id, &self.model, created_at, status);
        r.insert("incomplete_details".to_owned(), incomplete);
        r.insert("output".to_owned(), Value::Array(self.items(id)));
        r.insert("usage".to_owned(), usage(self.usage));
        Value::Object(r)
    }
}

/// The Responses `usage` for an OpenAI chat usage.
pub fn usage(u: Option<WireUsage>) -> Value {
    let u = u.unwrap_or_default();
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": u.prompt_tokens_details.map_or(0, |d| d.cached_tokens),
            "cache_write_tokens": 0,
        },
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {
            "reasoning_tokens": u.completion_tokens_details.map_or(0, |d| d.reasoning_tokens),
        },
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    })
}

/// Ids of a response's output items, derived from the response id so they
/// are unique and stable between the stream events and the final object.
#[derive(Debug, Clone)]
pub struct ItemIds(String);

impl ItemIds {
    /// Ids for the items of `response_id`.
    pub fn new(response_id: &str) -> Self {
        Self(id_suffix(response_id).to_owned())
    }

    pub fn reasoning(&self) -> String {
        format!("rs_{}", self.0)
    }

    pub fn message(&self) -> String {
        format!("msg_{}", self.0)
    }

    pub fn call(&self, i: usize) -> String {
        format!("fc_{}_{i}", self.0)
    }
}

/// An `output_text` content part.
pub fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// A `message` output item.
pub fn message_item(id: &str, content: Vec<Value>, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": content})
}

/// A `function_call` output item.
pub fn function_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name,
        "arguments": arguments, "status": status})
}

/// A `reasoning` output item carrying the provider's reasoning text.
pub fn reasoning_item(id: &str, text: &str, status: &str) -> Value {
    let content = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "reasoning_text", "text": text})]
    };
    json!({"type": "reasoning", "id": id, "summary": [], "content": content, "status": status})
}
