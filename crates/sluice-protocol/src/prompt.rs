//! A chat conversation rendered as one plain-text prompt, for upstreams that
//! only complete text: Hugging Face `text-generation` models and Replicate
//! language models.
//!
//! Runs while a request is translated, before anything is sent. Only text
//! survives the rendering: images, audio, files, tool calls and tool results
//! have no place in a plain prompt and are refused with a 400 (never dropped
//! silently). `system` and `developer` messages are lifted out so the caller
//! can place them (a `System:` block, or Replicate's `system_prompt`).
//!
//! The template is deliberately simple and the same for every model, because
//! Sluice does not know a model's own chat template:
//!
//! ```text
//! System: You are terse.
//!
//! User: Hello
//!
//! Assistant: Hi!
//!
//! User: How are you?
//!
//! Assistant:
//! ```
//!
//! Blocks are separated by one blank line; the trailing `Assistant:` cue is
//! added only where the caller asks for it (completion-only models).

use crate::openai::chat::{ChatRequest, Content, ContentPart, ResponseFormat, Role};
use crate::translate::unsupported;
use crate::{Error, ErrorKind};

/// Label of the system block.
pub const SYSTEM: &str = "System";
/// Label of a user turn.
pub const USER: &str = "User";
/// Label of an assistant turn.
pub const ASSISTANT: &str = "Assistant";

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    User,
    Assistant,
}

impl Speaker {
    /// The turn's label in the transcript.
    pub fn label(self) -> &'static str {
        match self {
            Self::User => USER,
            Self::Assistant => ASSISTANT,
        }
    }
}

/// One conversation turn, text only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
}

/// A conversation reduced to text: the system prompt and the turns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// `system` and `developer` messages, joined by a blank line.
    pub system: Option<String>,
    pub turns: Vec<Turn>,
    /// Message fields that could not be carried (`name`, `reasoning_content`).
    pub dropped: Vec<String>,
}

impl Conversation {
    /// Reduces the request's messages to text, refusing what a plain prompt
    /// cannot carry. `provider` names the upstream in error messages.
    pub fn from_request(req: &ChatRequest, provider: &str) -> Result<Self, Error> {
        let mut out = Self::default();
        let mut system: Vec<String> = Vec::new();
        for m in &req.messages {
            if m.name.is_some() {
                note(&mut out.dropped, "name");
            }
            if m.reasoning_content.is_some() {
                note(&mut out.dropped, "reasoning_content");
            }
            let speaker = match m.role {
                Role::System | Role::Developer => {
                    system.push(text_of(m.content.as_ref(), provider)?);
                    continue;
                }
                Role::User => Speaker::User,
                Role::Assistant => {
                    if m.tool_calls.as_ref().is_some_and(|c| !c.is_empty()) {
                        return Err(no_tools(provider));
                    }
                    Speaker::Assistant
                }
                Role::Tool | Role::Function => return Err(no_tools(provider)),
            };
            let mut text = text_of(m.content.as_ref(), provider)?;
            if text.is_empty()
                && let Some(r) = &m.refusal
            {
                text.clone_from(r);
            }
            out.turns.push(Turn { speaker, text });
        }
        if !system.is_empty() {
            out.system = Some(system.join("\n\n"));
        }
        Ok(out)
    }

    /// Whether the conversation is one user message (besides the system
    /// prompt), which chat-tuned models are best given verbatim.
    pub fn is_single_user(&self) -> bool {
        matches!(self.turns.as_slice(), [t] if t.speaker == Speaker::User)
    }

    /// The transcript: an optional `System:` block, one labelled block per
    /// turn, and with `cue` a final `Assistant:` for the model to complete.
    pub fn transcript(&self, with_system: bool, cue: bool) -> String {
        let mut blocks: Vec<String> = Vec::with_capacity(self.turns.len() + 2);
        if with_system && let Some(s) = &self.system {
            blocks.push(format!("{SYSTEM}: {s}"));
        }
        for t in &self.turns {
            blocks.push(format!("{}: {}", t.speaker.label(), t.text));
        }
        if cue {
            blocks.push(format!("{ASSISTANT}:"));
        }
        blocks.join("\n\n")
    }
}

