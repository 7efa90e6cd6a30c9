//! OpenAI Chat Completions ⇄ Replicate predictions, for an OpenAI client
//! talking to a language model hosted on Replicate.
//!
//! The upstream model name picks the endpoint ([`Target`]). The request
//! becomes the prediction's `input`, named as Replicate's language models
//! (Llama, Mistral, Granite...) name them:
//!
//! | OpenAI | `input` |
//! |---|---|
//! | `system` / `developer` messages | `system_prompt` |
//! | one user message | `prompt`, verbatim |
//! | several turns | `prompt`: the [`crate::prompt`] transcript (`User:` / `Assistant:` blocks, no trailing cue; the model's own template wraps it) |
//! | `max_completion_tokens` / `max_tokens` | `max_tokens` and `max_new_tokens` (older models' name) |
//! | `temperature`, `top_p`, `seed`, `presence_penalty`, `frequency_penalty` | same names |
//! | `stop` | `stop_sequences`, comma-separated (a stop containing a comma is refused) |
//! | `top_k`, `min_tokens`, `min_new_tokens`, `repetition_penalty`, `length_penalty`, `prompt_template` (extra body) | passed through |
//! | `input` object (extra body) | merged last: any model input, overriding the above |
//!
//! Tools, images and JSON mode are refused with a 400; `logit_bias`,
//! `logprobs`, `top_logprobs`, `user`, `reasoning_effort`, `tool_choice` and
//! `parallel_tool_calls` are dropped and named.
//!
//! Response: `output` (a string or a list of pieces) becomes the message.
//! Replicate reports no finish reason: it is `length` when the output token
//! count reached the requested maximum, else `stop`. Usage comes from
//! `metrics.input_token_count` / `output_token_count`, or is left out.

use serde_json::{Map, Value, json};

use super::error::{canceled, from_failed};
use super::wire::{CreatePrediction, Metrics, Prediction};
use crate::openai::chat::{ChatRequest, ChatResponse, Choice, ResponseMessage, Stop, WireUsage};
use crate::prompt::{Conversation, common_drops, refuse_meaning_changes};
use crate::translate::{Translated, unsupported};
use crate::{Error, Usage, UsageSource};

/// How Replicate is named in messages.
pub const PROVIDER: &str = "Replicate";

/// Model inputs a client may send through `extra_body`.
const PASSTHROUGH: &[&str] = &[
    "top_k",
    "min_tokens",
    "min_new_tokens",
    "repetition_penalty",
    "length_penalty",
    "prompt_template",
];

/// Where a prediction is created, from the upstream model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `owner/name`: an official model, `POST models/{owner}/{name}/predictions`.
    Model { owner: String, name: String },
    /// `owner/name:version` or a bare version id: `POST predictions` with
    /// `version` in the body.
    Version(String),
    /// `deployments/owner/name`: `POST deployments/{owner}/{name}/predictions`.
    Deployment { owner: String, name: String },
}

impl Target {
    /// Parses an upstream model name. Only URL-safe names are accepted, so a
    /// name can never change the path it is put in.
    pub fn parse(model: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(format!(
                "`{model}` is not a Replicate model: use `owner/name`, `owner/name:version` \
                 or `deployments/owner/name`"
            ))
            .with_param("model")
        };
        let safe = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && s != "."
                && s != ".."
        };
        if let Some((_, version)) = model.split_once(':') {
            return if safe(version) {
                Ok(Self::Version(version.to_owned()))
            } else {
                Err(bad())
            };
        }
        let parts: Vec<&str> = model.split('/').collect();
        match parts.as_slice() {
            ["deployments", owner, name] if safe(owner) && safe(name) => Ok(Self::Deployment {
                owner: (*owner).to_owned(),
                name: (*name).to_owned(),
            }),
            [owner, name] if safe(owner) && safe(name) => Ok(Self::Model {
                owner: (*owner).to_owned(),
                name: (*name).to_owned(),
            }),
            [version] if safe(version) => Ok(Self::Version((*version).to_owned())),
            _ => Err(bad()),
        }
    }

    /// The create-prediction path, relative to the API root.
    pub fn path(&self) -> String {
        match self {
            Self::Model { owner, name } => format!("models/{owner}/{name}/predictions"),
            Self::Version(_) => "predictions".to_owned(),
            Self::Deployment { owner, name } => {
                format!("deployments/{owner}/{name}/predictions")
            }
        }
    }

    fn version(&self) -> Option<String> {
        match self {
            Self::Version(v) => Some(v.clone()),
            _ => None,
        }
    }
}

