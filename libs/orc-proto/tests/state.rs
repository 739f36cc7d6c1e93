//! Folded instance states cross the wire and come back equal; malformed
//! ones are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use orc_model::{
    InstanceData, InstanceState, ProbeError, ProbeErrorKind, ReplicationStatus, Timestamp,
    VantageObservation,
};
use orc_proto::Error;
use orc_proto::v1 as w;
use proptest::collection::btree_map;
use proptest::option;
use proptest::prelude::*;
use support::{error_kind, k, key, text, through_bytes, ts};

fn round_trip(s: &InstanceState) -> Result<InstanceState, Error> {
    InstanceState::try_from(&through_bytes(&w::InstanceState::from(s)))
}

fn observation() -> impl Strategy<Value = VantageObservation> {
    (
        ts(),
        any::<bool>(),
        option::of(error_kind()),
        option::of(ts()),
    )
        .prop_map(
            |(observed_at, reached, error_kind, failing_since)| VantageObservation {
                observed_at,
                reached,
                error_kind,
                failing_since,
            },
        )
}

fn data() -> impl Strategy<Value = InstanceData> {
    (
        any::<u32>(),
        text(),
        any::<bool>(),
        proptest::collection::vec(key(), 0..3),
    )
        .prop_map(|(server_id, version, read_only, replicas)| InstanceData {
            server_id,
            version,
            read_only,
            replicas,
            replication: Some(ReplicationStatus {
                master_host: "db1".into(),
                master_port: 3306,
                seconds_behind_master: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        })
}

fn probe_error() -> impl Strategy<Value = ProbeError> {
    (error_kind(), text()).prop_map(|(kind, message)| ProbeError { kind, message })
}

fn state() -> impl Strategy<Value = InstanceState> {
    let times = (
        ts(),
        option::of(ts()),
        option::of(ts()),
        option::of(ts()),
        option::of(ts()),
        option::of(ts()),
    );
    (
        key(),
        option::of(key()),
        option::of(data()),
        times,
        any::<bool>(),
        option::of(probe_error()),
        support::duration(),
        btree_map(text(), observation(), 0..4),
    )
        .prop_map(
            |(key, address, data, t, last_partial_success, last_error, latency, vantages)| {
                InstanceState {
                    key,
                    address,
                    data,
                    first_known: t.0,
                    last_checked: t.1,
                    last_seen: t.2,
                    last_attempted: t.3,
                    last_partial_success,
                    last_error,
                    failing_since: t.4,
                    last_probe_latency: latency,
                    vantages,
                    self_coordinates_since: t.5,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_state_survives_the_wire(s in state()) {
        prop_assert_eq!(round_trip(&s), Ok(s));
    }
}

fn sample() -> InstanceState {
    let mut s = InstanceState::new(k("db2:3306"), Timestamp(10));
    s.last_checked = Some(Timestamp(20));
    s.last_error = Some(ProbeError {
        kind: ProbeErrorKind::Timeout,
        message: "timed out".into(),
    });
    s.last_probe_latency = Duration::from_millis(4);
    s.vantages = BTreeMap::from([(
        "prober-a".to_string(),
        VantageObservation {
            observed_at: Timestamp(20),
            reached: false,
            error_kind: Some(ProbeErrorKind::Timeout),
            failing_since: Some(Timestamp(20)),
        },
    )]);
    s
}

#[test]
fn a_state_never_probed_survives() {
    let s = InstanceState::new(k("db2:3306"), Timestamp(10));
    assert_eq!(round_trip(&s), Ok(s));
}

#[test]
fn a_missing_latency_is_zero() {
    let mut wire = w::InstanceState::from(&sample());
    wire.last_probe_latency = None;
    let back = InstanceState::try_from(&wire).unwrap();
    assert_eq!(back.last_probe_latency, Duration::ZERO);
}

#[test]
fn malformed_states_are_refused() {
    let good = w::InstanceState::from(&sample());

    let mut wire = good.clone();
    wire.key = None;
    assert_eq!(
        InstanceState::try_from(&wire),
        Err(Error::MissingField {
            message: "InstanceState",
            field: "key"
        })
    );

    let mut wire = good.clone();
    let twin = wire.vantages[0].clone();
    wire.vantages.push(twin);
    assert!(matches!(
        InstanceState::try_from(&wire),
        Err(Error::Malformed {
            field: "vantages",
            ..
        })
    ));

    let mut wire = good.clone();
    wire.vantages[0].error_kind = Some(1234);
    assert!(matches!(
        InstanceState::try_from(&wire),
        Err(Error::UnknownValue {
            message: "VantageObservation",
            value: 1234,
            ..
        })
    ));

    for (seconds, nanos) in [(-1, 0), (0, -1), (0, 1_000_000_000)] {
        let mut wire = good.clone();
        wire.last_probe_latency = Some(prost_types::Duration { seconds, nanos });
        assert!(matches!(
            InstanceState::try_from(&wire),
            Err(Error::Malformed {
                field: "last_probe_latency",
                ..
            })
        ));
    }

    let mut wire = good;
    wire.address = Some(w::InstanceKey {
        hostname: "db".into(),
        port: 0,
    });
    assert!(matches!(
        InstanceState::try_from(&wire),
        Err(Error::InvalidField { .. })
    ));
}
