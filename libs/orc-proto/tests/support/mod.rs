//! Strategies and samples shared by the round-trip tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::time::Duration;

use orc_analysis::{
    Analysis, AnalysisCode, InstanceEvidence, ReplicaCounts, ReplicaEvidence, StructureWarning,
    VantageEvidence,
};
use orc_model::{BinlogCoordinates, InstanceKey, LogKind, ProbeErrorKind, ThreadState, Timestamp};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use prost::Message;

/// Encodes and decodes a message, as the bus and gRPC do.
pub fn through_bytes<M: Message + Default>(m: &M) -> M {
    M::decode(m.encode_to_vec().as_slice()).unwrap()
}

pub fn k(s: &str) -> InstanceKey {
    InstanceKey::parse(s).unwrap()
}

pub fn key() -> impl Strategy<Value = InstanceKey> {
    ("[a-z][a-z0-9-]{0,10}(\\.[a-z0-9]{1,5}){0,2}", 1u16..)
        .prop_filter_map("valid key", |(h, p)| InstanceKey::new(&h, p).ok())
}

pub fn ts() -> impl Strategy<Value = Timestamp> {
    any::<i64>().prop_map(Timestamp)
}

pub fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

pub fn error_kind() -> impl Strategy<Value = ProbeErrorKind> {
    prop_oneof![
        Just(ProbeErrorKind::Refused),
        Just(ProbeErrorKind::Timeout),
        Just(ProbeErrorKind::ConnectionLost),
        Just(ProbeErrorKind::AccessDenied),
        Just(ProbeErrorKind::Unresolvable),
        Just(ProbeErrorKind::Query),
        Just(ProbeErrorKind::Other),
    ]
}

pub fn thread() -> impl Strategy<Value = ThreadState> {
    prop_oneof![
        Just(ThreadState::Running),
        Just(ThreadState::Stopped),
        Just(ThreadState::Connecting),
        Just(ThreadState::Other),
    ]
}

pub fn coordinates() -> impl Strategy<Value = BinlogCoordinates> {
    (text(), any::<u64>(), any::<bool>()).prop_map(|(log_file, log_pos, relay)| BinlogCoordinates {
        log_file,
        log_pos,
        kind: if relay {
            LogKind::Relay
        } else {
            LogKind::Binary
        },
    })
}

pub fn duration() -> impl Strategy<Value = Duration> {
    (0u64..=i64::MAX as u64, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n))
}

fn counts() -> impl Strategy<Value = ReplicaCounts> {
    (vec(any::<u32>(), 15)).prop_map(|c| ReplicaCounts {
        replicas: c[0],
        valid: c[1],
        valid_replicating: c[2],
        failing_to_connect: c[3],
        downtimed: c[4],
        lagging: c[5],
        delayed: c[6],
        logging: c[7],
        statement_logging: c[8],
        mixed_logging: c[9],
        row_logging: c[10],
        distinct_major_versions_logging: c[11],
        semi_sync_enabled: c[12],
        oracle_gtid: c[13],
        mariadb_gtid: c[14],
    })
}

fn vantage_evidence() -> impl Strategy<Value = VantageEvidence> {
    (text(), ts(), any::<bool>(), option::of(error_kind())).prop_map(
        |(vantage, observed_at, reached, error_kind)| VantageEvidence {
            vantage,
            observed_at,
            reached,
            error_kind,
        },
    )
}

fn evidence() -> impl Strategy<Value = InstanceEvidence> {
    (
        option::of(ts()),
        option::of(ts()),
        option::of(ts()),
        option::of(error_kind()),
        text(),
        vec(vantage_evidence(), 0..3),
    )
        .prop_map(
            |(last_checked, last_seen, failing_since, error_kind, error, vantages)| {
                InstanceEvidence {
                    last_checked,
                    last_seen,
                    failing_since,
                    error_kind,
                    error,
                    vantages,
                }
            },
        )
}

fn replica_evidence() -> impl Strategy<Value = ReplicaEvidence> {
    (
        key(),
        any::<bool>(),
        option::of(ts()),
        thread(),
        thread(),
        text(),
        any::<bool>(),
    )
        .prop_map(
            |(key, valid, last_seen, io_thread, sql_thread, last_io_error, downtimed)| {
                ReplicaEvidence {
                    key,
                    valid,
                    last_seen,
                    io_thread,
                    sql_thread,
                    last_io_error,
                    downtimed,
                }
            },
        )
}