/// A translated request: where to send it and what.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionPlan {
    pub target: Target,
    pub body: CreatePrediction,
    /// The output cap asked for, to tell `length` from `stop`.
    pub max_tokens: Option<u64>,
}

/// Translates an OpenAI chat request into a prediction for `upstream_model`.
pub fn to_replicate(
    req: &ChatRequest,
    upstream_model: &str,
    stream: bool,
) -> Result<Translated<PredictionPlan>, Error> {
    let target = Target::parse(upstream_model)?;
    refuse_meaning_changes(req, PROVIDER)?;
    let convo = Conversation::from_request(req, PROVIDER)?;
    let mut dropped = convo.dropped.clone();
    let mut input = Map::new();
    let prompt = match convo.turns.as_slice() {
        [only] if convo.is_single_user() => only.text.clone(),
        _ => convo.transcript(false, false),
    };
    input.insert("prompt".to_owned(), json!(prompt));
    if let Some(s) = &convo.system {
        input.insert("system_prompt".to_owned(), json!(s));
    }
    let max_tokens = req.max_output_tokens();
    if let Some(n) = max_tokens {
        input.insert("max_tokens".to_owned(), json!(n));
        input.insert("max_new_tokens".to_owned(), json!(n));
    }
    for (name, value) in [
        ("temperature", req.temperature),
        ("top_p", req.top_p),
        ("presence_penalty", req.presence_penalty),
        ("frequency_penalty", req.frequency_penalty),
    ] {
        if let Some(v) = value {
            input.insert(name.to_owned(), json!(v));
        }
    }
    if let Some(seed) = req.seed {
        input.insert("seed".to_owned(), json!(seed));
    }
    if let Some(stop) = req
        .stop
        .as_ref()
        .map(Stop::to_vec)
        .filter(|s| !s.is_empty())
    {
        if stop.iter().any(|s| s.contains(',')) {
            return Err(unsupported(
                PROVIDER,
                "stop",
                "`stop_sequences` is one comma-separated string, so a stop sequence cannot \
                 contain a comma",
            ));
        }
        input.insert("stop_sequences".to_owned(), json!(stop.join(",")));
    }
    let mut overrides = None;
    for (k, v) in &req.extra {
        if PASSTHROUGH.contains(&k.as_str()) {
            input.insert(k.clone(), v.clone());
        } else if k == "input" && v.is_object() {
            overrides = v.as_object();
        } else {
            dropped.push(k.clone());
        }
    }
    if let Some(o) = overrides {
        input.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    dropped.extend(common_drops(req, false));
    Ok(Translated {
        value: PredictionPlan {
            body: CreatePrediction {
                version: target.version(),
                input,
                stream: stream.then_some(true),
            },
            target,
            max_tokens,
        },
        dropped,
    })
}

/// The text of a prediction's `output`: a string, or list pieces joined.
pub fn output_text(output: Option<&Value>) -> String {
    match output {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Usage from `metrics`, when both token counts are present.
pub fn usage(metrics: Option<&Metrics>) -> Option<Usage> {
    let m = metrics?;
    Some(Usage {
        prompt_tokens: m.input_token_count?,
        completion_tokens: m.output_token_count?,
        source: UsageSource::Provider,
        ..Usage::default()
    })
}

/// `length` when the output reached the requested cap, else `stop`.
pub fn finish_reason(metrics: Option<&Metrics>, max_tokens: Option<u64>) -> &'static str {
    let out = metrics.and_then(|m| m.output_token_count);
    match (out, max_tokens) {
        (Some(n), Some(max)) if n >= max => "length",
        _ => "stop",
    }
}

/// Translates a finished prediction; a failed or canceled one is an error.
/// `model` names the answer when the prediction does not.
pub fn from_prediction(
    p: Prediction,
    created: u64,
    model: &str,
    max_tokens: Option<u64>,
) -> Result<ChatResponse, Error> {
    match p.status.as_str() {
        "succeeded" => {}
        "failed" => return Err(from_failed(p.error.as_ref())),
        "canceled" | "aborted" => return Err(canceled(&p.id)),
        other => {
            return Err(Error::internal(format!(
                "Replicate prediction `{}` is still `{other}`",
                p.id
            )));
        }
    }
    let usage = usage(p.metrics.as_ref());
    Ok(ChatResponse {
        id: p.id,
        object: "chat.completion".to_owned(),
        created,
        model: p.model.unwrap_or_else(|| model.to_owned()),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: Some(output_text(p.output.as_ref())),
                ..ResponseMessage::default()
            },
            finish_reason: Some(finish_reason(p.metrics.as_ref(), max_tokens).to_owned()),
            logprobs: None,
        }],
        usage: usage.map(WireUsage::from),
        system_fingerprint: None,
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests;
