//! Fencing returning old masters. A master replaced by a failover is
//! downtimed `lost-in-recovery`; if it comes back (restarted, or the
//! partition healed) it would still take writes — a split brain. While that
//! downtime lasts, any such server found writable is made read-only (a
//! lost replica is read-only already; a returning co-master that resumes
//! replicating must not take writes either). To use it again, an operator ends its downtime (or it is
//! ended automatically once it replicates from the new topology).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orc_model::InstanceKey;
use orc_mysql::Operator;
use orc_runtime::wall_clock;

use crate::Ctx;

/// How often returning old masters are looked for, and a new connection
/// attempt is started towards each one that is still away.
pub const EVERY: Duration = Duration::from_millis(500);

/// How long one attempt waits for a server to answer. Attempts overlap: a
/// hung server's pending connections are served first thing when it
/// resumes, and across a partition a fresh attempt is never more than
/// [`EVERY`] old when the network heals (an old attempt only retries its
/// handshake on the kernel's backoff).
const ATTEMPT: Duration = Duration::from_secs(5);

/// At most this many attempts towards one server at once.
const MAX_IN_FLIGHT: usize = 10;

/// Attempts in flight towards one server, and a lock so attempts that get
/// through together fence it once.
#[derive(Default)]
struct Attempts {
    in_flight: usize,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

/// Attempts in flight per server.
#[derive(Default)]
pub(crate) struct Fencer {
    servers: Mutex<HashMap<InstanceKey, Attempts>>,
}

impl Fencer {
    /// Registers one more attempt towards `key` unless enough are in flight.
    fn begin(&self, key: &InstanceKey) -> Option<Arc<tokio::sync::Mutex<()>>> {
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        let entry = servers.entry(key.clone()).or_default();
        if entry.in_flight >= MAX_IN_FLIGHT {
            return None;
        }
        entry.in_flight += 1;
        Some(entry.one_at_a_time.clone())
    }

    fn end(&self, key: &InstanceKey) {
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = servers.get_mut(key) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if entry.in_flight == 0 {
                servers.remove(key);
            }
        }
    }
}

/// One pass: starts an attempt towards every server lost in recovery (each
/// attempt runs on its own and fences the server if it finds it writable).
pub(crate) async fn pass(ctx: &Arc<Ctx>, fencer: &Arc<Fencer>) {
    let now = wall_clock();
    let Ok(all) = ctx.store.metadata().all().await else {
        return;
    };
    for (key, meta) in all {
        if !orc_planner::fencing::is_lost_in_recovery(&meta, now) {
            continue;
        }
        let Some(lock) = fencer.begin(&key) else {
            continue;
        };
        let (ctx2, fencer2) = (ctx.clone(), fencer.clone());
        ctx.tracker.spawn(async move {
            attempt(&ctx2, &key, &meta, &lock).await;
            fencer2.end(&key);
        });
    }
}

/// Connects to `key` (waiting up to [`ATTEMPT`]) and, while it is still
/// lost in recovery, makes it read-only in the first statement it runs;
/// returns whether it had been writable. `meta` was read when the attempt
/// began: the downtime's end is checked again on connecting, and a server
/// whose downtime an operator ended within the attempt is at worst set
/// read-only, never made writable.
async fn attempt(
    ctx: &Ctx,
    key: &InstanceKey,
    meta: &orc_model::InstanceMetadata,
    lock: &tokio::sync::Mutex<()>,
) -> bool {
    let mut opts = ctx.cfg.connect_options(key);
    opts.connect_timeout = ATTEMPT;
    opts.read_timeout = Duration::from_secs(2);
    let Ok(mut op) = Operator::connect(key.clone(), &opts).await else {
        return false;
    };
    let _one_at_a_time = lock.lock().await;
    let mut fenced = false;
    if orc_planner::fencing::is_lost_in_recovery(meta, wall_clock()) {
        match op.fence_read_only(ctx.cfg.use_super_read_only).await {
            Ok(true) => {
                tracing::warn!(instance = %key, "old master is back and writable: made read-only (lost-in-recovery)");
                note(ctx, key).await;
                fenced = true;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(instance = %key, error = %e, "old master is back but could not be made read-only");
            }
        }
    }
    op.close().await;
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
