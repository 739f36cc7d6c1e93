//! Fencing returning old masters: which servers must not take writes.
//!
//! A master replaced by a failover is downtimed `lost-in-recovery`; when it
//! comes back (restarted, a partition healed) it must not take writes
//! beside its successor. While that downtime lasts, a writable one is made
//! read-only. To use it again an operator ends the downtime (or it ends by
//! itself once the server replicates from the new topology).

use orc_model::{InstanceMetadata, LOST_IN_RECOVERY, Timestamp};

/// Whether a server is fenced whenever it is reached: it is downtimed as
/// lost in a recovery. It is made read-only in the first statement run on
/// it, without reading first (read-only already changes nothing), so a
/// resumed or reconnected old master takes no write that a read would let
/// through.
pub fn is_lost_in_recovery(meta: &InstanceMetadata, now: Timestamp) -> bool {
    meta.downtime
        .as_ref()
        .is_some_and(|d| d.reason == LOST_IN_RECOVERY && d.is_active(now))
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
    fn an_old_master_lost_in_recovery_is_fenced() {
        assert!(is_lost_in_recovery(
            &downtimed(LOST_IN_RECOVERY, 10_000),
            Timestamp(5)
        ));
    }

    #[test]
    fn expired_downtimes_and_other_reasons_are_left_alone() {
        assert!(!is_lost_in_recovery(
            &downtimed(LOST_IN_RECOVERY, 10),
            Timestamp(50)
        ));
        assert!(!is_lost_in_recovery(
            &downtimed("disk swap", 10_000),
            Timestamp(5)
        ));
        assert!(!is_lost_in_recovery(
            &InstanceMetadata::default(),
            Timestamp(5)
        ));
    }
}
