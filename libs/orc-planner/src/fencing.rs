//! Fencing returning old masters: which servers must not take writes.
//!
//! A master replaced by a failover is downtimed `lost-in-recovery`; when it
//! comes back (restarted, a partition healed) it must not take writes
//! beside its successor. While that downtime lasts, a writable one is made
//! read-only. To use it again an operator ends the downtime (or it ends by
//! itself once the server replicates from the new topology).

use std::time::Duration;

use orc_model::{InstanceMetadata, InstanceState, LOST_IN_RECOVERY, Timestamp};

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

/// What to do about a server's *fence line*: an idle connection opened
/// while it answers, kept so that if it is ever replaced while hung, the
/// statement that makes it read-only is already waiting in its socket when
/// it resumes, ahead of any client's new connection (which still has a
/// handshake to do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceLine {
    /// Have one: its last probe, within `stale_after`, found it writable,
    /// and it is not lost in a recovery yet.
    Open,
    /// Keep one if it exists but open none: it does not answer now (hung,
    /// cut off: exactly when its line may be needed), or it is lost in a
    /// recovery (its line carries the fencing statement).
    Keep,
    /// Close it: its last probe found it read-only, nothing to fence.
    Close,
}

/// The fence line a server should have.
pub fn fence_line(
    state: &InstanceState,
    meta: Option<&InstanceMetadata>,
    now: Timestamp,
    stale_after: Duration,
) -> FenceLine {
    if meta.is_some_and(|m| is_lost_in_recovery(m, now))
        || !state.is_last_check_valid(now, stale_after)
    {
        return FenceLine::Keep;
    }
    match &state.data {
        Some(d) if !d.read_only => FenceLine::Open,
        _ => FenceLine::Close,
    }
}

#[cfg(test)]
mod tests {
    use orc_model::{Downtime, InstanceKey};

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

    fn probed(read_only: bool, seen_ms: i64) -> InstanceState {
        let key = InstanceKey::new("db1", 3306).unwrap();
        let mut s = InstanceState::new(key, Timestamp(0));
        s.data = Some(orc_model::InstanceData {
            read_only,
            ..Default::default()
        });
        s.last_checked = Some(Timestamp(seen_ms));
        s.last_seen = Some(Timestamp(seen_ms));
        s
    }

    const STALE: Duration = Duration::from_secs(5);

    #[test]
    fn a_writable_server_seen_lately_gets_a_fence_line() {
        let now = Timestamp(2_000);
        let line = |meta| fence_line(&probed(false, 1_000), meta, now, STALE);
        assert_eq!(line(None), FenceLine::Open);
        assert_eq!(line(Some(&downtimed("disk swap", 10_000))), FenceLine::Open);
    }

    #[test]
    fn a_hung_or_lost_server_keeps_its_line_and_gets_no_new_one() {
        let later = Timestamp(60_000);
        assert_eq!(
            fence_line(&probed(false, 1_000), None, later, STALE),
            FenceLine::Keep
        );
        let mut failing = probed(false, 1_000);
        failing.last_checked = Some(Timestamp(1_500));
        assert_eq!(
            fence_line(&failing, None, Timestamp(2_000), STALE),
            FenceLine::Keep
        );
        let lost = downtimed(LOST_IN_RECOVERY, 10_000);
        assert_eq!(
            fence_line(&probed(false, 1_000), Some(&lost), Timestamp(2_000), STALE),
            FenceLine::Keep
        );
    }

    #[test]
    fn a_read_only_or_unprobed_server_has_none() {
        let now = Timestamp(2_000);
        assert_eq!(
            fence_line(&probed(true, 1_000), None, now, STALE),
            FenceLine::Close
        );
        let unprobed = InstanceState::new(InstanceKey::new("db2", 3306).unwrap(), now);
        assert_eq!(fence_line(&unprobed, None, now, STALE), FenceLine::Keep);
    }
}
