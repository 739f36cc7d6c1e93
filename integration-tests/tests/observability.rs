//! Observability seen from outside, on separate `orchestrator` processes
//! over a real nats-server, a real MariaDB backend and a real sandbox: each
//! role's `/metrics` moves around a failover, one recovery is one trace
//! (analyzer's verdict → recovery's phases) received by an OTLP receiver,
//! and `LogFormat: json` lines parse, those of the recovery carrying its id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use integration_tests::process::{OtlpReceiver, RoleProcess, free_port, sample, scrape};
use integration_tests::{eventually, settled_master, test_config};
use orc_testkit::{NatsServer, SandboxBuilder};
use serde_json::{Value, json};

struct Fleet {
    prober: RoleProcess,
    analyzer: RoleProcess,
    recovery: RoleProcess,
    gateway: RoleProcess,
    metrics: [String; 3],
}

impl Fleet {
    async fn stop(self) {
        self.prober.stop().await;
        self.analyzer.stop().await;
        self.recovery.stop().await;
        self.gateway.stop().await;
    }
}

/// Every role its own process, with metrics on their own ports (the
/// gateway's on its API port) and spans sent to `otlp`.
async fn fleet(base: &Value, otlp: &str) -> Fleet {
    let ports = [free_port(), free_port(), free_port()];
    let env = [("OTEL_BSP_SCHEDULE_DELAY", "200")];
    let with = |metrics: Option<u16>, extra: Value| {
        let mut c = base.clone();
        c["OtlpEndpoint"] = otlp.into();
        if let Some(p) = metrics {
            c["MetricsListenAddress"] = format!("127.0.0.1:{p}").into();
        }
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let prober = RoleProcess::start("prober", &with(Some(ports[0]), json!({})), &env)
        .await
        .unwrap();
    let analyzer = RoleProcess::start("analyzer", &with(Some(ports[1]), json!({})), &env)
        .await
        .unwrap();
    let hook = json!({
        "LogFormat": "json",
        "PostFailoverProcesses": ["echo 'failed over {failedHost}:{failedPort} to {successorHost}:{successorPort}'"],
    });
    let recovery = RoleProcess::start("recovery", &with(Some(ports[2]), hook), &env)
        .await
        .unwrap();
    let gateway = RoleProcess::start("gateway", &with(None, json!({})), &env)
        .await
        .unwrap();
    Fleet {
        prober,
        analyzer,
        recovery,
        gateway,
        metrics: ports.map(|p| format!("127.0.0.1:{p}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_failover_moves_every_roles_metrics_and_is_one_trace() {
    let nats = NatsServer::start().await.unwrap();
    let otlp = OtlpReceiver::start().await.unwrap();
    let backend = SandboxBuilder::new()
        .master("backend")
        .start()
        .await
        .unwrap();
    let sb = Arc::new(
        SandboxBuilder::master_with_replicas(2)
            .start()
            .await
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let base = test_config(&dir.path().join("unused.sqlite3"), 0.5);
    let base = integration_tests::merged(base, integration_tests::mysql_backend(&backend));
    let base = integration_tests::merged(
        base,
        json!({
            "RecoverMasterClusterFilters": ["*"],
            "NatsUrl": nats.url(),
        }),
    );
    let fleet = fleet(&base, &otlp.endpoint()).await;
    let gw = &fleet.gateway;
    let master = sb.key("m").unwrap();
    let (host, port) = master.split_once(':').unwrap();
    eventually(Duration::from_secs(20), || async {
        let (status, _) = gw.get(&format!("discover/{host}/{port}")).await.ok()?;
        if status != 200 {
            return None;
        }
        let (_, all) = gw.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        (all.len() == 3 && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .expect("topology discovered and healthy through the gateway process");

    let gateway_metrics = gw
        .api
        .as_ref()
        .unwrap()
        .trim_end_matches("/api")
        .to_string();
    let gateway_metrics = gateway_metrics.trim_start_matches("http://").to_string();
    let [prober_m, analyzer_m, recovery_m] = fleet.metrics.clone();
    let before = [
        scrape(&prober_m).await.unwrap(),
        scrape(&analyzer_m).await.unwrap(),
        scrape(&recovery_m).await.unwrap(),
        scrape(&gateway_metrics).await.unwrap(),
    ];

    sb.kill("m").unwrap();
    let new_master = eventually(Duration::from_secs(30), || {
        settled_master(&sb, &["r1", "r2"])
    })
    .await
    .expect("the replicas follow a new master");
    let recovery_id = eventually(Duration::from_secs(15), || async {
        let (_, list) = gw.get("audit-recovery").await.ok()?;
        let r = list.as_array()?.first()?.clone();
        (r["RecoveryEndTimestamp"] != "" && r["IsSuccessful"] == true)
            .then(|| r["UID"].as_str().unwrap_or_default().to_string())
    })
    .await
    .expect("a successful recovery in the audit");
    // The analyzer's view of the dead master's probes moves at its next
    // pass; give the histograms a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = [
        scrape(&prober_m).await.unwrap(),
        scrape(&analyzer_m).await.unwrap(),
        scrape(&recovery_m).await.unwrap(),
        scrape(&gateway_metrics).await.unwrap(),
    ];
    let moved = |i: usize, series: &str| {
        let (b, a) = (sample(&before[i], series), sample(&after[i], series));
        assert!(a > b, "{series} did not move ({b} → {a}) in:\n{}", after[i]);
    };
    // Prober: probes made, the dead master's failures counted.
    moved(0, "orchestrator_probes_total");
    moved(0, "orchestrator_probe_duration_seconds_count");
    moved(
        0,
        &format!("orchestrator_probe_errors_total{{instance=\"{master}\"}}"),
    );
    // Analyzer: the finding, crash→finding, snapshots' bus lag.
    moved(1, "orchestrator_findings_total{code=\"DeadMaster\"}");
    moved(1, "orchestrator_crash_to_finding_seconds_count");
    moved(
        1,
        "orchestrator_bus_lag_seconds_count{stream=\"snapshots\"}",
    );
    moved(1, "orchestrator_snapshot_staleness_seconds_count");
    // Recovery: the recovery's result, finding→recovered, the lease taken.
    moved(
        2,
        "orchestrator_recoveries_total{analysis=\"DeadMaster\",result=\"success\"}",
    );
    moved(2, "orchestrator_finding_to_recovered_seconds_count");
    moved(
        2,
        "orchestrator_lease_holder_changes_total{bucket=\"orc_cluster_leases\"}",
    );
    moved(2, "orchestrator_bus_lag_seconds_count{stream=\"findings\"}");
    // Gateway: the API calls above, by route pattern (never by value).
    moved(
        3,
        "orchestrator_http_requests_total{route=\"/api/audit-recovery\",method=\"GET\",status=\"200\"}",
    );
    assert!(
        !after[3].contains(&format!("route=\"/api/discover/{host}")),
        "a route's values leaked into a label"
    );

    // One trace: the analyzer's verdict, then the recovery's phases in the
    // recovery process, all with the verdict's trace id.
    let wanted = [
        "recovery",
        "detection",
        "lease",
        "admission",
        "candidate_choice",
        "plan",
        "step",
        "hooks",
    ];
    let trace = eventually(Duration::from_secs(15), || async {
        let spans = otlp.spans();
        let verdict = spans.iter().find(|s| {
            s.name == "verdict"
                && s.service == "orchestrator-analyzer"
                && s.attributes
                    .iter()
                    .any(|(k, v)| k == "analysis" && v == "DeadMaster")
        })?;
        let names: BTreeSet<&str> = spans
            .iter()
            .filter(|s| s.trace == verdict.trace && s.service == "orchestrator-recovery")
            .map(|s| s.name.as_str())
            .collect();
        wanted
            .iter()
            .all(|w| names.contains(w))
            .then(|| (verdict.clone(), spans.clone()))
    })
    .await;
    let Some((verdict, spans)) = trace else {
        let seen: Vec<String> = otlp
            .spans()
            .iter()
            .map(|s| {
                format!(
                    "{}:{}:{}",
                    s.service,
                    s.name,
                    &s.trace[..8.min(s.trace.len())]
                )
            })
            .collect();
        panic!("no complete recovery trace; spans received: {seen:?}");
    };
    let root = spans
        .iter()
        .find(|s| s.trace == verdict.trace && s.name == "recovery")
        .unwrap();
    assert_eq!(
        root.parent, verdict.id,
        "the recovery span is a child of the verdict, across processes"
    );
    assert!(
        root.attributes
            .iter()
            .any(|(k, v)| k == "recovery_id" && *v == recovery_id),
        "the recovery span names its recovery: {:?}",
        root.attributes
    );

    // JSON logs: every line parses; the recovery's lines carry its id.
    let log = fleet.recovery.log_text();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty());
    let carrying = lines
        .iter()
        .filter(|l| {
            l["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["recovery_id"] == recovery_id.as_str()))
        })
        .count();
    assert!(
        carrying >= 3,
        "recovery {recovery_id}: {carrying} log lines carry its id in:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "colour codes in a log file");
    assert_ne!(new_master, "m");
    fleet.stop().await;
}
