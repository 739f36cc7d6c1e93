//! Data-driven scenarios: one file per situation in `testdata/scenarios/`.
//! Each file describes a cluster compactly, an intent and the policy, and
//! what the planner must answer: a refusal of a given kind, or a plan whose
//! simulated result has the expected shape (see
//! `testdata/scenarios/README.md`). Every plan also passes the invariant
//! checks of `support::check_invariants`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use orc_model::InstanceKey;
use orc_planner::{Intent, Method, PlanError, Policy, plan};
use serde::Deserialize;

use support::{ServerSpec, check_invariants, topology};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    servers: Vec<ServerSpec>,
    intent: serde_json::Value,
    #[serde(default)]
    policy: PolicySpec,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PolicySpec {
    pseudo_gtid: bool,
    credentials_known: bool,
    apply_promotion: bool,
    detach_lost_replicas: bool,
    co_master_must_promote_other: bool,
    maintenance_lag_seconds: i64,
}

impl Default for PolicySpec {
    fn default() -> Self {
        let p = Policy::default();
        Self {
            pseudo_gtid: p.pseudo_gtid,
            credentials_known: p.credentials_known,
            apply_promotion: p.apply_promotion,
            detach_lost_replicas: p.detach_lost_replicas,
            co_master_must_promote_other: p.co_master_must_promote_other,
            maintenance_lag_seconds: p.maintenance_lag_seconds,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ShapeSpec {
    source: Option<String>,
    replicating: Option<bool>,
    read_only: Option<bool>,
    detached: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Expect {
    refused: Option<String>,
    reason_contains: Option<String>,
    method: Option<Method>,
    shape: BTreeMap<String, ShapeSpec>,
    steps_include: Vec<String>,
    steps_exclude: Vec<String>,
    notes_include: Vec<String>,
    lost: Option<Vec<String>>,
    successor: Option<String>,
    followup: Option<String>,
}

fn key(s: &str) -> InstanceKey {
    InstanceKey::parse(s).unwrap()
}

/// Intents name servers as `host:port` strings in scenario files.
fn keys_as_objects(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains(':') && InstanceKey::parse(&s).is_ok() => {
            serde_json::to_value(key(&s)).unwrap()
        }
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if k == "pattern" {
                        (k, v)
                    } else {
                        (k, keys_as_objects(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(keys_as_objects).collect()),
        other => other,
    }
}

fn check(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let s: Scenario = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse: {e}"));
    assert!(!s.description.is_empty(), "a scenario says what it shows");
    let t = topology(&s.servers);
    let policy = Policy {
        pseudo_gtid: s.policy.pseudo_gtid,
        credentials_known: s.policy.credentials_known,
        apply_promotion: s.policy.apply_promotion,
        detach_lost_replicas: s.policy.detach_lost_replicas,
        co_master_must_promote_other: s.policy.co_master_must_promote_other,
        maintenance_lag_seconds: s.policy.maintenance_lag_seconds,
        ..Policy::default()
    };
    let e = s.expect;
    let intent: Intent =
        serde_json::from_value(keys_as_objects(s.intent)).unwrap_or_else(|e| panic!("intent: {e}"));
    let result = plan(&t, intent, &policy);
    if let Some(kind) = &e.refused {
        let err = match result {
            Err(err) => err,
            Ok(p) => panic!(
                "expected a {kind} refusal, got a plan:\n{:#?}",
                p.describe()
            ),
        };
        let actual = match &err {
            PlanError::Refused { kind, .. } => format!("{kind:?}"),
            PlanError::Unknown(_) => "Unknown".into(),
            PlanError::NoCandidate(_) => "NoCandidate".into(),
        };
        assert_eq!(&actual, kind, "refusal kind ({err})");
        if let Some(text) = &e.reason_contains {
            assert!(
                err.to_string().contains(text),
                "reason {:?} lacks {text:?}",
                err.to_string()
            );
        }
        return;
    }
    let p = result.unwrap_or_else(|err| panic!("refused: {err}"));
    let after = check_invariants(&t, &p);
    if let Some(m) = e.method {
        assert_eq!(p.method, m, "method");
    }
    let shape = after.shape();
    for (k, want) in &e.shape {
        let got = shape
            .0
            .get(&key(k))
            .unwrap_or_else(|| panic!("{k} missing from the result"));
        if let Some(src) = &want.source {
            let want_src = (src != "none").then(|| key(src));
            assert_eq!(got.source, want_src, "{k} source");
        }
        if let Some(r) = want.replicating {
            assert_eq!(got.replicating, r, "{k} replicating");
        }
        if let Some(r) = want.read_only {
            assert_eq!(got.read_only, r, "{k} read_only");
        }
        if let Some(d) = want.detached {
            assert_eq!(got.detached, d, "{k} detached");
        }
    }
    let described = p.describe().join("\n");
    for text in &e.steps_include {
        assert!(
            described.contains(text),
            "plan lacks {text:?}:\n{described}"
        );
    }
    for text in &e.steps_exclude {
        assert!(!described.contains(text), "plan has {text:?}:\n{described}");
    }
    let notes = p.notes.join("\n");
    for text in &e.notes_include {
        assert!(notes.contains(text), "notes lack {text:?}:\n{notes}");
    }
    if let Some(lost) = &e.lost {
        let mut got: Vec<String> = p.lost.iter().map(|(k, _)| k.to_string()).collect();
        got.sort();
        let mut want = lost.clone();
        want.sort();
        assert_eq!(got, want, "lost replicas ({:?})", p.lost);
    }
    if let Some(succ) = &e.successor {
        assert_eq!(
            p.successor.as_ref().map(ToString::to_string).as_deref(),
            Some(succ.as_str()),
            "successor"
        );
    }
    if let Some(f) = &e.followup {
        let got = p
            .followup
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "none".into());
        assert_eq!(&got, f, "follow-up");
    }
}

#[test]
fn every_scenario_file_plans_as_described() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/scenarios");
    match orc_testkit::scenarios::run_all(&dir, check) {
        Ok(n) => assert!(n >= 1),
        Err(e) => panic!("{e}"),
    }
}
