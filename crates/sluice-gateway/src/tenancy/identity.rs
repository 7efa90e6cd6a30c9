//! Who a request comes from, once its key is resolved.

use sluice_store::policy::{BudgetSpec, LimitSpec};
use sluice_store::{Identity as RecordIdentity, ResolvedKey};

/// A limit or budget owner: the key, its consumer or its team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Key,
    Consumer,
    Team,
}

impl Owner {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Consumer => "consumer",
            Self::Team => "team",
        }
    }
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub key_id: String,
    pub key_name: Option<String>,
    pub consumer_id: Option<String>,
    pub consumer_name: Option<String>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub allowed_models: Option<Vec<String>>,
    pub allowed_routes: Option<Vec<String>>,
    /// Limits of the key, consumer and team, with their owner's id.
    pub limits: Vec<(Owner, String, LimitSpec)>,
    /// Budgets of the key, consumer and team, with their owner's id.
    pub budgets: Vec<(Owner, String, BudgetSpec)>,
}

impl Identity {
    /// Flattens a resolved key.
    pub fn from_resolved(r: &ResolvedKey) -> Self {
        let mut limits = Vec::new();
        let mut budgets = Vec::new();
        let key = &r.key;
        limits.extend(
            key.limits
                .iter()
                .map(|l| (Owner::Key, key.id.clone(), l.clone())),
        );
        if let Some(b) = &key.budget {
            budgets.push((Owner::Key, key.id.clone(), b.clone()));
        }
        if let Some(c) = &r.consumer {
            limits.extend(
                c.limits
                    .iter()
                    .map(|l| (Owner::Consumer, c.id.clone(), l.clone())),
            );
            if let Some(b) = &c.budget {
                budgets.push((Owner::Consumer, c.id.clone(), b.clone()));
            }
        }
        if let Some(t) = &r.team {
            limits.extend(
                t.limits
                    .iter()
                    .map(|l| (Owner::Team, t.id.clone(), l.clone())),
            );
            if let Some(b) = &t.budget {
                budgets.push((Owner::Team, t.id.clone(), b.clone()));
            }
        }
        Self {
            key_id: key.id.clone(),
            key_name: key.name.clone(),
            consumer_id: r.consumer.as_ref().map(|c| c.id.clone()),
            consumer_name: r.consumer.as_ref().map(|c| c.name.clone()),
            team_id: r.team.as_ref().map(|t| t.id.clone()),
            team_name: r.team.as_ref().map(|t| t.name.clone()),
            allowed_models: key.allowed_models.clone(),
            allowed_routes: key.allowed_routes.clone(),
            limits,
            budgets,
        }
    }

    /// The name (or id) of the key, consumer or team, for messages.
    pub fn owner_name(&self, owner: Owner) -> &str {
        match owner {
            Owner::Key => self.key_name.as_deref().unwrap_or(&self.key_id),
            Owner::Consumer => self
                .consumer_name
                .as_deref()
                .or(self.consumer_id.as_deref())
                .unwrap_or("-"),
            Owner::Team => self
                .team_name
                .as_deref()
                .or(self.team_id.as_deref())
                .unwrap_or("-"),
        }
    }

    /// What the request record keeps of it.
    pub fn record(&self) -> RecordIdentity {
        RecordIdentity {
            key_id: Some(self.key_id.clone()),
            key_name: self.key_name.clone(),
            consumer: self.consumer_id.clone(),
            consumer_name: self.consumer_name.clone(),
            team: self.team_id.clone(),
            team_name: self.team_name.clone(),
        }
    }
}
