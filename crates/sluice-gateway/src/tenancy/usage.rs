//! Usage reports: what a key (with its consumer and team) has spent in each
//! budget's current period, what is left, and request and token totals.
//! Read by the admin API and `sluice usage`.
//!
//! Spend is the larger of the live counter (which includes requests in
//! flight) and the ledger's sum (which survives restarts).

use serde::Serialize;
use sluice_store::db::requests::{SpendBy, Totals};
use sluice_store::policy::{BudgetSpec, LimitSpec, Period};
use utoipa::ToSchema;

use super::directory::now_ms;
use super::identity::Owner;
use super::limiter::budget_key;
use super::manage::AdminError;
use super::{Tenancy, period};

/// One budget's state in its current period.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetStatus {
    /// `key`, `consumer` or `team`.
    pub owner: String,
    pub owner_id: String,
    pub owner_name: String,
    /// The budget as set.
    pub budget: BudgetSpec,
    pub period_start_ms: i64,
    /// When the budget resets (the next period starts).
    pub resets_at_ms: i64,
    pub spent_usd: f64,
    pub remaining_usd: f64,
    /// The soft alert threshold is reached.
    pub alerting: bool,
}

/// A key's usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyUsage {
    pub key_id: String,
    pub name: Option<String>,
    pub consumer_id: Option<String>,
    /// Every budget that applies: the key's, its consumer's, its team's.
    pub budgets: Vec<BudgetStatus>,
    /// The key's own rate limits.
    pub limits: Vec<LimitSpec>,
    /// Totals since the start of the UTC day.
    pub today: Totals,
    /// Totals since the start of the UTC month.
    pub this_month: Totals,
}

/// One row of the usage overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRow {
    pub key_id: String,
    pub name: Option<String>,
    pub consumer_id: Option<String>,
    pub revoked: bool,
    #[serde(flatten)]
    pub totals: Totals,
    /// The key's own budget left in its current period, if it has one.
    pub budget_remaining_usd: Option<f64>,
}

fn by(owner: Owner) -> SpendBy {
    match owner {
        Owner::Key => SpendBy::Key,
        Owner::Consumer => SpendBy::Consumer,
        Owner::Team => SpendBy::Team,
    }
}

impl Tenancy {
    /// The state of one budget now.
    pub async fn budget_status(
        &self,
        owner: Owner,
        id: &str,
        name: &str,
        spec: &BudgetSpec,
    ) -> Result<BudgetStatus, AdminError> {
        let now = now_ms();
        let span = period::span(spec.period, now);
        let ledger = self.db().spend_of(by(owner), id, span.start_ms).await?;
        let live = self
            .counters()
            .read(&budget_key(owner, id, spec), span.bucket)
            .await
            .unwrap_or(0.0);
        let spent = ledger.max(live);
        Ok(BudgetStatus {
            owner: owner.as_str().to_owned(),
            owner_id: id.to_owned(),
            owner_name: name.to_owned(),
            budget: spec.clone(),
            period_start_ms: span.start_ms,
            resets_at_ms: span.end_ms,
            spent_usd: spent,
            remaining_usd: (spec.usd - spent).max(0.0),
            alerting: spec.alert_at.is_some_and(|a| spent >= a * spec.usd),
        })
    }

    /// A key's usage and budgets.
    pub async fn key_usage(&self, id: &str) -> Result<KeyUsage, AdminError> {
        let key = self.key_by_id(id).await?;
        let mut budgets = Vec::new();
        if let Some(b) = &key.budget {
            let name = key.name.clone().unwrap_or_else(|| key.id.clone());
            budgets.push(self.budget_status(Owner::Key, &key.id, &name, b).await?);
        }
        let consumer = match &key.consumer_id {
            Some(c) => self.keys().consumer(c).await?,
            None => None,
        };
        if let Some(c) = &consumer {
            if let Some(b) = &c.budget {
                budgets.push(
                    self.budget_status(Owner::Consumer, &c.id, &c.name, b)
                        .await?,
                );
            }
            if let Some(t) = match &c.team_id {
                Some(t) => self.keys().team(t).await?,
                None => None,
            } && let Some(b) = &t.budget
            {
                budgets.push(self.budget_status(Owner::Team, &t.id, &t.name, b).await?);
            }
        }
        let now = now_ms();
        let today = period::span(Period::Daily, now).start_ms;
        let month = period::span(Period::Monthly, now).start_ms;
        Ok(KeyUsage {
            today: self.db().totals_of(SpendBy::Key, &key.id, today).await?,
            this_month: self.db().totals_of(SpendBy::Key, &key.id, month).await?,
            key_id: key.id,
            name: key.name,
            consumer_id: key.consumer_id,
            budgets,
            limits: key.limits,
        })
    }

    /// Totals per key since `since_ms` (default: the start of the UTC month).
    pub async fn usage_overview(&self, since_ms: Option<i64>) -> Result<Vec<UsageRow>, AdminError> {
        let since = since_ms.unwrap_or_else(|| period::span(Period::Monthly, now_ms()).start_ms);
        let totals = self.db().totals_by_key(since).await?;
        let keys = self.keys().keys().await?;
        let mut rows = Vec::with_capacity(keys.len());
        for k in keys {
            let t = totals
                .iter()
                .find(|(id, _)| *id == k.id)
                .map(|(_, t)| *t)
                .unwrap_or_default();
            let budget_remaining_usd = match &k.budget {
                Some(b) => {
                    let name = k.name.clone().unwrap_or_default();
                    Some(
                        self.budget_status(Owner::Key, &k.id, &name, b)
                            .await?
                            .remaining_usd,
                    )
                }
                None => None,
            };
            rows.push(UsageRow {
                revoked: k.revoked_at.is_some(),
                key_id: k.id,
                name: k.name,
                consumer_id: k.consumer_id,
                totals: t,
                budget_remaining_usd,
            });
        }
        rows.sort_by(|a, b| b.totals.cost_usd.total_cmp(&a.totals.cost_usd));
        Ok(rows)
    }
}
