//! OpenAI Chat Completions ⇄ Hugging Face text generation, for an OpenAI
//! client talking to a model that only takes `inputs`.
//!
//! Request: the conversation is rendered with [`crate::prompt`] (a `System:`
//! block, `User:`/`Assistant:` turns and a final `Assistant:` cue) into
//! `inputs`; sampling parameters go to `parameters`:
//!
//! | OpenAI | `parameters` |
//! |---|---|
//! | `max_completion_tokens` / `max_tokens` | `max_new_tokens` |
//! | `temperature` > 0 | `temperature` (with `do_sample: true`) |
//! | `temperature` = 0 | no `temperature`, `do_sample: false` (greedy) |
//! | `top_p` < 1 | `top_p` (1 is left out: TGI wants it below 1) |
//! | `stop` | `stop` |
//! | `seed` ≥ 0 | `seed` |
//! | `frequency_penalty` | `frequency_penalty` |
//! | `top_k`, `repetition_penalty`, `truncate`, `typical_p`, `watermark`, `do_sample`, `adapter_id` (extra body) | passed through |
//!
//! `return_full_text: false` and `details: true` are always sent, and
//! `decoder_input_details: true` when not streaming (its `prefill` list
//! counts the prompt tokens). Tools, images and JSON mode are refused;
//! `presence_penalty`, `logit_bias`, `logprobs`, `top_logprobs`, `user`,
//! `reasoning_effort`, `tool_choice`, `parallel_tool_calls` are dropped and
//! named.
//!
//! Response: `generated_text` becomes the message; `details.finish_reason`
//! maps `eos_token`/`stop_sequence` → `stop`, `length` → `length`; usage is
//! `len(prefill)` + `generated_tokens`, or left out when either is missing.

use serde_json::{Map, Value};

use super::wire::{GenerateOutput, GenerateRequest, Parameters};
use crate::openai::chat::{ChatRequest, ChatResponse, Choice, ResponseMessage, Stop, WireUsage};
use crate::prompt::{Conversation, common_drops, refuse_meaning_changes};
use crate::translate::Translated;
use crate::{Error, Usage, UsageSource};

/// How Hugging Face text generation is named in messages.
pub const PROVIDER: &str = "Hugging Face text-generation";

/// TGI parameters a client may send through `extra_body`.
const PASSTHROUGH: &[&str] = &[
    "top_k",
    "repetition_penalty",
    "truncate",
    "typical_p",
    "watermark",
    "do_sample",
    "adapter_id",
];

/// Translates an OpenAI chat request into a generation request.
pub fn to_text_generation(
    req: &ChatRequest,
    stream: bool,
) -> Result<Translated<GenerateRequest>, Error> {
    refuse_meaning_changes(req, PROVIDER)?;
    let convo = Conversation::from_request(req, PROVIDER)?;
    let mut dropped = convo.dropped.clone();
    let mut p = Parameters {
        max_new_tokens: req.max_output_tokens(),
        stop: req.stop.as_ref().map(Stop::to_vec).unwrap_or_default(),
        seed: req.seed.and_then(|s| u64::try_from(s).ok()),
        frequency_penalty: req.frequency_penalty,
        return_full_text: Some(false),
        details: Some(true),
        decoder_input_details: (!stream).then_some(true),
        ..Parameters::default()
    };
    if req.seed.is_some_and(|s| s < 0) {
        dropped.push("seed".to_owned());
    }
    match req.temperature {
        Some(t) if t > 0.0 => {
            p.temperature = Some(t);
            p.do_sample = Some(true);
        }
        Some(_) => p.do_sample = Some(false),
        None => {}
    }
    p.top_p = req.top_p.filter(|t| *t < 1.0);
    for (k, v) in &req.extra {
        if PASSTHROUGH.contains(&k.as_str()) {
            if k == "do_sample" {
                p.do_sample = v.as_bool();
            } else {
                p.extra.insert(k.clone(), v.clone());
            }
        } else {
            dropped.push(k.clone());
        }
    }
    dropped.extend(common_drops(req, true));
    Ok(Translated {
        value: GenerateRequest {
            inputs: convo.transcript(true, true),
            parameters: p,
            stream: Some(stream),
        },
        dropped,
    })
}

/// OpenAI's `finish_reason` for a TGI one.
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("length") => "length",
        _ => "stop",
    }
}

/// Usage from a prompt and a completion count; `None` unless both are known.
pub fn usage(prompt: Option<u64>, completion: Option<u64>) -> Option<Usage> {
    Some(Usage {
        prompt_tokens: prompt?,
        completion_tokens: completion?,
        source: UsageSource::Provider,
        ..Usage::default()
    })
}

/// Translates a complete generation. `id` and `model` name the answer (the
/// API reports neither).
pub fn from_text_generation(
    out: GenerateOutput,
    id: &str,
    created: u64,
    model: &str,
) -> ChatResponse {
    let details = out.details.unwrap_or_default();
    let prompt = (!details.prefill.is_empty()).then_some(details.prefill.len() as u64);
    let usage = usage(prompt, details.generated_tokens);
    ChatResponse {
        id: id.to_owned(),
        object: "chat.completion".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: Some(out.generated_text),
                ..ResponseMessage::default()
            },
            finish_reason: Some(finish_reason(details.finish_reason.as_deref()).to_owned()),
            logprobs: None,
        }],
        usage: usage.map(WireUsage::from),
        system_fingerprint: None,
        extra: Map::<String, Value>::new(),
    }
}

#[cfg(test)]
mod tests;
