//! Analyses cross the wire and come back equal; malformed ones are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use orc_analysis::Analysis;
use orc_model::Timestamp;
use orc_proto::Error;
use orc_proto::analysis::{
    analysis_entry, analysis_text, finding, finding_analysis, recorded_analysis,
};
use orc_proto::v1 as w;
use proptest::prelude::*;
use support::{dead_master, through_bytes};

fn round_trip(a: &Analysis) -> Result<Analysis, Error> {
    Analysis::try_from(&through_bytes(&w::InstanceAnalysis::from(a)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_analysis_survives_the_wire(a in support::analysis()) {
        prop_assert_eq!(round_trip(&a), Ok(a));
    }

    #[test]
    fn any_analysis_survives_a_finding(a in support::analysis()) {
        let f = through_bytes(&finding(&a, "inc", "det", true, "analyzer-1", Timestamp(5)));
        prop_assert_eq!(finding_analysis(&f), Ok(a));
    }
}

#[test]
fn an_analysis_with_nothing_optional_and_empty_lists_survives() {
    let a = Analysis {
        master_key: None,
        structure: Vec::new(),
        replicas: Vec::new(),
        downtime_end: None,
        binlog_coordinates: None,
        evidence: Default::default(),
        replica_evidence: Vec::new(),
        ..dead_master()
    };
    assert_eq!(round_trip(&a), Ok(a));
}

#[test]
fn the_analysis_entry_carries_the_whole_analysis() {
    let a = dead_master();
    let entry = through_bytes(&analysis_entry(&a));
    assert_eq!(entry.code, "DeadMaster");
    let carried = entry.analysis.as_ref().unwrap();
    assert_eq!(Analysis::try_from(carried), Ok(a));
}

#[test]
fn unknown_codes_warnings_and_thread_states_are_refused() {
    let good = w::InstanceAnalysis::from(&dead_master());

    let mut wire = good.clone();
    wire.code = 999;
    assert_eq!(
        Analysis::try_from(&wire),
        Err(Error::UnknownValue {
            message: "InstanceAnalysis",
            field: "code",
            value: 999
        })
    );

    let mut wire = good.clone();
    wire.code = 0;
    assert_eq!(
        Analysis::try_from(&wire),
        Err(Error::MissingField {
            message: "InstanceAnalysis",
            field: "code"
        })
    );

    let mut wire = good.clone();
    wire.structure.push(42);
    assert!(matches!(
        Analysis::try_from(&wire),
        Err(Error::UnknownValue {
            field: "structure",
            value: 42,
            ..
        })
    ));

    let mut wire = good.clone();
    wire.replica_evidence[0].io_thread = 17;
    assert!(matches!(
        Analysis::try_from(&wire),
        Err(Error::UnknownValue {
            message: "ReplicaEvidence",
            field: "io_thread",
            ..
        })
    ));

    let mut wire = good.clone();
    wire.evidence.as_mut().unwrap().vantages[0].error_kind = Some(99);
    assert!(matches!(
        Analysis::try_from(&wire),
        Err(Error::UnknownValue {
            message: "VantageEvidence",
            ..
        })
    ));

    let mut wire = good;
    wire.binlog_coordinates.as_mut().unwrap().kind = 5;
    assert!(matches!(
        Analysis::try_from(&wire),
        Err(Error::UnknownValue {
            field: "binlog_coordinates",
            ..
        })
    ));
}

#[test]
fn missing_or_invalid_keys_are_refused() {
    let good = w::InstanceAnalysis::from(&dead_master());
    let mut wire = good.clone();
    wire.key = None;
    assert_eq!(
        Analysis::try_from(&wire),
        Err(Error::MissingField {
            message: "InstanceAnalysis",
            field: "key"
        })
    );
    let mut wire = good.clone();
    wire.cluster = None;
    assert!(matches!(
        Analysis::try_from(&wire),
        Err(Error::MissingField {
            field: "cluster",
            ..
        })
    ));
    let mut wire = good;
    wire.replicas[0].port = 70_000;
    assert!(matches!(
        Analysis::try_from(&wire),
        Err(Error::OutOfRange { field: "port", .. })
    ));
}

#[test]
fn a_finding_without_its_analysis_is_refused() {
    let mut f = finding(&dead_master(), "i", "d", false, "a", Timestamp(1));
    f.analysis = None;
    assert_eq!(
        finding_analysis(&f),
        Err(Error::MissingField {
            message: "Finding",
            field: "analysis"
        })
    );
}

#[test]
fn recorded_analysis_text_is_typed_and_written_back_the_same() {
    let a = dead_master();
    let text = serde_json::to_string(&a).unwrap();
    let wire = recorded_analysis(&text).unwrap();
    assert_eq!(analysis_text(&wire).unwrap(), text);
    assert_eq!(recorded_analysis(""), None);
    assert_eq!(recorded_analysis("not json"), None);
}
