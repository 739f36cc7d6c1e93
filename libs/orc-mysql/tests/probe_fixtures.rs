//! The probe's parsing against result sets in the shapes MariaDB 10.11
//! (captured from a sandbox) and MySQL 5.7 / 8.0 / 8.4 / Percona return.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orc_model::InstanceKey;
use orc_mysql::probe::{DetectedValues, Dialect, HostPatterns, ProbeSettings, instance_data};
use orc_mysql::{Columns, Row};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/testdata/probe/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sets(fixture: &Value) -> Vec<Vec<Row>> {
    fixture["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| {
            let columns = Columns::new(
                set["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string()),
            );
            set["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let values = r
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect();
                    Row::new(columns.clone(), values)
                })
                .collect()
        })
        .collect()
}

fn settings() -> ProbeSettings {
    ProbeSettings {
        patterns: HostPatterns {
            data_center: Some(regex::Regex::new(r"\.(dc\d+)\.").unwrap()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn check(name: &str) {
    let fixture = load(name);
    let key = InstanceKey::parse(fixture["key"].as_str().unwrap()).unwrap();
    let data = instance_data(
        &key,
        &sets(&fixture),
        &DetectedValues::default(),
        &settings(),
    )
    .unwrap();
    let expect = fixture["expect"].as_object().unwrap();
    let repl = data.replication.clone();
    for (field, want) in expect {
        let got: Value = match field.as_str() {
            "flavor" => format!("{:?}", data.flavor).into(),
            "server_id" => data.server_id.into(),
            "server_uuid" => data.server_uuid.clone().into(),
            "read_only" => data.read_only.into(),
            "super_read_only" => data.super_read_only.into(),
            "log_bin" => data.log_bin.into(),
            "log_replica_updates" => data.log_replica_updates.into(),
            "binlog_format" => data.binlog_format.clone().into(),
            "gtid_executed" => data.gtid_executed.clone().into(),
            "gtid_purged" => data.gtid_purged.clone().into(),
            "gtid_slave_pos" => data.gtid_slave_pos.clone().into(),
            "self_coordinates" => data.self_coordinates.as_ref().map(|c| c.to_string()).into(),
            "master_key" => data.master_key().map(|k| k.to_string()).into(),
            "io_thread" => format!("{:?}", repl.as_ref().unwrap().io_thread).into(),
            "sql_thread" => format!("{:?}", repl.as_ref().unwrap().sql_thread).into(),
            "read_coordinates" => repl.as_ref().unwrap().read_coordinates.to_string().into(),
            "exec_coordinates" => repl.as_ref().unwrap().exec_coordinates.to_string().into(),
            "seconds_behind_master" => repl.as_ref().unwrap().seconds_behind_master.into(),
            "auto_position" => repl.as_ref().unwrap().auto_position.into(),
            "master_uuid" => repl.as_ref().unwrap().master_uuid.clone().into(),
            "using_gtid" => repl.as_ref().unwrap().using_gtid.clone().into(),
            "failing_to_connect" => repl.as_ref().unwrap().is_failing_to_connect().into(),
            "replicas" => data
                .replicas
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .into(),
            "uptime_seconds" => data.uptime_seconds.into(),
            "semi_sync_available" => data.semi_sync.available.into(),
            "semi_sync_replica_enabled" => data.semi_sync.replica_enabled.into(),
            "semi_sync_replica_status" => data.semi_sync.replica_status.into(),
            "data_center" => data.data_center.clone().into(),
            "extra_channels" => data.extra_channels.len().into(),
            "extra_channel_name" => data.extra_channels[0].channel.clone().into(),
            "extra_channel_master" => data.extra_channels[0]
                .master_key()
                .map(|k| k.to_string())
                .into(),
            other => panic!("{name}: unknown expectation {other}"),
        };
        assert_eq!(&got, want, "{name}: {field}");
    }
    let version = fixture["version"].as_str().unwrap();
    assert_eq!(data.version, version, "{name}: version");
    assert_eq!(
        Dialect::detect(version, &data.version_comment).flavor,
        data.flavor
    );
}

#[test]
fn mysql_5_7_replica_status_parses() {
    check("mysql-5.7-replica");
}

#[test]
fn mysql_8_0_replica_status_with_source_spelling_parses() {
    check("mysql-8.0-replica");
}

#[test]
fn mysql_8_4_binary_log_status_and_source_semi_sync_parse() {
    check("mysql-8.4-replica");
}

#[test]
fn multi_source_channels_are_recorded_beside_the_default_channel() {
    check("percona-8.0-multisource");
}

#[test]
fn replicas_without_report_host_are_found_in_the_processlist() {
    check("mysql-5.7-master-processlist");
}

#[test]
fn mariadb_replica_of_a_dead_master_is_failing_to_connect() {
    check("mariadb-10.11-replica-master-dead");
}

#[test]
fn a_lag_query_overrides_seconds_behind_master_and_a_bad_one_falls_back() {
    let fixture = load("mysql-8.0-replica");
    let key = InstanceKey::parse(fixture["key"].as_str().unwrap()).unwrap();
    let detected = DetectedValues {
        replication_lag: Some("7.4".into()),
        data_center: Some("east".into()),
        promotion_rule: Some("prefer".into()),
        ..Default::default()
    };
    let data = instance_data(&key, &sets(&fixture), &detected, &settings()).unwrap();
    assert_eq!(data.replication_lag_seconds, Some(7));
    assert_eq!(data.data_center, "east", "a query beats the pattern");
    assert_eq!(
        data.promotion_rule_hint,
        Some(orc_model::PromotionRule::Prefer)
    );
    let bad = DetectedValues {
        replication_lag: Some("not a number".into()),
        ..Default::default()
    };
    let data = instance_data(&key, &sets(&fixture), &bad, &settings()).unwrap();
    assert_eq!(data.replication_lag_seconds, Some(3));
}

#[test]
fn a_probe_missing_later_result_sets_still_yields_identity_data() {
    let fixture = load("mysql-8.0-replica");
    let key = InstanceKey::parse(fixture["key"].as_str().unwrap()).unwrap();
    let only_identity = sets(&fixture).into_iter().take(1).collect::<Vec<_>>();
    let data = instance_data(
        &key,
        &only_identity,
        &DetectedValues::default(),
        &settings(),
    )
    .unwrap();
    assert_eq!(data.server_id, 2);
    assert!(data.replication.is_none());
    assert!(instance_data(&key, &[], &DetectedValues::default(), &settings()).is_none());
}
