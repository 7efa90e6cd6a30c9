//! Tool definitions and `tool_choice` of a Messages request, in chat form.
//! Client tools (with an `input_schema`) become functions; Anthropic's
//! server tools (`web_search`, code execution, computer use...) are refused.

use serde_json::{Map, Value};

use super::{anthropic_only, note, wrong_type};
use crate::Error;
use crate::anthropic::wire::ToolChoice;
use crate::openai::chat::{
    FunctionDef, NamedFunction, NamedToolChoice, Tool, ToolChoice as OaToolChoice,
};

/// Client tools become functions; Anthropic's server tools are refused.
pub fn convert(tools: Vec<Value>, dropped: &mut Vec<String>) -> Result<Vec<Tool>, Error> {
    tools
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let Value::Object(mut t) = t else {
                return Err(wrong_type("tools", "a list of objects"));
            };
            let kind = t.remove("type");
            match kind.as_ref().and_then(Value::as_str) {
                None | Some("custom") => {}
                Some(other) => {
                    return Err(anthropic_only(
                        "tools",
                        &format!("The `{other}` tool (tools.{i})"),
                    ));
                }
            }
            let name = match t.remove("name") {
                Some(Value::String(n)) if !n.is_empty() => n,
                _ => {
                    return Err(Error::invalid(format!("tools.{i}.name: Field required"))
                        .with_param("tools"));
                }
            };
            let Some(schema) = t.remove("input_schema") else {
                return Err(
                    Error::invalid(format!("tools.{i}.input_schema: Field required"))
                        .with_param("tools"),
                );
            };
            let description = t
                .remove("description")
                .and_then(|d| d.as_str().map(str::to_owned));
            let strict = t.remove("strict").and_then(|s| s.as_bool());
            for k in t.keys() {
                note(dropped, k);
            }
            Ok(Tool {
                kind: "function".to_owned(),
                function: FunctionDef {
                    name,
                    description,
                    parameters: Some(schema),
                    strict,
                },
                extra: Map::new(),
            })
        })
        .collect()
}

pub fn choice(c: &ToolChoice) -> Result<(Option<OaToolChoice>, Option<bool>), Error> {
    let choice = match c.kind.as_str() {
        "auto" => OaToolChoice::Mode("auto".to_owned()),
        "any" => OaToolChoice::Mode("required".to_owned()),
        "none" => OaToolChoice::Mode("none".to_owned()),
        "tool" => {
            let Some(name) = c.name.clone() else {
                return Err(
                    Error::invalid("tool_choice.name: Field required").with_param("tool_choice")
                );
            };
            OaToolChoice::Named(NamedToolChoice {
                kind: "function".to_owned(),
                function: NamedFunction { name },
            })
        }
        other => {
            return Err(Error::invalid(format!(
                "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none', got '{other}'"
            ))
            .with_param("tool_choice"));
        }
    };
    let parallel = (c.disable_parallel_tool_use == Some(true) && c.kind != "none").then_some(false);
    Ok((Some(choice), parallel))
}
