//! How orchestrator's keys are taken: typed at start-up, or reported as not
//! acted upon when set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orc_runtime::Config;

#[test]
fn reasonable_instance_check_seconds_is_reported_as_not_acted_upon() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        r#"{"ReasonableInstanceCheckSeconds": 1, "InstancePollSeconds": 5}"#,
    )
    .unwrap();
    let (_, report) = Config::load(Some(file.path()), &[]).unwrap();
    assert_eq!(
        report.not_implemented_keys,
        vec!["ReasonableInstanceCheckSeconds".to_string()]
    );
    assert!(
        report
            .warnings()
            .iter()
            .any(|w| w.contains("ReasonableInstanceCheckSeconds")),
        "{:?}",
        report.warnings()
    );
    assert!(
        !orc_runtime::config::implemented_keys()
            .iter()
            .any(|k| k == "ReasonableInstanceCheckSeconds")
    );
}

#[test]
fn discovery_filters_are_typed_from_the_configuration() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        r#"{"DiscoveryIgnoreHostnameFilters": ["10.0.0.3", "^backup-"],
            "DiscoveryIgnoreReplicaHostnameFilters": [":3307$"],
            "DiscoveryIgnoreMasterHostnameFilters": ["^upstream"]}"#,
    )
    .unwrap();
    let (config, report) = Config::load(Some(file.path()), &[]).unwrap();
    assert!(report.warnings().is_empty(), "{:?}", report.warnings());
    let f = orc_runtime::filters::DiscoveryFilters::from_config(&config);
    let key = |s: &str| orc_model::InstanceKey::parse(s).unwrap();
    assert!(f.ignores(&key("10.0.0.3:3306")));
    assert!(!f.ignores(&key("10.0.0.38:3306")));
    assert!(f.ignores(&key("backup-2:3306")));
    assert!(f.ignores_replica(&key("db-1:3307")) && !f.ignores(&key("db-1:3307")));
    assert!(f.ignores_master(&key("upstream-1:3306")));
    // A bad expression stops start-up, naming it.
    std::fs::write(
        file.path(),
        r#"{"DiscoveryIgnoreMasterHostnameFilters": ["("]}"#,
    )
    .unwrap();
    let err = Config::load(Some(file.path()), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad regular expression \"(\""), "{err}");
}
