#![allow(clippy::unwrap_used)]

use std::time::Duration;

use orc_model::{InstanceKey, Timestamp};

use crate::*;

const CLUSTER: &str = "db1:3306";

fn trigger(incident: &str) -> Trigger {
    Trigger {
        incident: incident.into(),
        detection_id: format!("d-{incident}"),
        cluster: CLUSTER.into(),
        instance: InstanceKey::parse("db1:3306").unwrap(),
        code: "DeadMaster".into(),
        handler: Handler::DeadMaster,
        forced: false,
        actionable: true,
        skippable: false,
        command: String::new(),
        received_at: Timestamp(0),
        designated: None,
    }
}

fn admitted(a: Admission) -> Event {
    Event::Admitted {
        cluster: CLUSTER.into(),
        admission: a,
    }
}

fn fine() -> Admission {
    Admission {
        filters_match: true,
        still_failing: true,
        ..Admission::default()
    }
}

fn book() -> RecoveryBook {
    RecoveryBook::new(BookPolicy {
        lease_retry_every: Duration::from_millis(100),
        lease_patience: Duration::from_secs(2),
        remember_blocked_for: Duration::from_secs(3600),
    })
}

fn runs(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Run { .. }))
        .count()
}

fn granted(token: u64) -> Event {
    Event::LeaseGranted {
        cluster: CLUSTER.into(),
        token,
    }
}

#[test]
fn a_finding_goes_through_lease_admission_and_run() {
    let mut b = book();
    let a = b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
    assert!(matches!(&a[0], Action::RegisterDetection(t) if t.incident == "i1"));
    assert_eq!(
        a[1],
        Action::AcquireLease {
            cluster: CLUSTER.into()
        }
    );
    let a = b.handle(granted(7), Timestamp(1));
    assert!(matches!(&a[0], Action::Admit { token: 7, .. }));
    let a = b.handle(admitted(fine()), Timestamp(2));
    assert!(matches!(&a[0], Action::Run { token: 7, .. }));
    assert!(b.is_busy(CLUSTER));
    let a = b.handle(
        Event::Finished {
            cluster: CLUSTER.into(),
        },
        Timestamp(3),
    );
    assert_eq!(
        a,
        vec![Action::ReleaseLease {
            cluster: CLUSTER.into()
        }]
    );
    assert!(!b.is_busy(CLUSTER));
}

#[test]
fn detection_only_and_downtimed_findings_never_take_the_lease() {
    let mut b = book();
    let mut t = trigger("i1");
    t.handler = Handler::DetectionOnly;
    let a = b.handle(Event::Triggered(t), Timestamp(0));
    assert!(matches!(&a[0], Action::RegisterDetection(_)));
    assert!(matches!(
        &a[1],
        Action::Skipped {
            reason: SkipReason::NotActionable,
            ..
        }
    ));
    let mut t = trigger("i2");
    t.skippable = true;
    let a = b.handle(Event::Triggered(t), Timestamp(0));
    assert!(matches!(
        &a[1],
        Action::Skipped {
            reason: SkipReason::Downtimed,
            ..
        }
    ));
    assert!(!b.is_busy(CLUSTER));
}

#[test]
fn a_second_failure_in_the_block_period_waits_for_an_acknowledgement() {
    let mut b = book();
    b.handle(Event::Triggered(trigger("i2")), Timestamp(0));
    b.handle(granted(1), Timestamp(0));
    let a = b.handle(
        admitted(Admission {
            blocking: Some(("uid-1".into(), Timestamp(3_600_000))),
            ..fine()
        }),
        Timestamp(0),
    );
    assert!(matches!(&a[0], Action::RecordBlocked { blocking_uid, .. } if blocking_uid == "uid-1"));
    assert!(matches!(&a[1], Action::ReleaseLease { .. }));
    assert_eq!(b.blocked().len(), 1);
    // Nothing happens on its own before the block ends.
    assert!(b.handle(Event::Tick, Timestamp(1000)).is_empty());
    // The acknowledgement retries it.
    let a = b.handle(Event::Retry { cluster: None }, Timestamp(2000));
    assert!(matches!(&a[0], Action::AcquireLease { .. }));
    b.handle(granted(2), Timestamp(2000));
    let a = b.handle(admitted(fine()), Timestamp(2001));
    assert_eq!(runs(&a), 1);
    assert!(b.blocked().is_empty());
}

#[test]
fn a_blocked_trigger_is_retried_when_the_block_ends() {
    let mut b = book();
    b.handle(Event::Triggered(trigger("i2")), Timestamp(0));
    b.handle(granted(1), Timestamp(0));
    b.handle(
        admitted(Admission {
            blocking: Some(("uid-1".into(), Timestamp(5000))),
            ..fine()
        }),
        Timestamp(0),
    );
    assert_eq!(b.next_wakeup(), Some(Timestamp(5000)));
    assert!(b.handle(Event::Tick, Timestamp(4999)).is_empty());
    let a = b.handle(Event::Tick, Timestamp(5000));
    assert!(matches!(&a[0], Action::AcquireLease { .. }));
}

