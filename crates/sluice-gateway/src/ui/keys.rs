//! `/ui/keys`: every virtual key with its spend this month against its
//! budget; create a key (its value is shown once, with a copy button),
//! revoke or rotate one, and edit its allowed models, budget and request
//! rate. Calls the same tenancy functions as `/v1/keys`.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_store::KeyRecord;

use super::format;
use super::{UiError, UiState, html};
use crate::tenancy::directory::now_ms;
use crate::tenancy::manage::{IssuedKey, KeyPatch, NewKey, Rotate};
use crate::tenancy::usage::UsageRow;

/// One key, written out.
pub struct KeyLine {
    id: String,
    prefix: String,
    name: String,
    consumer: String,
    state: &'static str,
    created: String,
    allowed_models: String,
    budget: String,
    budget_usd: String,
    period: &'static str,
    rpm: String,
    requests: i64,
    spent: String,
    remaining: String,
}

fn line(k: &KeyRecord, usage: Option<&UsageRow>, now: i64) -> KeyLine {
    let rpm = k
        .limits
        .iter()
        .find(|l| l.metric == sluice_store::policy::Metric::Requests && l.window_secs == 60)
        .map(|l| l.limit.to_string())
        .unwrap_or_default();
    KeyLine {
        id: k.id.clone(),
        prefix: k.prefix.clone(),
        name: k.name.clone().unwrap_or_default(),
        consumer: k.consumer_id.clone().unwrap_or_default(),
        state: if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        },
        created: format::time(k.created_at),
        allowed_models: k.allowed_models.as_deref().unwrap_or_default().join(", "),
        budget: k.budget.as_ref().map_or_else(
            || "—".to_owned(),
            |b| format!("{} {}", format::usd(b.usd), b.period.as_str()),
        ),
        budget_usd: k
            .budget
            .as_ref()
            .map(|b| b.usd.to_string())
            .unwrap_or_default(),
        period: k.budget.as_ref().map_or("monthly", |b| b.period.as_str()),
        rpm,
        requests: usage.map_or(0, |u| u.totals.requests),
        spent: format::usd(usage.map_or(0.0, |u| u.totals.cost_usd)),
        remaining: usage
            .and_then(|u| u.budget_remaining_usd)
            .map(format::usd)
            .unwrap_or_else(|| "—".to_owned()),
    }
}

#[derive(Template)]
#[template(path = "ui/key_table.html")]
struct Table {
    keys: Vec<KeyLine>,
    oob: bool,
}

#[derive(Template)]
#[template(path = "ui/keys.html")]
struct Page {
    nav: &'static str,
    /// The rendered [`Table`].
    table: String,
}

#[derive(Template)]
#[template(path = "ui/key_issued.html")]
struct Issued<'a> {
    key: &'a IssuedKey,
    action: &'static str,
    /// The rendered [`Table`], swapped in out of band.
    table: String,
}

async fn table(ui: &UiState, oob: bool) -> Result<Table, UiError> {
    let keys = ui
        .gw
        .tenancy()
        .keys()
        .keys()
        .await
        .map_err(crate::tenancy::manage::AdminError::from)?;
    let usage: HashMap<String, UsageRow> = ui
        .gw
        .tenancy()
        .usage_overview(None)
        .await?
        .into_iter()
        .map(|u| (u.key_id.clone(), u))
        .collect();
    let now = now_ms();
    Ok(Table {
        keys: keys
            .iter()
            .map(|k| line(k, usage.get(&k.id), now))
            .collect(),
        oob,
    })
}

/// `GET /ui/keys`.
pub async fn page(State(ui): State<UiState>) -> Result<Response, UiError> {
    html(&Page {
        nav: "keys",
        table: table(&ui, false).await?.render()?,
    })
}

/// The create and edit forms' fields; empty means "none".
#[derive(Debug, Default, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    consumer: String,
    /// Comma-separated public models.
    #[serde(default)]
    allowed_models: String,
    #[serde(default)]
    budget_usd: String,
    #[serde(default)]
    budget_period: String,
    /// Requests per minute.
    #[serde(default)]
    rpm: String,
}

impl KeyForm {
    /// The settings as the admin API's JSON fields.
    fn settings(&self) -> Result<serde_json::Map<String, Value>, UiError> {
        let models: Vec<&str> = self
            .allowed_models
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        let number = |s: &str, what: &str| -> Result<Option<f64>, UiError> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<f64>()
                .map(Some)
                .map_err(|_| UiError::bad_request(format!("{what} must be a number")))
        };
        let budget = number(&self.budget_usd, "the budget")?.map(|usd| {
            let period = match self.budget_period.as_str() {
                "daily" | "weekly" => self.budget_period.as_str(),
                _ => "monthly",
            };
            json!({"usd": usd, "period": period})
        });
        let limits: Vec<Value> = number(&self.rpm, "requests per minute")?
            .map(|n| json!({"metric": "requests", "limit": n, "window_secs": 60}))
            .into_iter()
            .collect();
        let mut m = serde_json::Map::new();
        m.insert(
            "allowed_models".into(),
            if models.is_empty() {
                Value::Null
            } else {
                json!(models)
            },
        );
        m.insert("budget".into(), budget.unwrap_or(Value::Null));
        m.insert("limits".into(), json!(limits));
        Ok(m)
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Map<String, Value>) -> Result<T, UiError> {
    serde_json::from_value(Value::Object(v)).map_err(|e| UiError::bad_request(e.to_string()))
}

/// `POST /ui/keys`: creates a key; answers the key (shown once) and the
/// refreshed table.
pub async fn create(
    State(ui): State<UiState>,
    Form(form): Form<KeyForm>,
) -> Result<Response, UiError> {
    let mut fields = form.settings()?;
    if !form.name.trim().is_empty() {
        fields.insert("name".into(), json!(form.name.trim()));
    }
    if !form.consumer.trim().is_empty() {
        fields.insert("consumer".into(), json!(form.consumer.trim()));
    }
    let new: NewKey = parse(fields)?;
    let issued = ui.gw.tenancy().create_key(new).await?;
    html(&Issued {
        key: &issued,
        action: "created",
        table: table(&ui, true).await?.render()?,
    })
}

/// `POST /ui/keys/{id}`: changes the allowed models, budget and rate.
pub async fn update(
    State(ui): State<UiState>,
    Path(id): Path<String>,
    Form(form): Form<KeyForm>,
) -> Result<Response, UiError> {
    let patch: KeyPatch = parse(form.settings()?)?;
    ui.gw.tenancy().update_key(&id, patch).await?;
    Ok(Html(table(&ui, false).await?.render()?).into_response())
}

/// `POST /ui/keys/{id}/revoke`.
pub async fn revoke(
    State(ui): State<UiState>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    ui.gw.tenancy().revoke_key(&id).await?;
    Ok(Html(table(&ui, false).await?.render()?).into_response())
}

/// `POST /ui/keys/{id}/rotate`: a new value at once (no grace period),
/// shown once.
pub async fn rotate(
    State(ui): State<UiState>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let issued = ui.gw.tenancy().rotate_key(&id, Rotate::default()).await?;
    html(&Issued {
        key: &issued,
        action: "rotated",
        table: table(&ui, true).await?.render()?,
    })
}
