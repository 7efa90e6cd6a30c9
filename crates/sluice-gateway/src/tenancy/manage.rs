//! Managing keys: create, import, update, revoke and rotate, with
//! validation. Used by the admin API (and through it the CLI).
//!
//! A created key is returned in plaintext exactly once; only its hash is
//! stored. Every change invalidates this instance's key cache at once;
//! other instances see it within `auth.cache_ttl`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sluice_store::keys::{display_prefix, generate_key, hash_key};
use sluice_store::policy::{BudgetSpec, LimitSpec, OnExhausted};
use sluice_store::{KeyRecord, StoreError};
use utoipa::ToSchema;

use super::Tenancy;
use super::directory::now_ms;

/// Shortest imported key accepted.
const MIN_IMPORTED_KEY: usize = 16;

/// Why a management operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::NotFound => Self::NotFound("record".into()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// Deserialises a field that may be absent (`None`), `null`
/// (`Some(None)`) or set (`Some(Some(v))`), for PATCH bodies.
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A key to create (or import, with `key`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: Option<String>,
    /// The consumer the key belongs to: its id or name.
    pub consumer: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Public models (or patterns with one `*`) the key may use; all when absent.
    pub allowed_models: Option<Vec<String>>,
    /// Route names the key may use; all when absent.
    pub allowed_routes: Option<Vec<String>>,
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    pub budget: Option<BudgetSpec>,
    /// Expiry, milliseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// Expiry as seconds from now (instead of `expires_at`).
    pub expires_in_secs: Option<u64>,
    /// Import this existing key (at least 16 characters) instead of
    /// generating one, so callers migrating to Sluice keep their key.
    pub key: Option<String>,
}

/// Changes to a key; absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub consumer: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_routes: Option<Option<Vec<String>>>,
    pub limits: Option<Vec<LimitSpec>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<BudgetSpec>)]
    pub budget: Option<Option<BudgetSpec>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub expires_at: Option<Option<i64>>,
}

/// A rotation request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// How long the replaced key keeps working (default 0: it stops at once).
    #[serde(default)]
    pub grace_secs: u64,
}

/// A key as just created or rotated: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKey {
    /// The key. Store it now: Sluice keeps only its hash.
    pub key: String,
    #[serde(flatten)]
    pub record: KeyRecord,
}

/// Checks limit and budget specs.
pub fn validate_policy(
    limits: &[LimitSpec],
    budget: Option<&BudgetSpec>,
) -> Result<(), AdminError> {
    for (i, l) in limits.iter().enumerate() {
        if !(1..=86_400).contains(&l.window_secs) {
            return Err(AdminError::Invalid(format!(
                "limits[{i}].window_secs must be between 1 and 86400"
            )));
        }
        if l.limit.is_nan() || l.limit <= 0.0 {
            return Err(AdminError::Invalid(format!(
                "limits[{i}].limit must be positive"
            )));
        }
    }
    if let Some(b) = budget {
        if b.usd.is_nan() || b.usd < 0.0 {
            return Err(AdminError::Invalid(
                "budget.usd must be zero or more".into(),
            ));
        }
        if b.alert_at.is_some_and(|a| !(a > 0.0 && a <= 1.0)) {
            return Err(AdminError::Invalid(
                "budget.alert_at must be in (0, 1]".into(),
            ));
        }
        if let OnExhausted::Fallback { model } = &b.on_exhausted
            && model.trim().is_empty()
        {
            return Err(AdminError::Invalid(
                "budget.on_exhausted.model must name a model".into(),
            ));
        }
    }
    Ok(())
}

/// A new id with a readable prefix: `key_…`, `con_…`, `team_…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

impl Tenancy {
    /// The consumer id for `reference` (an id or a name).
    pub async fn consumer_id(&self, reference: &str) -> Result<String, AdminError> {
        self.find_consumer(reference)
            .await?
            .map(|c| c.id)
            .ok_or_else(|| AdminError::NotFound(format!("consumer `{reference}`")))
    }

