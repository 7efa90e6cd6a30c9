//! Active health checks: a periodic cheap call to each target of the
//! groups that ask for it (`health_check: {interval: 30s}`).
//!
//! Started when a config snapshot is built and stopped when it is replaced.
//! A probe's result feeds the target's breaker and error average exactly as
//! a real request's would, so a dead target is ejected before users hit it
//! and a recovered one is readmitted. Providers without a free call (no
//! `probe`) are not probed.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::ModelTable;

/// Probe tasks of one config snapshot; aborted when dropped.
#[derive(Debug, Default)]
pub struct HealthChecks(Vec<JoinHandle<()>>);

impl Drop for HealthChecks {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// Starts the probe loops for `table` on the current tokio runtime (none
/// when called outside one).
pub fn spawn(table: &ModelTable) -> HealthChecks {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return HealthChecks::default();
    };
    let mut tasks = Vec::new();
    for group in table.groups() {
        let Some(interval) = group.policy.health_check else {
            continue;
        };
        let group = Arc::clone(&group);
        tasks.push(rt.spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                for t in &group.targets {
                    match t.provider.probe().await {
                        Some(Ok(())) => t.stats.on_success(None, None, group.half_life()),
                        Some(Err(e))
                            if e.is_retryable()
                                || e.kind() == sluice_protocol::ErrorKind::UpstreamAuth =>
                        {
                            tracing::warn!(target_id = %t.id, error = %e, "health check failed");
                            t.stats.on_failure(group.half_life());
                        }
                        Some(Err(_)) | None => {}
                    }
                }
            }
        }));
    }
    HealthChecks(tasks)
}
