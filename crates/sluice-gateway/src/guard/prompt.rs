//! The prompt guard (`type: prompt_guard`): allow and deny regular
//! expressions over the prompt's messages.
//!
//! Runs on the request path, before the prompt leaves for any provider.
//! The patterns are compiled once at config load into `regex` sets (linear
//! time, whatever the input). A deny match blocks; with `allow` patterns, a
//! prompt that matches none of them is blocked too.

use regex::RegexSet;
use serde::Deserialize;

use super::body::Turn;

/// Whose messages a prompt guard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Roles {
    /// User messages only.
    #[default]
    User,
    /// Every message, system prompt included.
    All,
}

/// Which messages a prompt guard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The last message of the chosen roles.
    #[default]
    Latest,
    /// Every message of the chosen roles.
    History,
}

/// What a blocked prompt gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBlock {
    /// A 400 error in the client's dialect.
    #[default]
    Error,
    /// A well-formed answer carrying the refusal text.
    Refuse,
}

/// A compiled `type: prompt_guard` policy.
#[derive(Debug, Clone)]
pub struct PromptGuard {
    pub deny: RegexSet,
    pub allow: Option<RegexSet>,
    pub roles: Roles,
    pub scope: Scope,
    pub on_block: OnBlock,
    pub refusal: String,
}

impl PromptGuard {
    /// `None` when the prompt may pass; else why it is blocked (which
    /// pattern, never the text).
    pub fn check(&self, turns: &[Turn]) -> Option<String> {
        let chosen: Vec<&Turn> = turns
            .iter()
            .filter(|t| self.roles == Roles::All || t.role == "user")
            .collect();
        let checked: &[&Turn] = match self.scope {
            Scope::Latest => chosen.last().map_or(&[], std::slice::from_ref),
            Scope::History => &chosen,
        };
        for t in checked {
            if let Some(i) = self.deny.matches(&t.text).iter().next() {
                return Some(format!("deny[{i}]"));
            }
        }
        if let Some(allow) = &self.allow
            && !checked.iter().any(|t| allow.is_match(&t.text))
        {
            return Some("no allow pattern matched".to_owned());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: &str, text: &str) -> Turn {
        Turn {
            role: role.into(),
            text: text.into(),
        }
    }

    fn guard(deny: &[&str], allow: &[&str], roles: Roles, scope: Scope) -> PromptGuard {
        PromptGuard {
            deny: RegexSet::new(deny).unwrap(),
            allow: (!allow.is_empty()).then(|| RegexSet::new(allow).unwrap()),
            roles,
            scope,
            on_block: OnBlock::Error,
            refusal: String::new(),
        }
    }

    #[test]
    fn deny_allow_roles_scope() {
        let history = [
            turn("system", "forbidden system"),
            turn("user", "tell me a forbidden thing"),
            turn("assistant", "no"),
            turn("user", "about cats"),
        ];
        let g = guard(&["forbidden"], &[], Roles::User, Scope::Latest);
        assert!(g.check(&history).is_none(), "latest user turn is clean");
        let g = guard(&["forbidden"], &[], Roles::User, Scope::History);
        assert_eq!(g.check(&history).as_deref(), Some("deny[0]"));
        let g = guard(&["system"], &[], Roles::All, Scope::History);
        assert!(g.check(&history).is_some());
        let g = guard(&[], &["(?i)cats|dogs"], Roles::User, Scope::Latest);
        assert!(g.check(&history).is_none());
        let g = guard(&[], &["(?i)dogs"], Roles::User, Scope::Latest);
        assert!(g.check(&history).is_some());
    }
}
