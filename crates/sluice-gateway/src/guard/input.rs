//! The request side of the guardrails: runs the applicable policies over
//! the prompt, in order, before admission and before anything is sent.
//!
//! The prompt is read from the canonical chat body; a request that came in
//! on another API keeps its own body too (sent as is to a provider of that
//! API), so a rewrite is applied to both, and both are parsed again into a
//! new [`ChatInput`].

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use sluice_protocol::Error;
use sluice_protocol::anthropic::ingress::parse_messages;
use sluice_protocol::openai::chat::ChatRequest;
use sluice_protocol::openai::completions::parse_completions;
use sluice_protocol::openai::request::{ParsedRequest, parse_chat};
use sluice_protocol::openai::responses::parse_responses;

use super::body::{rewrite_prompt, turns};
use super::dlp::Vault;
use super::prompt::OnBlock;
use super::remote::{OnError, Subject};
use super::transform;
use super::{Kind, Policy, blocked, dlp_event, event, unchecked};
use crate::exec::Job;
use crate::provider::{ChatInput, NativeApi, NativeBody};

/// What the request side decided.
#[derive(Debug, Default)]
pub struct Before {
    /// The rewritten request, when a policy changed it.
    pub input: Option<ChatInput>,
    /// Answer with this refusal `(policy, text)` instead of calling a
    /// provider.
    pub refusal: Option<(String, String)>,
    /// Values of `restore` detections, to put back in the answer.
    pub vault: Vault,
}

/// The prompt being worked on: the canonical body and the client's own.
struct Draft {
    /// The chat form, when the request has one.
    chat: Option<Value>,
    /// The client's body, for a request that came in on another API.
    native: Option<Value>,
    changed: bool,
    /// Send the chat form only: a template or decorator changed it.
    chat_only: bool,
}

impl Draft {
    fn of(input: &ChatInput) -> Result<Self, Error> {
        let parse = |b: &[u8]| {
            serde_json::from_slice::<Value>(b)
                .map_err(|e| Error::internal(format!("cannot read a parsed request: {e}")))
        };
        let chat = match input.untranslatable() {
            None => Some(parse(input.raw().object.body())?),
            Some(_) => None,
        };
        let native = input
            .native_body()
            .map(|n| parse(n.request.object.body()))
            .transpose()?;
        Ok(Self {
            chat,
            native,
            changed: false,
            chat_only: false,
        })
    }

    /// The body whose messages are checked.
    fn prompt(&self) -> Option<&Value> {
        self.chat.as_ref().or(self.native.as_ref())
    }

    fn rewrite(&mut self, f: &mut dyn FnMut(&str) -> Option<String>) -> bool {
        let mut changed = false;
        if let Some(c) = &mut self.chat {
            changed |= rewrite_prompt(c, f);
        }
        if let Some(n) = &mut self.native {
            changed |= rewrite_prompt(n, f);
        }
        self.changed |= changed;
        changed
    }

    fn into_input(self, input: &ChatInput) -> Result<ChatInput, Error> {
        let encode = |v: &Value| {
            serde_json::to_vec(v)
                .map(Bytes::from)
                .map_err(|e| Error::internal(format!("cannot encode a request: {e}")))
        };
        let native_body = input.native_body().filter(|_| !self.chat_only);
        let Some(n) = native_body else {
            let chat = self.chat.as_ref().map(encode).transpose()?;
            return Ok(ChatInput::new(parse_chat(chat.unwrap_or_default())?));
        };
        let native = self.native.as_ref().map(encode).transpose()?;
        let request = reparse(n.api, native.unwrap_or_default())?;
        let canonical = match (input.untranslatable(), self.chat) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(c)) => serde_json::from_value::<ChatRequest>(c)
                .map_err(|e| Error::internal(format!("cannot re-read a request: {e}"))),
            (None, None) => Err(Error::internal("a translated request lost its chat form")),
        };
        let body = NativeBody {
            api: n.api,
            request,
            headers: n.headers.clone(),
        };
        ChatInput::native(body, canonical)
    }
}

fn reparse(api: NativeApi, body: Bytes) -> Result<ParsedRequest, Error> {
    match api {
        NativeApi::AnthropicMessages => parse_messages(body),
        NativeApi::OpenAiResponses => parse_responses(body),
        NativeApi::OpenAiCompletions => parse_completions(body),
    }
}

