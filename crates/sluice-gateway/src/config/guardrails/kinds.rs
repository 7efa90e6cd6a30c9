//! The policy types of `guardrails.policies`, as written, and how each is
//! compiled into a [`Policy`] at config load.

mod remote;

use std::collections::BTreeMap;

use regex::RegexSet;
use serde::Deserialize;

pub use remote::{RawAzure, RawModeration, RawWebhook};

use crate::config::units::Dur;
use crate::config::validate::Ctx;
use crate::guard::compose::{Decorate, Message, Templates};
use crate::guard::detect::{Scanner, builtin_names};
use crate::guard::dlp::{Action, Dlp};
use crate::guard::prompt::{OnBlock, PromptGuard, Roles, Scope};
use crate::guard::remote::OnError;
use crate::guard::stream::OutputGuard;
use crate::guard::transform::Transformer;
use crate::guard::{Kind, Policy};

/// One policy, chosen by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RawPolicy {
    /// Allow and deny regular expressions over the prompt.
    PromptGuard(RawPromptGuard),
    /// Secret and PII detection with an action per detector.
    Dlp(RawDlp),
    /// Deny regular expressions over the answer, streamed or not.
    OutputGuard(RawOutputGuard),
    /// Azure AI Content Safety text analysis.
    AzureContentSafety(RawAzure),
    /// The OpenAI moderation endpoint.
    OpenaiModeration(RawModeration),
    /// Any service implementing the webhook contract of `docs/guardrails.md`.
    Webhook(RawWebhook),
    /// Messages prepended and appended to every prompt.
    Decorate(RawDecorate),
    /// Named prompt templates clients invoke with `{template://name}`.
    Template(RawTemplate),
    /// A model of this gateway rewrites the request body.
    RequestTransformer(RawTransformer),
    /// A model of this gateway rewrites complete answers.
    ResponseTransformer(RawTransformer),
}

/// `type: request_transformer` or `type: response_transformer`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransformer {
    /// A public model of this gateway (under `models:`) that does the rewriting.
    pub model: String,
    /// The system message it gets, e.g. "Translate the user messages to
    /// English; answer with the JSON body only."
    pub instruction: String,
    /// How long to wait for its answer. Default `30s`.
    pub timeout: Option<Dur>,
    /// Required: `open` keeps the body unchanged when the call fails,
    /// `closed` refuses the request.
    pub on_error: OnError,
}

/// `type: decorate`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecorate {
    /// Messages put before the client's (e.g. a company policy preamble).
    #[serde(default)]
    pub prepend: Vec<Message>,
    /// Messages put after the client's.
    #[serde(default)]
    pub append: Vec<Message>,
}

/// `type: template`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    /// Templates by name: the messages that replace a user message whose
    /// content is `{template://name}`; `{{variable}}` takes its value from
    /// the request's `properties`.
    pub templates: BTreeMap<String, Vec<Message>>,
    /// Refuse (400) requests that invoke no template. Default `false`.
    #[serde(default)]
    pub require: bool,
}

/// Where a policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The prompt, before it leaves for a provider.
    Input,
    /// The answer, before it reaches the client.
    Output,
}

/// `type: prompt_guard`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPromptGuard {
    /// A prompt matching any of these is blocked.
    #[serde(default)]
    pub deny: Vec<String>,
    /// When set, a prompt must match one of these (and no `deny`).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Whose messages are checked: `user` (default) or `all` (system,
    /// assistant and tool messages too).
    #[serde(default)]
    pub roles: Roles,
    /// `latest` (default): only the last checked message; `history`: all.
    #[serde(default)]
    pub scope: Scope,
    /// `error` (default): a 400 in the client's dialect; `refuse`: a
    /// well-formed answer whose text is `refusal`.
    #[serde(default)]
    pub on_block: OnBlock,
    /// The assistant text of a refusal. Default "I can't help with that
    /// request."
    pub refusal: Option<String>,
}

/// One custom DLP detector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomDetector {
    /// Name shown in the ledger and in placeholders (`[REDACTED_<NAME>]`).
    pub name: String,
    /// A regular expression (`regex` crate syntax, linear time).
    pub pattern: String,
    /// Overrides the policy's `action` for this detector.
    pub action: Option<Action>,
}

/// `type: dlp`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDlp {
    /// Built-in detectors to run. Default: all of them (`openai_key`,
    /// `anthropic_key`, `aws_access_key`, `github_token`, `slack_token`,
    /// `google_api_key`, `stripe_key`, `bearer_token`, `private_key`,
    /// `credit_card`, `email`, `phone`, `iban`, `ip_address`).
    pub detectors: Option<Vec<String>>,
    /// Extra detectors.
    #[serde(default)]
    pub custom: Vec<RawCustomDetector>,
    /// What a detection does: `block`, `redact` (default), `restore` or `log`.
    #[serde(default = "default_action")]
    pub action: Action,
    /// Per-detector overrides of `action`, by detector name.
    #[serde(default)]
    pub actions: BTreeMap<String, Action>,
    /// `input` (default), `output`, or both.
    #[serde(default = "input_only")]
    pub stages: Vec<Stage>,
}

