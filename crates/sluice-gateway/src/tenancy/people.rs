//! Managing consumers and teams: who keys belong to, with their own limits
//! and budgets. Used by the admin API.
//!
//! Consumers and teams are referred to by id or by name (names are unique).
//! A team or consumer still referred to cannot be deleted.

use serde::Deserialize;
use serde_json::Value;
use sluice_store::policy::{BudgetSpec, LimitSpec};
use sluice_store::{Consumer, Team};
use utoipa::ToSchema;

use super::Tenancy;
use super::directory::now_ms;
use super::manage::{AdminError, new_id, nullable, validate_policy};

/// A consumer or team to create.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsumer {
    /// Unique name.
    pub name: String,
    /// The team (id or name); consumers only.
    pub team: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    pub budget: Option<BudgetSpec>,
}

/// Changes to a consumer or team; absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyPatch {
    pub name: Option<String>,
    /// The team (id or name); consumers only.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub team: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<Value>>,
    pub limits: Option<Vec<LimitSpec>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<BudgetSpec>)]
    pub budget: Option<Option<BudgetSpec>>,
}

fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(AdminError::Invalid(
            "name must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

impl Tenancy {
    /// A consumer by id or name.
    pub async fn find_consumer(&self, reference: &str) -> Result<Option<Consumer>, AdminError> {
        if let Some(c) = self.keys().consumer(reference).await? {
            return Ok(Some(c));
        }
        let all = self.keys().consumers().await?;
        Ok(all.into_iter().find(|c| c.name == reference))
    }

    /// A team by id or name.
    pub async fn find_team(&self, reference: &str) -> Result<Option<Team>, AdminError> {
        if let Some(t) = self.keys().team(reference).await? {
            return Ok(Some(t));
        }
        let all = self.keys().teams().await?;
        Ok(all.into_iter().find(|t| t.name == reference))
    }

    async fn team_id(&self, reference: &str) -> Result<String, AdminError> {
        self.find_team(reference)
            .await?
            .map(|t| t.id)
            .ok_or_else(|| AdminError::NotFound(format!("team `{reference}`")))
    }

    /// Creates a consumer.
    pub async fn create_consumer(&self, req: NewConsumer) -> Result<Consumer, AdminError> {
        check_name(&req.name)?;
        validate_policy(&req.limits, req.budget.as_ref())?;
        let team_id = match &req.team {
            Some(t) => Some(self.team_id(t).await?),
            None => None,
        };
        let c = Consumer {
            id: new_id("con"),
            name: req.name,
            team_id,
            metadata: req.metadata,
            limits: req.limits,
            budget: req.budget,
            created_at: now_ms(),
        };
        self.keys().insert_consumer(&c).await.map_err(|e| match e {
            sluice_store::StoreError::Conflict(_) => {
                AdminError::Conflict(format!("a consumer named `{}` exists", c.name))
            }
            other => other.into(),
        })?;
        Ok(c)
    }

    /// Applies `patch` to a consumer.
    pub async fn update_consumer(
        &self,
        reference: &str,
        patch: PartyPatch,
    ) -> Result<Consumer, AdminError> {
        let mut c = self
            .find_consumer(reference)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("consumer `{reference}`")))?;
        if let Some(n) = patch.name {
            check_name(&n)?;
            c.name = n;
        }
        if let Some(t) = patch.team {
            c.team_id = match t {
                Some(t) => Some(self.team_id(&t).await?),
                None => None,
            };
        }
        if let Some(m) = patch.metadata {
            c.metadata = m;
        }
        if let Some(l) = patch.limits {
            c.limits = l;
        }
        if let Some(b) = patch.budget {
            c.budget = b;
        }
        validate_policy(&c.limits, c.budget.as_ref())?;
        self.keys().update_consumer(&c).await?;
        self.directory().invalidate();
        Ok(c)
    }

    /// Deletes a consumer no key belongs to.
    pub async fn delete_consumer(&self, reference: &str) -> Result<(), AdminError> {
        let c = self
            .find_consumer(reference)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("consumer `{reference}`")))?;
        let keys = self.keys().keys().await?;
        if keys
            .iter()
            .any(|k| k.consumer_id.as_deref() == Some(&c.id) && k.revoked_at.is_none())
        {
            return Err(AdminError::Conflict(format!(
                "consumer `{}` still has active keys; revoke them first",
                c.name
            )));
        }
        self.keys().delete_consumer(&c.id).await?;
        self.directory().invalidate();
        Ok(())
    }

    /// Creates a team.
    pub async fn create_team(&self, req: NewConsumer) -> Result<Team, AdminError> {
        check_name(&req.name)?;
        if req.team.is_some() {
            return Err(AdminError::Invalid("a team has no `team`".into()));
        }
        validate_policy(&req.limits, req.budget.as_ref())?;
        let t = Team {
            id: new_id("team"),
            name: req.name,
            metadata: req.metadata,
            limits: req.limits,
            budget: req.budget,
            created_at: now_ms(),
        };
        self.keys().insert_team(&t).await.map_err(|e| match e {
            sluice_store::StoreError::Conflict(_) => {
                AdminError::Conflict(format!("a team named `{}` exists", t.name))
            }
            other => other.into(),
        })?;
        Ok(t)
    }

    /// Applies `patch` to a team.
    pub async fn update_team(
        &self,
        reference: &str,
        patch: PartyPatch,
    ) -> Result<Team, AdminError> {
        let mut t = self
            .find_team(reference)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("team `{reference}`")))?;
        if patch.team.is_some() {
            return Err(AdminError::Invalid("a team has no `team`".into()));
        }
        if let Some(n) = patch.name {
            check_name(&n)?;
            t.name = n;
        }
        if let Some(m) = patch.metadata {
            t.metadata = m;
        }
        if let Some(l) = patch.limits {
            t.limits = l;
        }
        if let Some(b) = patch.budget {
            t.budget = b;
        }
        validate_policy(&t.limits, t.budget.as_ref())?;
        self.keys().update_team(&t).await?;
        self.directory().invalidate();
        Ok(t)
    }

    /// Deletes a team no consumer belongs to.
    pub async fn delete_team(&self, reference: &str) -> Result<(), AdminError> {
        let t = self
            .find_team(reference)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("team `{reference}`")))?;
        let consumers = self.keys().consumers().await?;
        if consumers
            .iter()
            .any(|c| c.team_id.as_deref() == Some(&t.id))
        {
            return Err(AdminError::Conflict(format!(
                "team `{}` still has consumers; move or delete them first",
                t.name
            )));
        }
        self.keys().delete_team(&t.id).await?;
        self.directory().invalidate();
        Ok(())
    }
}