#[test]
fn operator_commands_ignore_blocks_filters_downtime_and_the_switch() {
    let mut b = book();
    let mut t = trigger("cmd-1");
    t.forced = true;
    t.skippable = true;
    t.command = "force-master-failover".into();
    let a = b.handle(Event::Triggered(t), Timestamp(0));
    // No detection registration for commands at intake: the run does it.
    assert_eq!(a.len(), 1);
    b.handle(granted(3), Timestamp(0));
    let a = b.handle(
        admitted(Admission {
            globally_disabled: true,
            filters_match: false,
            downtimed: true,
            blocking: Some(("uid-1".into(), Timestamp(9_999_999))),
            already_recovered: None,
            interrupted: Vec::new(),
            interrupted_successor: None,
            still_failing: true,
            unreadable: None,
        }),
        Timestamp(1),
    );
    assert_eq!(runs(&a), 1);
}

#[test]
fn automated_recovery_respects_the_switch_filters_and_downtime() {
    for (admission, reason) in [
        (
            Admission {
                globally_disabled: true,
                ..fine()
            },
            SkipReason::GloballyDisabled,
        ),
        (
            Admission {
                filters_match: false,
                ..fine()
            },
            SkipReason::FilteredOut,
        ),
        (
            Admission {
                downtimed: true,
                ..fine()
            },
            SkipReason::Downtimed,
        ),
        (
            Admission {
                still_failing: false,
                ..fine()
            },
            SkipReason::NoLongerFailing,
        ),
        (
            Admission {
                already_recovered: Some("uid-9".into()),
                ..fine()
            },
            SkipReason::AlreadyRecovered("uid-9".into()),
        ),
    ] {
        let mut b = book();
        b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
        b.handle(granted(1), Timestamp(0));
        let a = b.handle(admitted(admission), Timestamp(1));
        assert!(
            matches!(&a[0], Action::Skipped { reason: r, .. } if *r == reason),
            "{reason:?}: {a:?}"
        );
        assert!(matches!(&a[1], Action::ReleaseLease { .. }));
        assert_eq!(runs(&a), 0);
    }
}

#[test]
fn an_interrupted_recovery_is_closed_and_taken_over_not_waited_for() {
    let mut b = book();
    b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
    b.handle(granted(4), Timestamp(0));
    // The dead service's recovery is still active and, unacknowledged,
    // would block the cluster for RecoveryPeriodBlockSeconds.
    let a = b.handle(
        admitted(Admission {
            interrupted: vec!["uid-dead".into()],
            interrupted_successor: Some(InstanceKey::new("db2", 3306).unwrap()),
            blocking: Some(("uid-dead".into(), Timestamp(9_999_999))),
            ..fine()
        }),
        Timestamp(1),
    );
    // The same successor as the interrupted plan's: never a second one.
    assert!(
        a.iter().any(|x| matches!(x, Action::Run { trigger, .. } if trigger.designated == Some(InstanceKey::new("db2", 3306).unwrap()))),
        "{a:?}"
    );
    assert!(
        matches!(&a[0], Action::CloseInterrupted { uids, by, .. } if uids == &vec!["uid-dead".to_string()] && by == "i1"),
        "{a:?}"
    );
    assert_eq!(runs(&a), 1, "the failure is recovered afresh: {a:?}");

    // Gone meanwhile (the dead service finished the moves): closed, no run.
    let mut b = book();
    b.handle(Event::Triggered(trigger("i2")), Timestamp(0));
    b.handle(granted(5), Timestamp(0));
    let a = b.handle(
        admitted(Admission {
            interrupted: vec!["uid-dead".into()],
            still_failing: false,
            ..fine()
        }),
        Timestamp(1),
    );
    assert!(matches!(&a[0], Action::CloseInterrupted { .. }), "{a:?}");
    assert!(
        matches!(
            &a[1],
            Action::Skipped {
                reason: SkipReason::NoLongerFailing,
                ..
            }
        ),
        "{a:?}"
    );
    assert_eq!(runs(&a), 0);

    // Another recovery's block still holds.
    let mut b = book();
    b.handle(Event::Triggered(trigger("i3")), Timestamp(0));
    b.handle(granted(6), Timestamp(0));
    let a = b.handle(
        admitted(Admission {
            interrupted: vec!["uid-dead".into()],
            blocking: Some(("uid-other".into(), Timestamp(9_999_999))),
            ..fine()
        }),
        Timestamp(1),
    );
    assert!(a.iter().any(|x| matches!(x, Action::RecordBlocked { blocking_uid, .. } if blocking_uid == "uid-other")), "{a:?}");
    assert_eq!(runs(&a), 0);
}