/// `type: output_guard`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutputGuard {
    /// An answer matching any of these is cut (streamed) or refused.
    pub deny: Vec<String>,
    /// Bytes of streamed text held back from the client so that a match
    /// is caught before it is sent. Default 64; at most 65536. A match
    /// longer than this may be partly sent before it is caught.
    pub hold_back: Option<usize>,
}

fn default_action() -> Action {
    Action::Redact
}

fn input_only() -> Vec<Stage> {
    vec![Stage::Input]
}

fn set(path: &str, field: &str, patterns: &[String]) -> Result<RegexSet, String> {
    RegexSet::new(patterns).map_err(|e| format!("{path}.{field}: {e}"))
}

/// Compiles one policy.
pub(super) fn build(
    cx: &mut Ctx<'_>,
    path: &str,
    name: &str,
    raw: &RawPolicy,
    known_model: &dyn Fn(&str) -> bool,
) -> Result<Policy, String> {
    let kind = match raw {
        RawPolicy::PromptGuard(p) => {
            if p.deny.is_empty() && p.allow.is_empty() {
                return Err("a prompt guard needs `deny` or `allow` patterns".into());
            }
            Kind::PromptGuard(PromptGuard {
                deny: set(path, "deny", &p.deny)?,
                allow: (!p.allow.is_empty())
                    .then(|| set(path, "allow", &p.allow))
                    .transpose()?,
                roles: p.roles,
                scope: p.scope,
                on_block: p.on_block,
                refusal: p
                    .refusal
                    .clone()
                    .unwrap_or_else(|| "I can't help with that request.".to_owned()),
            })
        }
        RawPolicy::Dlp(d) => Kind::Dlp(dlp(d)?),
        RawPolicy::OutputGuard(o) => {
            let hold_back = o.hold_back.unwrap_or(64);
            if !(1..=65_536).contains(&hold_back) {
                return Err("hold_back must be between 1 and 65536 bytes".into());
            }
            if o.deny.is_empty() {
                return Err("an output guard needs `deny` patterns".into());
            }
            Kind::OutputGuard(OutputGuard {
                deny: set(path, "deny", &o.deny)?,
                hold_back,
            })
        }
        RawPolicy::AzureContentSafety(a) => Kind::Remote(remote::azure(cx, a)?),
        RawPolicy::OpenaiModeration(m) => Kind::Remote(remote::moderation(cx, m)?),
        RawPolicy::Webhook(w) => Kind::Remote(remote::webhook(cx, w)?),
        RawPolicy::Decorate(d) => {
            if d.prepend.is_empty() && d.append.is_empty() {
                return Err("a decorator needs `prepend` or `append` messages".into());
            }
            Kind::Decorate(Decorate {
                prepend: d.prepend.clone(),
                append: d.append.clone(),
            })
        }
        RawPolicy::Template(t) => {
            if t.templates.is_empty() {
                return Err("`templates` is empty".into());
            }
            Kind::Template(Templates {
                templates: t.templates.clone(),
                require: t.require,
            })
        }
        RawPolicy::RequestTransformer(t) | RawPolicy::ResponseTransformer(t) => {
            if !known_model(&t.model) {
                return Err(format!(
                    "model: `{}` is not a model of this gateway",
                    t.model
                ));
            }
            Kind::Transform(Transformer {
                model: t.model.clone(),
                instruction: t.instruction.clone(),
                timeout: t
                    .timeout
                    .map_or(std::time::Duration::from_secs(30), |d| d.0),
                on_error: t.on_error,
                request: matches!(raw, RawPolicy::RequestTransformer(_)),
            })
        }
    };
    Ok(Policy {
        name: name.to_owned(),
        kind,
    })
}

fn dlp(d: &RawDlp) -> Result<Dlp, String> {
    let builtins: Vec<String> = d
        .detectors
        .clone()
        .unwrap_or_else(|| builtin_names().map(str::to_owned).collect());
    let custom: Vec<(String, String)> = d
        .custom
        .iter()
        .map(|c| (c.name.clone(), c.pattern.clone()))
        .collect();
    let scanner = Scanner::build(&builtins, &custom)?;
    for n in d.actions.keys() {
        if !scanner.detectors().iter().any(|x| &x.name == n) {
            return Err(format!(
                "actions: `{n}` is not one of this policy's detectors"
            ));
        }
    }
    let actions = scanner
        .detectors()
        .iter()
        .map(|x| {
            d.custom
                .iter()
                .find(|c| c.name == x.name)
                .and_then(|c| c.action)
                .or_else(|| d.actions.get(&x.name).copied())
                .unwrap_or(d.action)
        })
        .collect();
    if d.stages.is_empty() {
        return Err("stages: name `input`, `output` or both".into());
    }
    Ok(Dlp {
        scanner,
        actions,
        input: d.stages.contains(&Stage::Input),
        output: d.stages.contains(&Stage::Output),
    })
}