/// Any analysis: every code, warning and optional field, empty lists included.
pub fn analysis() -> impl Strategy<Value = Analysis> {
    let who = (
        key(),
        option::of(key()),
        key(),
        proptest::sample::select(AnalysisCode::ALL),
        text(),
        vec(proptest::sample::select(StructureWarning::ALL), 0..4),
        vec(key(), 0..4),
        any::<u32>(),
        option::of(ts()),
        option::of(coordinates()),
    );
    let flags = vec(any::<bool>(), 16);
    let words = vec(text(), 8);
    let numbers = (any::<u32>(), any::<u32>());
    let seen = (counts(), evidence(), vec(replica_evidence(), 0..3));
    (who, flags, words, numbers, seen).prop_map(|(who, f, s, n, seen)| {
        let (key, master_key, cluster, code, description, structure, replicas, depth, end, coords) =
            who;
        Analysis {
            key,
            master_key,
            cluster,
            code,
            description,
            structure,
            is_master: f[0],
            is_co_master: f[1],
            last_check_valid: f[2],
            last_check_partial_success: f[3],
            counts: seen.0,
            replication_depth: depth,
            replicas,
            is_failing_to_connect_to_master: f[4],
            is_downtimed: f[5],
            is_replicas_downtimed: f[6],
            downtime_end: end,
            skippable_due_to_downtime: f[7],
            is_actionable: f[8],
            binlog_coordinates: coords,
            data_center: s[0].clone(),
            region: s[1].clone(),
            physical_environment: s[2].clone(),
            is_read_only: f[9],
            gtid_mode: s[3].clone(),
            min_replica_gtid_mode: s[4].clone(),
            max_replica_gtid_mode: s[5].clone(),
            max_replica_gtid_errant: s[6].clone(),
            oracle_gtid_immediate_topology: f[10],
            mariadb_gtid_immediate_topology: f[11],
            semi_sync_master_enabled: f[12],
            semi_sync_master_status: f[13],
            semi_sync_master_wait_for_replica_count: n.0,
            semi_sync_master_clients: n.1,
            evidence: seen.1,
            replica_evidence: seen.2,
        }
    })
}

/// A dead master's analysis, as the analyzer writes one.
pub fn dead_master() -> Analysis {
    Analysis {
        key: k("db1:3306"),
        master_key: None,
        cluster: k("db1:3306"),
        code: AnalysisCode::DeadMaster,
        description: AnalysisCode::DeadMaster.description().into(),
        structure: vec![StructureWarning::ErrantGTIDStructureWarning],
        is_master: true,
        is_co_master: false,
        last_check_valid: false,
        last_check_partial_success: false,
        counts: ReplicaCounts {
            replicas: 2,
            valid: 2,
            ..ReplicaCounts::default()
        },
        replication_depth: 0,
        replicas: vec![k("db2:3306"), k("db3:3306")],
        is_failing_to_connect_to_master: false,
        is_downtimed: false,
        is_replicas_downtimed: false,
        downtime_end: None,
        skippable_due_to_downtime: false,
        is_actionable: true,
        binlog_coordinates: Some(BinlogCoordinates::binary("mysql-bin.000003", 1234)),
        data_center: "dc1".into(),
        region: String::new(),
        physical_environment: String::new(),
        is_read_only: false,
        gtid_mode: "ON".into(),
        min_replica_gtid_mode: "ON".into(),
        max_replica_gtid_mode: "ON".into(),
        max_replica_gtid_errant: String::new(),
        oracle_gtid_immediate_topology: false,
        mariadb_gtid_immediate_topology: true,
        semi_sync_master_enabled: false,
        semi_sync_master_status: false,
        semi_sync_master_wait_for_replica_count: 0,
        semi_sync_master_clients: 0,
        evidence: InstanceEvidence {
            last_checked: Some(Timestamp(2_000)),
            last_seen: Some(Timestamp(1_000)),
            failing_since: Some(Timestamp(1_500)),
            error_kind: Some(ProbeErrorKind::Refused),
            error: "connection refused".into(),
            vantages: vec![VantageEvidence {
                vantage: "prober-a".into(),
                observed_at: Timestamp(2_000),
                reached: false,
                error_kind: Some(ProbeErrorKind::Refused),
            }],
        },
        replica_evidence: vec![ReplicaEvidence {
            key: k("db2:3306"),
            valid: true,
            last_seen: Some(Timestamp(1_990)),
            io_thread: ThreadState::Connecting,
            sql_thread: ThreadState::Running,
            last_io_error: "error reconnecting to master".into(),
            downtimed: false,
        }],
    }
}
