//! Prompt templates (`type: template`) and decorators (`type: decorate`):
//! policies that build or extend the prompt rather than check it.
//!
//! Run on the request path with the other request-side policies, in the
//! declared order, on the request's chat form. A request that came in on
//! another API is then sent in its chat translation (its own body would not
//! carry the change).
//!
//! A template is invoked with a user message whose whole content is
//! `{template://name}`; the values of its `{{variables}}` come from the
//! request's top-level `properties` object, which is removed before the
//! request leaves. A missing variable or an unknown template is a 400.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_protocol::Error;

/// One message a policy adds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// `system`, `user`, `assistant` or `developer`.
    pub role: String,
    /// The message text; in templates it may hold `{{variables}}`.
    pub content: String,
}

/// A compiled `type: decorate` policy.
#[derive(Debug, Clone)]
pub struct Decorate {
    pub prepend: Vec<Message>,
    pub append: Vec<Message>,
}

/// A compiled `type: template` policy.
#[derive(Debug, Clone)]
pub struct Templates {
    /// Messages by template name.
    pub templates: BTreeMap<String, Vec<Message>>,
    /// Refuse requests that use no template.
    pub require: bool,
}

fn to_value(m: &Message, content: String) -> Value {
    let mut o = Map::new();
    o.insert("role".to_owned(), Value::from(m.role.clone()));
    o.insert("content".to_owned(), Value::from(content));
    Value::Object(o)
}

impl Decorate {
    /// Adds the messages to a chat body. Returns whether it changed.
    pub fn apply(&self, chat: &mut Value) -> bool {
        let Some(messages) = chat.get_mut("messages").and_then(Value::as_array_mut) else {
            return false;
        };
        let front: Vec<Value> = self
            .prepend
            .iter()
            .map(|m| to_value(m, m.content.clone()))
            .collect();
        messages.splice(0..0, front);
        messages.extend(self.append.iter().map(|m| to_value(m, m.content.clone())));
        !(self.prepend.is_empty() && self.append.is_empty())
    }
}

/// The template a message invokes, if its whole content is
/// `{template://name}`.
fn invoked(m: &Value) -> Option<&str> {
    m.get("content")?
        .as_str()?
        .trim()
        .strip_prefix("{template://")?
        .strip_suffix('}')
}

impl Templates {
    /// Renders the templates a chat body invokes. `Ok(None)`: none was
    /// invoked (and none is required); `Ok(Some(names))`: what was rendered.
    pub fn apply(
        &self,
        chat: &mut Value,
        properties: Option<&Map<String, Value>>,
    ) -> Result<Option<Vec<String>>, Error> {
        let Some(messages) = chat.get_mut("messages").and_then(Value::as_array_mut) else {
            return Ok(None);
        };
        let mut rendered = Vec::new();
        let mut out = Vec::with_capacity(messages.len());
        for m in messages.drain(..) {
            let Some(name) = invoked(&m).map(str::to_owned) else {
                out.push(m);
                continue;
            };
            let Some(template) = self.templates.get(&name) else {
                return Err(Error::invalid(format!("Unknown prompt template `{name}`."))
                    .with_param("messages"));
            };
            for t in template {
                out.push(to_value(t, render(&t.content, properties, &name)?));
            }
            rendered.push(name);
        }
        *messages = out;
        if let Some(o) = chat.as_object_mut() {
            o.remove("properties");
        }
        if rendered.is_empty() {
            if self.require {
                return Err(Error::invalid(
                    "This route only accepts prompt templates: send a user message whose \
                     content is `{template://name}`, with the values in `properties`.",
                )
                .with_param("messages"));
            }
            return Ok(None);
        }
        Ok(Some(rendered))
    }
}

/// `text` with every `{{ name }}` replaced by its property.
fn render(text: &str, props: Option<&Map<String, Value>>, template: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        match props.and_then(|p| p.get(name)) {
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
            None => {
                return Err(Error::invalid(format!(
                    "The prompt template `{template}` needs the variable `{name}`: add it to \
                     `properties`."
                ))
                .with_param("properties"));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn templates() -> Templates {
        Templates {
            templates: BTreeMap::from([(
                "sum".to_owned(),
                vec![
                    Message {
                        role: "system".into(),
                        content: "Answer in {{ lang }}.".into(),
                    },
                    Message {
                        role: "user".into(),
                        content: "Summarise: {{text}} ({{n}} words)".into(),
                    },
                ],
            )]),
            require: false,
        }
    }

    #[test]
    fn renders_with_properties() {
        let mut chat = json!({"messages": [{"role": "user", "content": "{template://sum}"}],
                              "properties": {"lang": "French", "text": "hello", "n": 5}});
        let props = chat["properties"].as_object().cloned();
        let got = templates().apply(&mut chat, props.as_ref()).unwrap();
        assert_eq!(got, Some(vec!["sum".to_owned()]));
        assert_eq!(chat["messages"][0]["content"], "Answer in French.");
        assert_eq!(chat["messages"][1]["content"], "Summarise: hello (5 words)");
        assert!(chat.get("properties").is_none());
    }

    #[test]
    fn missing_variable_and_required_templates_are_400s() {
        let mut chat = json!({"messages": [{"role": "user", "content": "{template://sum}"}]});
        let e = templates().apply(&mut chat, None).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("lang"), "{}", e.message());
        let mut t = templates();
        t.require = true;
        let mut plain = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(t.apply(&mut plain, None).unwrap_err().status(), 400);
    }

    #[test]
    fn decorators_wrap_the_messages() {
        let d = Decorate {
            prepend: vec![Message {
                role: "system".into(),
                content: "policy".into(),
            }],
            append: vec![Message {
                role: "user".into(),
                content: "be brief".into(),
            }],
        };
        let mut chat = json!({"messages": [{"role": "user", "content": "q"}]});
        assert!(d.apply(&mut chat));
        let roles: Vec<_> = chat["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(roles, ["policy", "q", "be brief"]);
    }
}
