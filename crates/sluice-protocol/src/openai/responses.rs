//! The OpenAI Responses API (`POST /v1/responses`) for providers that do
//! not speak it: a Responses request is translated to a chat request, and
//! the chat answer back into a Response object or Responses stream events.
//!
//! Runs once per Responses request routed to a provider other than OpenAI
//! or Azure OpenAI (those receive the client's bytes unchanged).
//!
//! - [`parse_responses`]: the head (`model`, `stream`) read before routing;
//! - [`request`]: Responses request (+ the stored earlier turns, for
//!   `previous_response_id`) → chat request. Features a chat provider cannot
//!   honour (built-in tools, `background`, stored prompts, conversations,
//!   item references...) are refused with a 400 naming them ([`openai_only`]);
//! - [`reply`]: chat response → Response object, and the assistant turn to
//!   keep for the next `previous_response_id`;
//! - [`events`]: chat chunks → Responses stream events;
//! - [`history`]: conversations moving between OpenAI and the other
//!   providers of a mixed group.

pub mod events;
pub mod history;
pub mod reply;
pub mod request;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::request::{ParsedRequest, RequestHead, invalid_json};
use crate::json::RawObject;
use crate::{Error, ErrorKind};

/// Reads the head of a Responses request: `model` (a string), `stream` (a
/// boolean, optional), and checks `input` is a string or a list if present.
pub fn parse_responses(body: Bytes) -> Result<ParsedRequest, Error> {
    let object = RawObject::parse(body).map_err(|e| invalid_json(&e))?;
    let model = match object.get_as::<Option<String>>("model") {
        Ok(Some(Some(m))) if !m.is_empty() => m,
        Ok(_) => {
            return Err(Error::invalid("Missing required parameter: 'model'.").with_param("model"));
        }
        Err(_) => return Err(wrong_type("model", "a string")),
    };
    if let Some(raw) = object.get("input")
        && !(raw.starts_with('"') || raw.starts_with('[') || raw == "null")
    {
        return Err(wrong_type("input", "a string or a list of input items"));
    }
    let stream = match object.get_as::<Option<bool>>("stream") {
        Ok(v) => v.flatten().unwrap_or(false),
        Err(_) => return Err(wrong_type("stream", "a boolean")),
    };
    Ok(ParsedRequest {
        object,
        head: RequestHead {
            model,
            stream,
            include_usage: stream,
        },
    })
}

fn wrong_type(field: &'static str, expected: &str) -> Error {
    Error::invalid(format!("Invalid type for '{field}': expected {expected}.")).with_param(field)
}

/// The error for a Responses feature only OpenAI itself can run.
pub fn openai_only(param: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedParam,
        format!(
            "{what} is only available when the model is served by an OpenAI or Azure OpenAI \
             provider. This request was routed to another provider, for which Sluice translates \
             the Responses API to chat completions and cannot honour it. Remove `{param}` or \
             route the model to an `openai` or `azure` provider."
        ),
    )
    .with_param(param)
}

/// The request fields a Response object repeats, with the API's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo(Map<String, Value>);

/// Request fields echoed in the Response object.
const ECHOED: &[&str] = &[
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "reasoning",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "max_tool_calls",
    "top_logprobs",
];

impl Echo {
    /// The echoed fields of `req`, defaults filled in.
    pub fn of(req: &Map<String, Value>) -> Self {
        let mut m = Map::new();
        for k in ECHOED {
            m.insert((*k).to_owned(), req.get(*k).cloned().unwrap_or(Value::Null));
        }
        let mut default = |k: &str, v: Value| {
            if m.get(k).is_none_or(Value::is_null) {
                m.insert(k.to_owned(), v);
            }
        };
        default("parallel_tool_calls", json!(true));
        default("tool_choice", json!("auto"));
        default("tools", json!([]));
        default("text", json!({"format": {"type": "text"}}));
        default("truncation", json!("disabled"));
        default("metadata", json!({}));
        default("store", json!(true));
        default("reasoning", json!({"effort": null, "summary": null}));
        default("background", json!(false));
        Self(m)
    }

    /// A Response object with these fields and no output yet.
    pub fn response(
        &self,
        id: &str,
        model: &str,
        created_at: u64,
        status: &str,
    ) -> Map<String, Value> {
        let mut r = Map::with_capacity(self.0.len() + 12);
        r.insert("id".to_owned(), json!(id));
        r.insert("object".to_owned(), json!("response"));
        r.insert("created_at".to_owned(), json!(created_at));
        r.insert("status".to_owned(), json!(status));
        r.insert("error".to_owned(), Value::Null);
        r.insert("incomplete_details".to_owned(), Value::Null);
        r.insert("model".to_owned(), json!(model));
        r.insert("output".to_owned(), json!([]));
        r.extend(self.0.clone());
        r.insert("usage".to_owned(), Value::Null);
        r
    }

    /// Whether the response is to be kept for `previous_response_id`.
    pub fn store(&self) -> bool {
        self.0.get("store").and_then(Value::as_bool).unwrap_or(true)
    }
}

/// The id suffix shared by a response and its output items.
pub fn id_suffix(response_id: &str) -> &str {
    response_id.strip_prefix("resp_").unwrap_or(response_id)
}

#[cfg(test)]
mod tests;
