//! Random malformed requests against a running gateway over a real
//! topology: routes of the catalogue with broken keys, bad query strings,
//! garbage paths and huge inputs. Whatever comes in, the gateway keeps
//! answering, never answers 5xx except orchestrator's HTTP 500 with its
//! `{"Code":"ERROR"}` envelope, and nothing changes — neither on the
//! servers nor in what orchestrator keeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway::routes::ROUTES;
use integration_tests::{Orc, observed_shape, orc_on};
use orc_testkit::SandboxBuilder;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

/// Values that are never a valid instance port.
const BAD_PORTS: &[&str] = &[
    "notaport",
    "-1",
    "0",
    "65536",
    "99999999999999999999",
    "3306x",
    "%00",
    "",
    "1e3",
];

/// Values that are never a known host.
const BAD_HOSTS: &[&str] = &[
    "no-such-host.invalid",
    "%20",
    "a%2Fb",
    "..",
    "%C3%A4%E2%98%83",
    "'%3B%20DROP%20TABLE%20audit%3B--",
    "%0Ainjected",
    "256.256.256.256",
];

const GARBAGE: &[&str] = &[
    "",
    "%",
    "%zz",
    "..",
    "%2E%2E",
    "x%00y",
    "%E2%80%AE",
    "*",
    "alias=",
    "~",
];

const QUERIES: &[&str] = &[
    "",
    "?",
    "?dry_run=maybe",
    "?force=%ff",
    "?tag=",
    "?tag=%3D%3D",
    "?instances=,,,",
    "?comment=",
    "?s=%",
    "?alias=%0A",
    "?page=-1",
    "?a=1&a=2&a=3",
];

/// One request: a route of the catalogue whose instance (or cluster) is
/// broken, or garbage.
fn request() -> impl Strategy<Value = String> {
    let served: Vec<&'static str> = ROUTES
        .iter()
        .filter(|r| r.absent.is_none())
        .map(|r| r.path)
        .collect();
    let routed = (
        proptest::sample::select(served),
        proptest::sample::select(BAD_HOSTS),
        proptest::sample::select(BAD_PORTS),
        proptest::sample::select(GARBAGE),
        proptest::sample::select(QUERIES),
    )
        .prop_filter_map(
            "needs a key or a hint to break",
            |(path, host, port, junk, q)| {
                let required = path.split('[').next().unwrap_or(path);
                let mut broke = false;
                let segments: Vec<String> = required
                    .split('/')
                    .map(|seg| match seg {
                        ":host" | ":belowHost" | ":siblingHost" | ":designatedHost"
                        | ":candidateHost" => {
                            broke = true;
                            host.to_string()
                        }
                        ":port" | ":belowPort" | ":siblingPort" | ":designatedPort"
                        | ":candidatePort" => {
                            broke = true;
                            port.to_string()
                        }
                        ":clusterHint" | ":clusterName" | ":clusterAlias" => {
                            broke = true;
                            format!("no-such-cluster{junk}")
                        }
                        ":recoveryId" | ":id" | ":maintenanceKey" => {
                            broke = true;
                            format!("999999{junk}")
                        }
                        ":uid" => {
                            broke = true;
                            format!("no-such-uid{junk}")
                        }
                        s if s.starts_with(':') => junk.to_string(),
                        s => s.to_string(),
                    })
                    .collect();
                broke.then(|| format!("{}{q}", segments.join("/")))
            },
        );
    let garbage = (
        proptest::collection::vec(proptest::sample::select(GARBAGE), 0..6),
        proptest::sample::select(QUERIES),
    )
        .prop_map(|(parts, q)| format!("{}{q}", parts.join("/")));
    let huge = (
        1usize..4,
        proptest::sample::select(&["instance", "tag", "search", "cluster"]),
    )
        .prop_map(|(n, route)| format!("{route}/{}", "x".repeat(n * 20_000)));
    prop_oneof![8 => routed, 2 => garbage, 1 => huge]
}

/// Everything orchestrator keeps that a request could change.
async fn kept(orc: &Orc) -> Vec<Value> {
    let mut out = Vec::new();
    for p in [
        "all-instances",
        "downtimed",
        "maintenance",
        "check-global-recoveries",
        "blocked-recoveries",
        "audit",
        "audit-recovery",
        "clusters-info",
        "bulk-promotion-rules",
        "tagged?tag=~nothing",
    ] {
        let (_, v) = orc.get(p).await.unwrap();
        // Probe timestamps move on their own.
        let v = match v {
            Value::Array(items) if p == "all-instances" => Value::Array(
                items
                    .into_iter()
                    .map(|i| {
                        serde_json::json!({
                            "Key": i["Key"], "MasterKey": i["MasterKey"],
                            "ReadOnly": i["ReadOnly"], "IsDowntimed": i["IsDowntimed"],
                            "PromotionRule": i["PromotionRule"],
                        })
                    })
                    .collect(),
            ),
            other => other,
        };
        out.push(v);
    }
    out
}

#[test]
fn malformed_requests_change_nothing_and_never_break_the_gateway() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sb, orc) = rt.block_on(async {
        let sb = SandboxBuilder::master_with_replicas(2)
            .start()
            .await
            .unwrap();
        let orc = orc_on(&sb, &sb.key("m").unwrap(), serde_json::json!({}))
            .await
            .unwrap();
        (sb, orc)
    });
    let http = integration_tests::pki::http_client();
    let base = orc.api();
    let (shape_before, kept_before) =
        rt.block_on(async { (observed_shape(&sb).await, kept(&orc).await) });

    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&request(), |path| {
        let (status, body) = rt.block_on(async {
            let resp = http
                .get(format!("{base}/{path}"))
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("{path}: no answer: {e}")))?;
            let status = resp.status().as_u16();
            Ok::<_, TestCaseError>((status, resp.text().await.unwrap_or_default()))
        })?;
        if status >= 500 {
            prop_assert_eq!(status, 500, "{}: {}", &path, &body);
            let v: Value = serde_json::from_str(&body).map_err(|_| {
                TestCaseError::fail(format!("{path}: 500 without an envelope: {body}"))
            })?;
            prop_assert_eq!(&v["Code"], "ERROR", "{}", &path);
            prop_assert!(
                v["Message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}: an error says what is wrong: {}",
                &path,
                &body
            );
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    rt.block_on(async {
        // Still serving, and nothing changed.
        let (status, _) = orc.get("lb-check").await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(observed_shape(&sb).await, shape_before, "servers changed");
        assert_eq!(
            kept(&orc).await,
            kept_before,
            "orchestrator's records changed"
        );
        orc.stop().await.unwrap();
    });
}
