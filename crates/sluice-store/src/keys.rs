//! Virtual keys, consumers and teams: the data, the key material, and the
//! narrow [`KeyStore`] trait the database backends implement.
//!
//! A key is `sk-sluice-` followed by 43 random alphanumeric characters (over
//! 250 bits). It is shown once, at creation; only its SHA-256 hash is stored.
//! Keys that callers already use elsewhere can be imported: they are hashed
//! the same way. Lookups go by hash; the hash found is compared with the
//! presented key's hash in constant time.

use async_trait::async_trait;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::StoreError;
use crate::policy::{BudgetSpec, LimitSpec};

/// The prefix of generated keys.
pub const KEY_PREFIX: &str = "sk-sluice-";
const KEY_CHARS: usize = 43;

/// A new random key.
pub fn generate_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let body: String = (0..KEY_CHARS)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{KEY_PREFIX}{body}")
}

/// The stored form of a key: lowercase hex SHA-256.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `presented` hashes to `stored`, compared in constant time.
pub fn matches(presented: &str, stored_hash: &str) -> bool {
    hash_key(presented)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// What is shown of a key after creation: its first characters.
pub fn display_prefix(key: &str) -> String {
    let n = key.char_indices().nth(14).map_or(key.len(), |(i, _)| i);
    format!("{}…", &key[..n])
}

/// A stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyRecord {
    pub id: String,
    /// SHA-256 of the key; not serialised to API clients.
    #[serde(skip_serializing, default)]
    pub hash: String,
    /// The first characters, for recognising a key in lists.
    pub prefix: String,
    pub name: Option<String>,
    pub consumer_id: Option<String>,
    /// The key came from outside Sluice (an existing caller's key).
    pub imported: bool,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Public models this key may use (all when absent).
    pub allowed_models: Option<Vec<String>>,
    /// Routes this key may use (all when absent).
    pub allowed_routes: Option<Vec<String>>,
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    pub budget: Option<BudgetSpec>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// After a rotation with a grace period: the replaced key's hash, valid
    /// until `previous_expires_at`.
    #[serde(skip_serializing, default)]
    pub previous_hash: Option<String>,
    /// When the replaced key stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_expires_at: Option<i64>,
}

impl KeyRecord {
    /// Whether the key may be used at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now_ms)
    }

    /// Whether `presented` is this key (or its replaced predecessor, within
    /// the grace period) at `now_ms`. Constant-time comparison.
    pub fn accepts(&self, presented: &str, now_ms: i64) -> bool {
        if !self.active(now_ms) {
            return false;
        }
        if matches(presented, &self.hash) {
            return true;
        }
        match (&self.previous_hash, self.previous_expires_at) {
            (Some(h), Some(until)) => until > now_ms && matches(presented, h),
            _ => false,
        }
    }
}

/// A consumer: who a key belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Consumer {
    pub id: String,
    pub name: String,
    pub team_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    pub budget: Option<BudgetSpec>,
    pub created_at: i64,
}

/// A team of consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    pub budget: Option<BudgetSpec>,
    pub created_at: i64,
}

/// A key with its consumer and team, as authentication needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedKey {
    pub key: KeyRecord,
    pub consumer: Option<Consumer>,
    pub team: Option<Team>,
}

/// Where keys, consumers and teams live.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Stores a new key.
    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// Replaces a key's editable fields (by id).
    async fn update_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// A key by id.
    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// A key by hash, with its consumer and team.
    async fn resolve(&self, hash: &str) -> Result<Option<ResolvedKey>, StoreError>;
    /// All keys, newest first.
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Whether any key is active (decides open versus closed mode).
    async fn any_active_key(&self, now_ms: i64) -> Result<bool, StoreError>;

    async fn insert_consumer(&self, c: &Consumer) -> Result<(), StoreError>;
    async fn update_consumer(&self, c: &Consumer) -> Result<(), StoreError>;
    async fn consumer(&self, id: &str) -> Result<Option<Consumer>, StoreError>;
    async fn consumers(&self) -> Result<Vec<Consumer>, StoreError>;
    async fn delete_consumer(&self, id: &str) -> Result<bool, StoreError>;

    async fn insert_team(&self, t: &Team) -> Result<(), StoreError>;
    async fn update_team(&self, t: &Team) -> Result<(), StoreError>;
    async fn team(&self, id: &str) -> Result<Option<Team>, StoreError>;
    async fn teams(&self) -> Result<Vec<Team>, StoreError>;
    async fn delete_team(&self, id: &str) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_CHARS);
        assert_ne!(a, b);
        let h = hash_key(&a);
        assert_eq!(h.len(), 64);
        assert!(matches(&a, &h));
        assert!(!matches(&b, &h));
        assert!(!display_prefix(&a).contains(&a[20..]));
    }
}