#[test]
fn re_enabling_recoveries_retries_what_the_switch_refused() {
    let mut b = book();
    b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
    b.handle(granted(1), Timestamp(0));
    b.handle(
        admitted(Admission {
            globally_disabled: true,
            ..fine()
        }),
        Timestamp(1),
    );
    let a = b.handle(
        Event::Retry {
            cluster: Some(CLUSTER.into()),
        },
        Timestamp(2),
    );
    assert!(matches!(&a[0], Action::AcquireLease { .. }));
}

#[test]
fn a_busy_lease_is_retried_then_given_up() {
    let mut b = book();
    b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
    let a = b.handle(
        Event::LeaseBusy {
            cluster: CLUSTER.into(),
        },
        Timestamp(0),
    );
    assert!(a.is_empty());
    assert_eq!(b.next_wakeup(), Some(Timestamp(100)));
    assert!(b.handle(Event::Tick, Timestamp(50)).is_empty());
    let a = b.handle(Event::Tick, Timestamp(100));
    assert!(matches!(&a[0], Action::AcquireLease { .. }));
    let a = b.handle(
        Event::LeaseBusy {
            cluster: CLUSTER.into(),
        },
        Timestamp(2500),
    );
    assert!(matches!(
        &a[0],
        Action::Skipped {
            reason: SkipReason::LeaseUnavailable,
            ..
        }
    ));
    assert!(!b.is_busy(CLUSTER));
}

#[test]
fn triggers_queue_behind_the_running_one_and_duplicates_are_dropped() {
    let mut b = book();
    b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
    let a = b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
    assert!(matches!(
        a.last(),
        Some(Action::Skipped {
            reason: SkipReason::Duplicate,
            ..
        })
    ));
    let a = b.handle(Event::Triggered(trigger("i2")), Timestamp(0));
    // Queued: no second lease attempt while the first is in hand.
    assert!(!a.iter().any(|x| matches!(x, Action::AcquireLease { .. })));
    b.handle(granted(1), Timestamp(0));
    b.handle(admitted(fine()), Timestamp(0));
    let a = b.handle(
        Event::Finished {
            cluster: CLUSTER.into(),
        },
        Timestamp(1),
    );
    assert!(matches!(&a[0], Action::ReleaseLease { .. }));
    assert!(matches!(&a[1], Action::AcquireLease { .. }));
    let a = b.handle(granted(2), Timestamp(1));
    assert!(matches!(&a[0], Action::Admit { trigger, .. } if trigger.incident == "i2"));
}

#[test]
fn an_unexpected_grant_is_given_back() {
    let mut b = book();
    let a = b.handle(granted(1), Timestamp(0));
    assert_eq!(
        a,
        vec![Action::ReleaseLease {
            cluster: CLUSTER.into()
        }]
    );
}

#[test]
fn unreadable_admission_facts_refuse_and_an_automated_recovery_is_retried_later() {
    let mut b = book();
    b.handle(Event::Triggered(trigger("i1")), Timestamp(0));
    b.handle(granted(3), Timestamp(1));
    let a = b.handle(
        admitted(Admission {
            unreadable: Some("store: connection refused".into()),
            ..fine()
        }),
        Timestamp(2),
    );
    assert_eq!(
        runs(&a),
        0,
        "nothing is assumed when the facts cannot be read"
    );
    assert!(
        a.iter().any(|x| matches!(
            x,
            Action::Skipped { reason: SkipReason::FactsUnreadable(why), .. } if why.contains("connection refused")
        )),
        "{a:?}"
    );
    assert!(a.contains(&Action::ReleaseLease {
        cluster: CLUSTER.into()
    }));
    // Two seconds later the trigger is tried again; once the facts read, it runs.
    let a = b.handle(Event::Tick, Timestamp(2 + 2_000));
    assert!(
        a.contains(&Action::AcquireLease {
            cluster: CLUSTER.into()
        }),
        "{a:?}"
    );
    b.handle(granted(4), Timestamp(2_010));
    let a = b.handle(admitted(fine()), Timestamp(2_020));
    assert_eq!(runs(&a), 1);
}

#[test]
fn an_operator_is_told_when_admission_facts_cannot_be_read() {
    let mut b = book();
    let mut t = trigger("op");
    t.forced = true;
    b.handle(Event::Triggered(t), Timestamp(0));
    b.handle(granted(1), Timestamp(1));
    let a = b.handle(
        admitted(Admission {
            unreadable: Some("store down".into()),
            ..fine()
        }),
        Timestamp(2),
    );
    assert_eq!(runs(&a), 0);
    assert!(a.iter().any(|x| matches!(
        x,
        Action::Skipped {
            reason: SkipReason::FactsUnreadable(_),
            ..
        }
    )));
    let a = b.handle(Event::Tick, Timestamp(10_000));
    assert!(
        !a.iter().any(|x| matches!(x, Action::AcquireLease { .. })),
        "no silent retry of a command: {a:?}"
    );
}
