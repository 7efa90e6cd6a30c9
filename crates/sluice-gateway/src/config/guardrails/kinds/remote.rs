//! The remote content-safety policy types (`azure_content_safety`,
//! `openai_moderation`, `webhook`), as written, and their compilation.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Stage, input_only};
use crate::config::secret::resolve;
use crate::config::units::Dur;
use crate::config::validate::Ctx;
use crate::guard::remote::{Azure, Moderation, OnError, Remote, Service, Webhook};

/// `type: azure_content_safety`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAzure {
    /// The resource endpoint, e.g. `https://<name>.cognitiveservices.azure.com`.
    pub endpoint: String,
    /// The subscription key reference (`env:NAME`, `file:/path`), sent as
    /// `Ocp-Apim-Subscription-Key`.
    pub api_key: String,
    /// The `api-version` query parameter. Default `2024-09-01`.
    pub api_version: Option<String>,
    /// Severity thresholds by category (`Hate`, `SelfHarm`, `Sexual`,
    /// `Violence`): a category at or above its threshold blocks. Default:
    /// all four at 4. Only these categories are analysed.
    pub categories: Option<BTreeMap<String, u8>>,
    /// Blocklist names to match; any match blocks.
    #[serde(default)]
    pub blocklists: Vec<String>,
    /// Stop analysing at the first blocklist hit. Default `false`.
    #[serde(default)]
    pub halt_on_blocklist_hit: bool,
    /// `FourSeverityLevels` (default) or `EightSeverityLevels`.
    pub output_type: Option<String>,
    /// `input` (default), `output`, or both. Streamed answers are not sent.
    #[serde(default = "input_only")]
    pub stages: Vec<Stage>,
    /// How long to wait for a verdict. Default `2s`.
    pub timeout: Option<Dur>,
    /// Required: `open` lets calls through when the service fails or times
    /// out, `closed` blocks them.
    pub on_error: OnError,
}

/// `type: openai_moderation`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModeration {
    /// API root. Default `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// The API key reference (`env:NAME`, `file:/path`).
    pub api_key: String,
    /// Default `omni-moderation-latest`.
    pub model: Option<String>,
    /// Only these flagged categories block (default: any flagged one).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Score thresholds by category; a score at or above blocks.
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// `input` (default), `output`, or both. Streamed answers are not sent.
    #[serde(default = "input_only")]
    pub stages: Vec<Stage>,
    /// How long to wait for a verdict. Default `2s`.
    pub timeout: Option<Dur>,
    /// Required: `open` lets calls through when the service fails or times
    /// out, `closed` blocks them.
    pub on_error: OnError,
}

/// `type: webhook`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// Where the check is POSTed.
    pub url: String,
    /// Optional bearer token reference, sent as `Authorization: Bearer`.
    pub api_key: Option<String>,
    /// Extra headers; values may be secret references.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `input` (default), `output`, or both. Streamed answers are not sent.
    #[serde(default = "input_only")]
    pub stages: Vec<Stage>,
    /// How long to wait for a verdict. Default `2s`.
    pub timeout: Option<Dur>,
    /// Required: `open` lets calls through when the service fails or times
    /// out, `closed` blocks them.
    pub on_error: OnError,
}

/// Settings every remote check has.
struct Common {
    stages: Vec<Stage>,
    timeout: Option<Dur>,
    on_error: OnError,
}

/// Compiles `type: azure_content_safety`.
pub(super) fn azure(cx: &mut Ctx<'_>, a: &RawAzure) -> Result<Remote, String> {
    let endpoint = url(&a.endpoint)?;
    let version = a.api_version.as_deref().unwrap_or("2024-09-01");
    let thresholds = a.categories.clone().unwrap_or_else(|| {
        ["Hate", "SelfHarm", "Sexual", "Violence"]
            .iter()
            .map(|c| ((*c).to_owned(), 4))
            .collect()
    });
    let output_type = a
        .output_type
        .clone()
        .unwrap_or_else(|| "FourSeverityLevels".to_owned());
    if !matches!(
        output_type.as_str(),
        "FourSeverityLevels" | "EightSeverityLevels"
    ) {
        return Err("output_type: `FourSeverityLevels` or `EightSeverityLevels`".into());
    }
    let service = Service::Azure(Azure {
        url: format!("{endpoint}/contentsafety/text:analyze?api-version={version}"),
        thresholds,
        blocklists: a.blocklists.clone(),
        halt_on_blocklist_hit: a.halt_on_blocklist_hit,
        output_type,
    });
    remote(
        cx,
        service,
        Some(&a.api_key),
        &Common {
            stages: a.stages.clone(),
            timeout: a.timeout,
            on_error: a.on_error,
        },
    )
}

/// Compiles `type: openai_moderation`.
pub(super) fn moderation(cx: &mut Ctx<'_>, m: &RawModeration) -> Result<Remote, String> {
    let base = url(m.base_url.as_deref().unwrap_or("https://api.openai.com/v1"))?;
    let service = Service::Moderation(Moderation {
        url: format!("{base}/moderations"),
        model: m
            .model
            .clone()
            .unwrap_or_else(|| "omni-moderation-latest".to_owned()),
        categories: m.categories.clone(),
        thresholds: m.thresholds.clone(),
    });
    remote(
        cx,
        service,
        Some(&m.api_key),
        &Common {
            stages: m.stages.clone(),
            timeout: m.timeout,
            on_error: m.on_error,
        },
    )
}

/// Compiles `type: webhook`.
pub(super) fn webhook(cx: &mut Ctx<'_>, w: &RawWebhook) -> Result<Remote, String> {
    let mut headers = Vec::with_capacity(w.headers.len());
    for (k, v) in &w.headers {
        headers.push((
            k.clone(),
            resolve(v, cx.env).map_err(|e| format!("headers.{k}: {e}"))?,
        ));
    }
    let service = Service::Webhook(Webhook {
        url: url(&w.url)?,
        headers,
    });
    remote(
        cx,
        service,
        w.api_key.as_ref(),
        &Common {
            stages: w.stages.clone(),
            timeout: w.timeout,
            on_error: w.on_error,
        },
    )
}

fn url(u: &str) -> Result<String, String> {
    let u = u.trim_end_matches('/');
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(format!("`{u}` is not an http(s) URL"));
    }
    Ok(u.to_owned())
}

fn remote(
    cx: &mut Ctx<'_>,
    service: Service,
    key: Option<&String>,
    common: &Common,
) -> Result<Remote, String> {
    let key = key
        .map(|k| resolve(k, cx.env).map_err(|e| format!("api_key: {e}")))
        .transpose()?;
    if common.stages.is_empty() {
        return Err("stages: name `input`, `output` or both".into());
    }
    let timeout = common
        .timeout
        .map_or(std::time::Duration::from_secs(2), |d| d.0);
    let timeouts = crate::config::Timeouts {
        connect: timeout,
        ..crate::config::Timeouts::default()
    };
    let client = crate::provider::http::client(&timeouts).map_err(|e| e.message().to_owned())?;
    Ok(Remote {
        service,
        client,
        key,
        timeout,
        on_error: common.on_error,
        input: common.stages.contains(&Stage::Input),
        output: common.stages.contains(&Stage::Output),
    })
}
