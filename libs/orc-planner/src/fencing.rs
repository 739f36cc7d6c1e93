//! Fencing returning old masters: which servers must not take writes.
//!
//! A master replaced by a failover is downtimed `lost-in-recovery`; when it
//! comes back (restarted, a partition healed) it must not take writes
//! beside its successor. While that downtime lasts, a writable one is made
//! read-only. To use it again an operator ends the downtime (or it ends by
//! itself once the server replicates from the new topology).

use orc_model::{InstanceMetadata, LOST_IN_RECOVERY, Timestamp};

/// Whether a server may have to be fenced: it is downtimed as lost in a
/// recovery. Only such servers are read at all.
pub fn is_lost_in_recovery(meta: &InstanceMetadata, now: Timestamp) -> bool {
    meta.downtime
        .as_ref()
        .is_some_and(|d| d.reason == LOST_IN_RECOVERY && d.is_active(now))
}

/// Whether a server lost in a recovery and found `writable` must be made
/// read-only now.
pub fn must_fence(meta: &InstanceMetadata, writable: bool, now: Timestamp) -> bool {
    writable && is_lost_in_recovery(meta, now)
}

#[cfg(test)]
mod tests {
    use orc_model::Downtime;

    use super::*;

    fn downtimed(reason: &str, ends: i64) -> InstanceMetadata {
        InstanceMetadata {
            downtime: Some(Downtime {
                owner: "orchestrator-rs".into(),
                reason: reason.into(),
                begins_at: Timestamp(0),
                ends_at: Timestamp(ends),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_writable_old_master_lost_in_recovery_is_fenced() {
        assert!(must_fence(
            &downtimed(LOST_IN_RECOVERY, 10_000),
            true,
            Timestamp(5)
        ));
    }

    #[test]
    fn read_only_servers_expired_downtimes_and_other_reasons_are_left_alone() {
        assert!(!must_fence(
            &downtimed(LOST_IN_RECOVERY, 10_000),
            false,
            Timestamp(5)
        ));
        assert!(!must_fence(
            &downtimed(LOST_IN_RECOVERY, 10),
            true,
            Timestamp(50)
        ));
        assert!(!must_fence(
            &downtimed("disk swap", 10_000),
            true,
            Timestamp(5)
        ));
        assert!(!must_fence(
            &InstanceMetadata::default(),
            true,
            Timestamp(5)
        ));
    }
}