/// Runs the request side of `policies` over `input`.
pub async fn before(
    job: &Job<'_>,
    input: &ChatInput,
    policies: &[Arc<Policy>],
) -> Result<Before, Error> {
    let mut out = Before::default();
    let mut draft: Option<Draft> = None;
    let mut hits = Vec::new();
    for policy in policies {
        match &policy.kind {
            Kind::PromptGuard(g) => {
                let d = ensure(&mut draft, input)?;
                let Some(why) = d.prompt().and_then(|p| g.check(&turns(p))) else {
                    job.record
                        .update(|r| r.guardrails.push(event(policy, "input", "passed")));
                    continue;
                };
                let refuse = g.on_block == OnBlock::Refuse;
                let mut e = event(policy, "input", if refuse { "refused" } else { "blocked" });
                e.note = Some(why);
                job.record.update(|r| r.guardrails.push(e));
                if refuse {
                    out.refusal = Some((policy.name.clone(), g.refusal.clone()));
                    return Ok(out);
                }
                return Err(blocked(&policy.name, "prompt"));
            }
            Kind::Dlp(dlp) if dlp.input => {
                let d = ensure(&mut draft, input)?;
                let mut f = dlp.findings();
                let vault = &mut out.vault;
                d.rewrite(&mut |s| dlp.apply(s, &mut f, vault, &mut hits));
                let e = dlp_event(policy, dlp, &f, "input");
                job.record.update(|r| r.guardrails.push(e));
                if f.blocked {
                    return Err(blocked(&policy.name, "prompt"));
                }
            }
            Kind::Remote(r) if r.input => {
                let d = ensure(&mut draft, input)?;
                let turns = d.prompt().map(turns).unwrap_or_default();
                let route = job.record.read(|rec| rec.meta.route.clone());
                let subject = Subject {
                    policy: &policy.name,
                    stage: "input",
                    request_id: job.record.id(),
                    route: &route,
                    model: job.model,
                };
                let (block, e) = r.check(subject, &turns).await;
                let failed = !e.ran;
                job.record.update(|rec| rec.guardrails.push(e));
                if block {
                    return Err(if failed {
                        unchecked(&policy.name, "prompt")
                    } else {
                        blocked(&policy.name, "prompt")
                    });
                }
            }
            Kind::Decorate(dec) => {
                let d = ensure(&mut draft, input)?;
                let chat = d.chat.as_mut().ok_or_else(no_chat_form)?;
                if dec.apply(chat) {
                    d.changed = true;
                    d.chat_only = true;
                }
                job.record
                    .update(|r| r.guardrails.push(event(policy, "input", "decorated")));
            }
            Kind::Template(t) => {
                let d = ensure(&mut draft, input)?;
                let props = [d.chat.as_ref(), d.native.as_ref()]
                    .into_iter()
                    .flatten()
                    .find_map(|v| v.get("properties").and_then(Value::as_object).cloned());
                let chat = d.chat.as_mut().ok_or_else(no_chat_form)?;
                let had_props = chat.get("properties").is_some();
                let rendered = t.apply(chat, props.as_ref());
                let mut e = event(policy, "input", "passed");
                if let Ok(Some(names)) = &rendered {
                    e.outcome = "rendered".to_owned();
                    e.note = Some(names.join(","));
                } else if rendered.is_err() {
                    e.outcome = "blocked".to_owned();
                }
                job.record.update(|r| r.guardrails.push(e));
                if rendered?.is_some() || had_props {
                    d.changed = true;
                    d.chat_only = true;
                }
            }
            Kind::Transform(t) if t.request => {
                let d = ensure(&mut draft, input)?;
                let chat = d.chat.as_mut().ok_or_else(no_chat_form)?;
                let rewritten = match t.ask(job, chat.to_string()).await {
                    Ok(text) => transform::new_body(&text, chat),
                    Err(e) => Err(e),
                };
                let mut e = event(policy, "input", "transformed");
                match rewritten {
                    Ok(new) => {
                        *chat = new;
                        d.changed = true;
                        d.chat_only = true;
                        job.record.update(|r| r.guardrails.push(e));
                    }
                    Err(err) => {
                        let closed = t.on_error == OnError::Closed;
                        e.ran = false;
                        e.outcome = if closed {
                            "error_fail_closed"
                        } else {
                            "error_fail_open"
                        }
                        .to_owned();
                        e.note = Some(err.message().to_owned());
                        job.record.update(|r| r.guardrails.push(e));
                        if closed {
                            return Err(unchecked(&policy.name, "prompt"));
                        }
                    }
                }
            }
            Kind::Dlp(_) | Kind::OutputGuard(_) | Kind::Remote(_) | Kind::Transform(_) => {}
        }
    }
    if let Some(d) = draft.filter(|d| d.changed) {
        out.input = Some(d.into_input(input)?);
    }
    Ok(out)
}

fn no_chat_form() -> Error {
    Error::invalid(
        "This request cannot be templated or decorated: it has no chat form (it uses a \
         feature only its own API has).",
    )
}

fn ensure<'d>(draft: &'d mut Option<Draft>, input: &ChatInput) -> Result<&'d mut Draft, Error> {
    if draft.is_none() {
        *draft = Some(Draft::of(input)?);
    }
    draft
        .as_mut()
        .ok_or_else(|| Error::internal("guardrail draft missing"))
}
