//! Fencing returning old masters. A master replaced by a failover is
//! downtimed `lost-in-recovery`; if it comes back (restarted, or the
//! partition healed) it would still take writes — a split brain. While that
//! downtime lasts, any such server found writable is made read-only (a
//! lost replica is read-only already; a returning co-master that resumes
//! replicating must not take writes either). To use it again, an operator ends its downtime (or it is
//! ended automatically once it replicates from the new topology).

use std::time::Duration;

use orc_model::InstanceKey;
use orc_mysql::Operator;
use orc_runtime::wall_clock;

use crate::Ctx;

/// How often returning old masters are looked for.
pub const EVERY: Duration = Duration::from_secs(2);

/// One pass: returns the servers made read-only.
pub(crate) async fn pass(ctx: &Ctx) -> Vec<InstanceKey> {
    let now = wall_clock();
    let Ok(all) = ctx.store.metadata().all().await else {
        return Vec::new();
    };
    let lost: Vec<(InstanceKey, orc_model::InstanceMetadata)> = all
        .into_iter()
        .filter(|(_, m)| orc_planner::fencing::is_lost_in_recovery(m, now))
        .collect();
    let mut fenced = Vec::new();
    for (key, meta) in lost {
        let mut opts = ctx.cfg.connect_options(&key);
        opts.connect_timeout = opts.connect_timeout.min(Duration::from_secs(1));
        opts.read_timeout = Duration::from_secs(2);
        let Ok(mut op) = Operator::connect(key.clone(), &opts).await else {
            continue;
        };
        let writable = op
            .value("SELECT @@global.read_only")
            .await
            .ok()
            .flatten()
            .is_some_and(|v| v.trim() == "0");
        if orc_planner::fencing::must_fence(&meta, writable, now) {
            match op.set_read_only(true, ctx.cfg.use_super_read_only).await {
                Ok(()) => {
                    tracing::warn!(instance = %key, "old master is back and writable: made read-only (lost-in-recovery)");
                    note(ctx, &key).await;
                    fenced.push(key);
                }
                Err(e) => {
                    tracing::error!(instance = %key, error = %e, "old master is back and writable but could not be made read-only");
                }
            }
        }
        op.close().await;
    }
    fenced
}

/// Writes a step on the latest recovery of `key`.
async fn note(ctx: &Ctx, key: &InstanceKey) {
    let repo = ctx.store.recoveries();
    if let Ok(list) = repo.list(None).await
        && let Some(r) = list.iter().find(|r| &r.failed == key)
    {
        let _ = repo
            .add_step(
                &r.uid,
                wall_clock(),
                r.lease_revision,
                &format!("{key} came back writable while lost in recovery: set read-only"),
            )
            .await;
    }
}
