//! Content blocks of the request: user parts (text, images, documents),
//! assistant turns (signed reasoning, text, tool calls) and cache points.
//! Part of [`super`]; runs once per attempt while the request is built.

use serde_json::{Value, json};

use super::PROVIDER;
use crate::Error;
use crate::bedrock::wire::{self, ContentBlock, ReasoningContent, ReasoningText, ToolUse};
use crate::openai::chat::{Content as OaContent, ContentPart};
use crate::translate::{arguments_object, parse_data_url, unsupported};

pub(super) fn cache_point() -> Value {
    json!({"type": "default"})
}

pub(super) fn user_blocks(
    content: Option<&OaContent>,
    dropped: &mut Vec<String>,
) -> Result<Vec<ContentBlock>, Error> {
    let parts = match content {
        None => return Ok(Vec::new()),
        Some(OaContent::Text(t)) => return Ok(vec![ContentBlock::Text(t.clone())]),
        Some(OaContent::Parts(p)) => p,
    };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            ContentPart::Text { text, extra } => {
                out.push(ContentBlock::Text(text.clone()));
                if extra.contains_key("cache_control") {
                    out.push(ContentBlock::CachePoint(cache_point()));
                }
            }
            ContentPart::ImageUrl { image_url } => {
                if image_url.detail.as_deref().is_some_and(|d| d != "auto") {
                    push_once(dropped, "image_url.detail");
                }
                out.push(image(&image_url.url)?);
            }
            ContentPart::File { file } => out.push(document(
                file.file_data.as_deref(),
                file.filename.as_deref(),
                out.len(),
            )?),
            ContentPart::InputAudio { .. } => {
                return Err(unsupported(
                    PROVIDER,
                    "input_audio",
                    "Converse does not take audio input",
                ));
            }
            ContentPart::Refusal { refusal } => out.push(ContentBlock::Text(refusal.clone())),
        }
    }
    Ok(out)
}

fn push_once(dropped: &mut Vec<String>, name: &str) {
    if !dropped.iter().any(|d| d == name) {
        dropped.push(name.to_owned());
    }
}

fn image(url: &str) -> Result<ContentBlock, Error> {
    let Some(d) = parse_data_url(url) else {
        return Err(unsupported(
            PROVIDER,
            "image_url",
            "Converse takes images inline only; send them as `data:image/...;base64,` URLs \
             (the gateway does not fetch remote images)",
        ));
    };
    let format = match d.media_type {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(unsupported(
                PROVIDER,
                "image_url",
                &format!("image type `{other}` is not one of png, jpeg, gif, webp"),
            ));
        }
    };
    Ok(ContentBlock::Image(wire::Image {
        format: format.to_owned(),
        source: json!({ "bytes": d.data }),
    }))
}

fn document(data: Option<&str>, filename: Option<&str>, n: usize) -> Result<ContentBlock, Error> {
    let d = data.and_then(parse_data_url).ok_or_else(|| {
        unsupported(
            PROVIDER,
            "file",
            "send the file inline as a base64 `file_data` data URL",
        )
    })?;
    let format = match d.media_type {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "text/html" => "html",
        "text/plain" => "txt",
        "text/markdown" => "md",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        other => {
            return Err(unsupported(
                PROVIDER,
                "file",
                &format!("document type `{other}` is not supported by Converse"),
            ));
        }
    };
    // Document names allow letters, digits, single spaces, hyphens,
    // parentheses and square brackets.
    let stem = filename.map_or("", |f| f.rsplit_once('.').map_or(f, |(s, _)| s));
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-()[] ".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("  ") {
        name = name.replace("  ", " ");
    }
    let name = name.trim().to_owned();
    Ok(ContentBlock::Document(wire::Document {
        format: format.to_owned(),
        name: if name.is_empty() {
            format!("document-{n}")
        } else {
            name
        },
        source: json!({ "bytes": d.data }),
    }))
}

pub(super) fn assistant_blocks(
    m: &crate::openai::chat::Message,
    dropped: &mut Vec<String>,
) -> Result<Vec<ContentBlock>, Error> {
    let mut blocks = Vec::new();
    // Signed reasoning comes first, as the models that produce it require.
    if let Some(Value::Array(tb)) = m.extra.get("thinking_blocks") {
        for b in tb {
            match b.get("type").and_then(Value::as_str) {
                Some("thinking") => blocks.push(ContentBlock::ReasoningContent(
                    ReasoningContent::ReasoningText(ReasoningText {
                        text: b["thinking"].as_str().unwrap_or_default().to_owned(),
                        signature: b["signature"].as_str().map(str::to_owned),
                    }),
                )),
                Some("redacted_thinking") => blocks.push(ContentBlock::ReasoningContent(
                    ReasoningContent::RedactedContent(
                        b["data"].as_str().unwrap_or_default().to_owned(),
                    ),
                )),
                _ => {}
            }
        }
    }
    match &m.content {
        Some(OaContent::Text(t)) if !t.is_empty() => blocks.push(ContentBlock::Text(t.clone())),
        Some(OaContent::Parts(_)) => blocks.extend(
            user_blocks(m.content.as_ref(), dropped)?
                .into_iter()
                .filter(|b| !matches!(b, ContentBlock::Text(t) if t.is_empty())),
        ),
        _ => {}
    }
    for call in m.tool_calls.iter().flatten() {
        blocks.push(ContentBlock::ToolUse(ToolUse {
            tool_use_id: call.id.clone(),
            name: call.function.name.clone(),
            input: arguments_object(&call.function.arguments)?,
        }));
    }
    Ok(blocks)
}