    /// Creates (or imports) a key.
    pub async fn create_key(&self, req: NewKey) -> Result<IssuedKey, AdminError> {
        validate_policy(&req.limits, req.budget.as_ref())?;
        let now = now_ms();
        let expires_at = match (req.expires_at, req.expires_in_secs) {
            (Some(_), Some(_)) => {
                return Err(AdminError::Invalid(
                    "give expires_at or expires_in_secs, not both".into(),
                ));
            }
            (Some(at), None) => Some(at),
            (None, Some(secs)) => {
                Some(now + i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2))
            }
            (None, None) => None,
        };
        if expires_at.is_some_and(|e| e <= now) {
            return Err(AdminError::Invalid("expires_at is in the past".into()));
        }
        let imported = req.key.is_some();
        let key = match req.key {
            Some(k) if k.trim() != k || k.len() < MIN_IMPORTED_KEY => {
                return Err(AdminError::Invalid(format!(
                    "an imported key must be at least {MIN_IMPORTED_KEY} characters, without surrounding spaces"
                )));
            }
            Some(k) => k,
            None => generate_key(),
        };
        let consumer_id = match &req.consumer {
            Some(c) => Some(self.consumer_id(c).await?),
            None => None,
        };
        let record = KeyRecord {
            id: new_id("key"),
            hash: hash_key(&key),
            prefix: if imported {
                // Show little of a key whose format Sluice does not know.
                format!("{}…", key.chars().take(4).collect::<String>())
            } else {
                display_prefix(&key)
            },
            name: req.name,
            consumer_id,
            imported,
            metadata: req.metadata,
            allowed_models: req.allowed_models,
            allowed_routes: req.allowed_routes,
            limits: req.limits,
            budget: req.budget,
            created_at: now,
            expires_at,
            revoked_at: None,
            previous_hash: None,
            previous_expires_at: None,
        };
        self.keys().insert_key(&record).await.map_err(|e| match e {
            StoreError::Conflict(_) => AdminError::Conflict("that key already exists".into()),
            other => other.into(),
        })?;
        self.directory().note_key_created();
        tracing::info!(key_id = %record.id, imported, "API key created");
        Ok(IssuedKey { key, record })
    }

    /// A key by id.
    pub async fn key_by_id(&self, id: &str) -> Result<KeyRecord, AdminError> {
        self.keys()
            .key(id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("key `{id}`")))
    }

    /// Applies `patch` to a key.
    pub async fn update_key(&self, id: &str, patch: KeyPatch) -> Result<KeyRecord, AdminError> {
        let mut k = self.key_by_id(id).await?;
        if let Some(v) = patch.name {
            k.name = v;
        }
        if let Some(v) = patch.consumer {
            k.consumer_id = match v {
                Some(c) => Some(self.consumer_id(&c).await?),
                None => None,
            };
        }
        if let Some(v) = patch.metadata {
            k.metadata = v;
        }
        if let Some(v) = patch.allowed_models {
            k.allowed_models = v;
        }
        if let Some(v) = patch.allowed_routes {
            k.allowed_routes = v;
        }
        if let Some(v) = patch.limits {
            k.limits = v;
        }
        if let Some(v) = patch.budget {
            k.budget = v;
        }
        if let Some(v) = patch.expires_at {
            k.expires_at = v;
        }
        validate_policy(&k.limits, k.budget.as_ref())?;
        self.keys().update_key(&k).await?;
        self.directory().invalidate();
        Ok(k)
    }

    /// Revokes a key (it stays listed, marked revoked).
    pub async fn revoke_key(&self, id: &str) -> Result<KeyRecord, AdminError> {
        let mut k = self.key_by_id(id).await?;
        if k.revoked_at.is_none() {
            k.revoked_at = Some(now_ms());
            self.keys().update_key(&k).await?;
            tracing::info!(key_id = %k.id, "API key revoked");
        }
        self.directory().invalidate();
        Ok(k)
    }

    /// Replaces a key's secret, keeping its id, settings, limits and spend.
    /// The old secret keeps working for `grace_secs`.
    pub async fn rotate_key(&self, id: &str, rotate: Rotate) -> Result<IssuedKey, AdminError> {
        let mut k = self.key_by_id(id).await?;
        if k.revoked_at.is_some() {
            return Err(AdminError::Invalid(
                "a revoked key cannot be rotated".into(),
            ));
        }
        let key = generate_key();
        let now = now_ms();
        if rotate.grace_secs > 0 {
            k.previous_hash = Some(std::mem::take(&mut k.hash));
            k.previous_expires_at = Some(
                now + i64::try_from(rotate.grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2),
            );
        } else {
            k.previous_hash = None;
            k.previous_expires_at = None;
        }
        k.hash = hash_key(&key);
        k.prefix = display_prefix(&key);
        k.imported = false;
        self.keys().update_key(&k).await?;
        self.directory().invalidate();
        tracing::info!(key_id = %k.id, grace_secs = rotate.grace_secs, "API key rotated");
        Ok(IssuedKey { key, record: k })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let p: KeyPatch = serde_json::from_str(r#"{"name": null, "limits": []}"#).unwrap();
        assert_eq!(p.name, Some(None));
        assert_eq!(p.consumer, None);
        assert_eq!(p.limits, Some(vec![]));
        assert!(serde_json::from_str::<KeyPatch>(r#"{"nope": 1}"#).is_err());
    }

    #[test]
    fn policies_are_checked() {
        let bad: LimitSpec =
            serde_json::from_str(r#"{"metric":"requests","limit":5,"window_secs":0}"#).unwrap();
        assert!(validate_policy(&[bad], None).is_err());
        let ok: LimitSpec =
            serde_json::from_str(r#"{"metric":"total_tokens","limit":1000,"window_secs":60}"#)
                .unwrap();
        assert!(validate_policy(&[ok], None).is_ok());
        let b: BudgetSpec =
            serde_json::from_str(r#"{"usd":5,"period":"daily","alert_at":2}"#).unwrap();
        assert!(validate_policy(&[], Some(&b)).is_err());
    }
}