/// Refuses what a text-only completion cannot honour: tools, JSON mode and
/// several choices.
pub fn refuse_meaning_changes(req: &ChatRequest, provider: &str) -> Result<(), Error> {
    if req.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(no_tools(provider));
    }
    if matches!(
        req.response_format,
        Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
    ) {
        return Err(unsupported(
            provider,
            "response_format",
            "the model has no JSON mode, so JSON output cannot be guaranteed",
        ));
    }
    if req.n.is_some_and(|n| n > 1) {
        return Err(unsupported(provider, "n", "it returns one completion"));
    }
    Ok(())
}

/// Names of the OpenAI parameters set on `req` that plain text completion
/// cannot carry and that do not change the answer's meaning.
/// `presence_penalty` is included when `no_presence` is set.
pub fn common_drops(req: &ChatRequest, no_presence: bool) -> Vec<String> {
    [
        (
            "presence_penalty",
            no_presence && req.presence_penalty.is_some(),
        ),
        ("logit_bias", req.logit_bias.is_some()),
        ("logprobs", req.logprobs == Some(true)),
        ("top_logprobs", req.top_logprobs.is_some()),
        ("user", req.user.is_some()),
        ("reasoning_effort", req.reasoning_effort.is_some()),
        ("tool_choice", req.tool_choice.is_some()),
        ("parallel_tool_calls", req.parallel_tool_calls.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name.to_owned())
    .collect()
}

fn note(dropped: &mut Vec<String>, name: &str) {
    if !dropped.iter().any(|d| d == name) {
        dropped.push(name.to_owned());
    }
}

/// The error for tool use sent to an upstream without tools.
pub fn no_tools(provider: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedParam,
        format!(
            "`tools` is not supported by {provider}: the model only completes text, so tool \
             calls and tool results cannot be sent"
        ),
    )
    .with_param("tools")
}

fn text_of(content: Option<&Content>, provider: &str) -> Result<String, Error> {
    let parts = match content {
        None => return Ok(String::new()),
        Some(Content::Text(t)) => return Ok(t.clone()),
        Some(Content::Parts(p)) => p,
    };
    let mut text = String::new();
    for p in parts {
        let (param, what) = match p {
            ContentPart::Text { text: t, .. } => {
                text.push_str(t);
                continue;
            }
            ContentPart::Refusal { refusal } => {
                text.push_str(refusal);
                continue;
            }
            ContentPart::ImageUrl { .. } => ("image_url", "images"),
            ContentPart::InputAudio { .. } => ("input_audio", "audio"),
            ContentPart::File { .. } => ("file", "files"),
        };
        return Err(Error::new(
            ErrorKind::UnsupportedParam,
            format!(
                "`{param}` is not supported by {provider}: the model takes text only, not {what}"
            ),
        )
        .with_param(param));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn req(v: serde_json::Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn renders_the_documented_template() {
        let r = req(json!({"model": "m", "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi!"},
            {"role": "developer", "content": "Be kind."},
            {"role": "user", "content": [{"type": "text", "text": "How are "}, {"type": "text", "text": "you?"}], "name": "ann"},
        ]}));
        let c = Conversation::from_request(&r, "X").unwrap();
        assert_eq!(c.system.as_deref(), Some("You are terse.\n\nBe kind."));
        assert_eq!(c.dropped, ["name"]);
        assert_eq!(
            c.transcript(true, true),
            "System: You are terse.\n\nBe kind.\n\nUser: Hello\n\nAssistant: Hi!\n\nUser: How are you?\n\nAssistant:"
        );
        assert_eq!(
            c.transcript(false, false),
            "User: Hello\n\nAssistant: Hi!\n\nUser: How are you?"
        );
        assert!(!c.is_single_user());
    }

    #[test]
    fn refuses_what_text_cannot_carry() {
        let image = req(
            json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]}),
        );
        let e = Conversation::from_request(&image, "X").unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some("image_url")));
        let tool = req(json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "r"}]}));
        let e = Conversation::from_request(&tool, "X").unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some("tools")));
    }
}
