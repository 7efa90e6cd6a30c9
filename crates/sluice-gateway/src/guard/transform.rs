//! AI request and response transformers (`type: request_transformer`,
//! `type: response_transformer`): a configured model of this gateway
//! rewrites the request body or the answer, following an instruction.
//!
//! Runs on the request path with the other policies, in the declared
//! order. The transformer's call goes through the executor to the named
//! model (its targets, retries and fallbacks), under the policy's
//! `timeout`, and is recorded as its own request (`meta.endpoint:
//! transformer`, `metadata.parent_request_id`), so its tokens are billed.
//!
//! - Request side: the model gets the chat body as JSON and answers with the
//!   new body (a JSON object with `messages`, optionally in a code fence).
//!   `model`, `stream` and `stream_options` stay the client's: routing is
//!   already decided.
//! - Answer side (complete OpenAI-shaped answers): the model gets the
//!   answer's text and its answer becomes the assistant message's content,
//!   so the completion stays well-formed for SDKs.
//!
//! Errors, timeouts and unusable answers follow `on_error`.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sluice_protocol::openai::request::parse_chat;
use sluice_protocol::{Error, ErrorKind};

use super::remote::OnError;
use crate::exec::Job;
use crate::provider::{ChatInput, ChatReply};
use crate::tokens;

/// A compiled transformer policy.
#[derive(Debug, Clone)]
pub struct Transformer {
    /// The public model that does the rewriting.
    pub model: String,
    /// The system message it gets.
    pub instruction: String,
    pub timeout: Duration,
    pub on_error: OnError,
    /// `true`: rewrites requests; `false`: rewrites answers.
    pub request: bool,
}

impl Transformer {
    /// Sends `content` with the instruction to the model; returns its text.
    pub async fn ask(&self, job: &Job<'_>, content: String) -> Result<String, Error> {
        let body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": self.instruction},
                {"role": "user", "content": content},
            ],
        });
        let input = ChatInput::new(parse_chat(Bytes::from(body.to_string()))?);
        let record = job.record.child("POST", "/guardrails/transformer");
        record.update(|r| {
            r.meta.endpoint = "transformer".to_owned();
            r.meta.request_model = Some(self.model.clone());
        });
        let sub = Job {
            rt: job.rt,
            ctx: job.ctx,
            record: &record,
            model: &self.model,
            prompt_tokens: &|| tokens::prompt_of(&input),
        };
        let answer = match tokio::time::timeout(self.timeout, crate::exec::chat(&sub, &input)).await
        {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                record.finish_err(&e, false);
                return Err(e);
            }
            Err(_) => {
                let e = Error::new(
                    ErrorKind::UpstreamTimeout,
                    format!(
                        "the transformer model gave no answer within {:?}",
                        self.timeout
                    ),
                );
                record.finish_err(&e, false);
                return Err(e);
            }
        };
        let ChatReply::Complete(c) = answer.value.reply else {
            let e = Error::internal("the transformer model streamed its answer");
            record.finish_err(&e, false);
            return Err(e);
        };
        record.set_price(answer.price);
        record.update(|r| {
            r.usage = c.usage;
            r.meta.provider_name = Some(answer.provider.name().to_owned());
            r.meta.upstream_model = Some(answer.upstream_model.clone());
            r.status = 200;
        });
        record.finish_ok();
        let v: Value = serde_json::from_slice(&c.body)
            .map_err(|e| Error::internal(format!("unreadable transformer answer: {e}")))?;
        v.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::internal("the transformer model answered no text"))
    }
}

/// The new chat body from a transformer's answer: a JSON object with
/// `messages`, possibly in a code fence. The client's `model`, `stream` and
/// `stream_options` are kept.
pub fn new_body(answer: &str, original: &Value) -> Result<Value, Error> {
    let trimmed = answer.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|s| s.strip_suffix("```"))
        .unwrap_or(trimmed);
    let mut v: Value = serde_json::from_str(unfenced.trim())
        .map_err(|e| Error::internal(format!("the transformer's answer is not JSON: {e}")))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(Error::internal(
            "the transformer's answer is not a JSON object",
        ));
    };
    if !obj.get("messages").is_some_and(Value::is_array) {
        return Err(Error::internal(
            "the transformer's answer has no `messages` array",
        ));
    }
    for key in ["model", "stream", "stream_options"] {
        match original.get(key) {
            Some(x) => {
                obj.insert(key.to_owned(), x.clone());
            }
            None => {
                obj.remove(key);
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_body_keeps_routing_fields() {
        let original = json!({"model": "m", "stream": true, "messages": []});
        let answer = "```json\n{\"model\": \"other\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n```";
        let v = new_body(answer, &original).unwrap();
        assert_eq!(v["model"], "m");
        assert_eq!(v["stream"], true);
        assert_eq!(v["messages"][0]["content"], "hi");
        assert!(new_body("not json", &original).is_err());
        assert!(new_body("{\"x\": 1}", &original).is_err());
    }
}
