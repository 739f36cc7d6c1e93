//! Failure detection against real servers: crashes, hangs, partitions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use integration_tests::{Firewall, eventually, follow_findings, orc_on};
use orc_proto::v1::Finding;
use orc_testkit::{Sandbox, SandboxBuilder};

/// Collects findings until `until` returns true or `timeout` passes.
async fn findings_until(
    stream: &mut tonic::Streaming<Finding>,
    timeout: Duration,
    mut until: impl FnMut(&Finding) -> bool,
) -> Vec<Finding> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while let Ok(Ok(Some(f))) = tokio::time::timeout_at(deadline, stream.message()).await {
        let stop = until(&f);
        seen.push(f);
        if stop {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn killing_the_master_is_a_dead_master_with_its_evidence() {
    let sb = SandboxBuilder::master_with_replicas(3)
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(&sb, &master, serde_json::json!({})).await.unwrap();
    let mut findings = follow_findings(&orc).await.unwrap();
    sb.kill("m").unwrap();
    let killed = Instant::now();
    let seen = findings_until(&mut findings, Duration::from_secs(10), |f| {
        f.code == "DeadMaster"
    })
    .await;
    let took = killed.elapsed();
    let dead = seen
        .iter()
        .find(|f| f.code == "DeadMaster")
        .expect("a DeadMaster finding");
    eprintln!(
        "DeadMaster {took:?} after kill -9; findings: {:?}",
        seen.iter().map(|f| &f.code).collect::<Vec<_>>()
    );
    assert_eq!(dead.cluster, master);
    assert!(dead.actionable && dead.new_detection);
    let analysis = orc_proto::analysis::finding_analysis(dead).unwrap();
    assert_eq!(analysis.counts.replicas, 3);
    assert_eq!(analysis.counts.valid, 3);
    assert_eq!(analysis.counts.valid_replicating, 0);
    assert_eq!(
        analysis.evidence.error_kind,
        Some(orc_model::ProbeErrorKind::Refused)
    );
    assert_eq!(analysis.replica_evidence.len(), 3);
    assert!(
        analysis
            .replica_evidence
            .iter()
            .all(|r| r.valid && !r.io_thread.is_running())
    );

    // The API says the same, in orchestrator's shape, and the client prints it.
    let entry = eventually(Duration::from_secs(3), || async {
        let (_, api) = orc.get("replication-analysis").await.ok()?;
        api["Details"]
            .as_array()?
            .iter()
            .find(|e| e["Analysis"] == "DeadMaster")
            .cloned()
    })
    .await
    .expect("DeadMaster in the API");
    assert_eq!(entry["CountValidReplicas"], 3);
    assert_eq!(entry["IsActionableRecovery"], true);
    let (_, out, _) = orc.client(&["-c", "replication-analysis"]).await;
    assert!(
        out.contains(&format!("{master} (cluster {master}): DeadMaster")),
        "{out}"
    );

    // Offline replay of the live instances agrees with the live analysis.
    let (_, instances) = orc.get("all-instances").await.unwrap();
    let (config, _) = orc_runtime::Config::load(None, &[]).unwrap();
    let replayed =
        orchestrator::replay::analyze_text(&instances.to_string(), false, &config, "live").unwrap();
    let mut live: Vec<String> = out.lines().map(str::to_string).collect();
    let mut offline: Vec<String> = replayed.lines().map(str::to_string).collect();
    live.sort();
    offline.sort();
    assert_eq!(offline, live);
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn a_master_frozen_for_less_than_slave_net_timeout_is_never_declared_dead() {
    // Replicas notice a silent master after slave_net_timeout (orchestrator's
    // usual 4 s here): a shorter freeze is unreachable, never dead.
    let sb = SandboxBuilder::master_with_replicas(2)
        .option("r1", "slave_net_timeout", "4")
        .option("r2", "slave_net_timeout", "4")
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(&sb, &master, serde_json::json!({})).await.unwrap();
    let mut findings = follow_findings(&orc).await.unwrap();
    sb.freeze("m").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sb.thaw("m").unwrap();
    // Watch on well after the thaw.
    let seen = findings_until(&mut findings, Duration::from_secs(5), |_| false).await;
    let codes: Vec<&str> = seen.iter().map(|f| f.code.as_str()).collect();
    eprintln!("findings during the freeze: {codes:?}");
    assert!(!codes.contains(&"DeadMaster"), "{codes:?}");
    assert!(
        codes.contains(&"UnreachableMaster"),
        "the hang was noticed: {codes:?}"
    );
    eventually(Duration::from_secs(10), || async {
        let (_, a) = orc.get("replication-analysis").await.ok()?;
        (a["Details"] == serde_json::json!([])).then_some(())
    })
    .await
    .expect("healthy again after the thaw");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn probers_cut_off_from_a_replicating_master_see_it_unreachable_never_dead() {
    let alt = Ipv4Addr::new(127, 0, 0, 2);
    let sb = std::sync::Arc::new(
        SandboxBuilder::master_with_replicas(2)
            .listen_also_on(alt)
            .start()
            .await
            .unwrap(),
    );
    let port = sb.instance("m").unwrap().port();
    // The probers reach the master at 127.0.0.2; replicas at 127.0.0.1.
    let orc = orc_on(
        &sb,
        &format!("127.0.0.2:{port}"),
        serde_json::json!({"MySQLHostnameResolveMethod": "@@report_host"}),
    )
    .await
    .unwrap();
    let mut findings = follow_findings(&orc).await.unwrap();
    let split_brain = integration_tests::SplitBrain::sample(sb.clone(), &["m", "r1", "r2"]);
    let firewall = Firewall::block(alt, port).unwrap();
    let cut = Instant::now();
    let seen = findings_until(&mut findings, Duration::from_secs(15), |f| {
        f.code == "UnreachableMaster"
    })
    .await;
    let took = cut.elapsed();
    assert!(
        seen.iter().any(|f| f.code == "UnreachableMaster"),
        "{seen:?}"
    );
    eprintln!("UnreachableMaster {took:?} after the partition");
    integration_tests::chaos_figure(took);
    // Writes keep flowing to the replicas meanwhile; no failover verdict.
    sb.exec(
        "m",
        "CREATE TABLE test.p (id INT PRIMARY KEY); INSERT INTO test.p VALUES (1)",
    )
    .await
    .unwrap();
    sb.wait_replicated(Duration::from_secs(5)).await.unwrap();
    let more = findings_until(&mut findings, Duration::from_secs(4), |_| false).await;
    assert!(
        seen.iter()
            .chain(&more)
            .all(|f| !f.code.starts_with("DeadMaster")),
        "{:?}",
        seen.iter()
            .chain(&more)
            .map(|f| &f.code)
            .collect::<Vec<_>>()
    );
    let (_, api) = orc.get("replication-analysis").await.unwrap();
    let entry = &api["Details"][0];
    assert_eq!(entry["Analysis"], "UnreachableMaster");
    assert_eq!(entry["AnalyzedInstanceKey"]["Hostname"], "127.0.0.1");
    assert_eq!(entry["CountValidReplicatingReplicas"], 2);
    drop(firewall);
    eventually(Duration::from_secs(10), || async {
        let (_, a) = orc.get("replication-analysis").await.ok()?;
        (a["Details"] == serde_json::json!([])).then_some(())
    })
    .await
    .expect("healthy again once the partition heals");
    let two = split_brain.finish().await;
    assert!(two.is_empty(), "two writable masters: {two:?}");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn killing_an_intermediate_master_is_a_dead_intermediate_master() {
    let sb = Sandbox::builder()
        .master("m")
        .replica("im", "m")
        .replica("c1", "im")
        .replica("c2", "im")
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(&sb, &master, serde_json::json!({})).await.unwrap();
    let mut findings = follow_findings(&orc).await.unwrap();
    sb.kill("im").unwrap();
    let seen = findings_until(&mut findings, Duration::from_secs(10), |f| {
        f.code == "DeadIntermediateMaster"
    })
    .await;
    let dead = seen
        .iter()
        .find(|f| f.code == "DeadIntermediateMaster")
        .unwrap_or_else(|| panic!("{:?}", seen.iter().map(|f| &f.code).collect::<Vec<_>>()));
    assert_eq!(
        dead.instance.as_ref().unwrap().port,
        u32::from(sb.instance("im").unwrap().port())
    );
    assert_eq!(dead.cluster, master);
    assert!(dead.actionable);
    orc.stop().await.unwrap();
}
