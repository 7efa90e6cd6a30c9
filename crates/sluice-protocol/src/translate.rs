//! Helpers shared by the adapters that translate OpenAI requests to other
//! formats: data URLs, stop-reason names, and the list of parameters that
//! had to be dropped.

use crate::{Error, ErrorKind};

/// A translated value and the request parameters it could not carry.
///
/// A parameter that would change the meaning of the request if ignored is
/// rejected with [`ErrorKind::UnsupportedParam`] instead of being listed here.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated<T> {
    pub value: T,
    /// Names of dropped parameters, e.g. `logit_bias`.
    pub dropped: Vec<String>,
}

/// The error for a parameter a provider cannot honour.
pub fn unsupported(provider: &str, param: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedParam,
        format!("`{param}` is not supported by {provider}: {why}"),
    )
    .with_param(param)
}

/// A `data:` URL split into its media type and base64 payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUrl<'a> {
    pub media_type: &'a str,
    pub data: &'a str,
}

/// Parses `data:<media>;base64,<data>`; `None` for anything else.
pub fn parse_data_url(url: &str) -> Option<DataUrl<'_>> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some(DataUrl {
        media_type: if media_type.is_empty() {
            "application/octet-stream"
        } else {
            media_type
        },
        data,
    })
}

/// Parses a tool call's JSON-encoded arguments into an object, as the
/// formats that carry arguments as structured JSON require.
pub fn arguments_object(arguments: &str) -> Result<serde_json::Value, Error> {
    if arguments.trim().is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        _ => Err(Error::invalid(format!(
            "tool call arguments must be a JSON object, got `{}`",
            arguments.chars().take(80).collect::<String>()
        ))
        .with_param("messages")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(
            parse_data_url("data:image/png;base64,AAAA"),
            Some(DataUrl {
                media_type: "image/png",
                data: "AAAA"
            })
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
        assert_eq!(parse_data_url("data:text/plain,hello"), None);
    }

    #[test]
    fn arguments() {
        assert_eq!(arguments_object("").unwrap(), serde_json::json!({}));
        assert_eq!(
            arguments_object(r#"{"a":1}"#).unwrap(),
            serde_json::json!({"a":1})
        );
        assert!(arguments_object("[1]").is_err());
    }
}
