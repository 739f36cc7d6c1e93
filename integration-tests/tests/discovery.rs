//! Discovery end to end: a real topology, found from one server, seen
//! through orchestrator-client, the HTTP API and gRPC; in one process and
//! over NATS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use integration_tests::{Orc, eventually};
use orc_testkit::{NatsServer, Sandbox, SandboxBuilder};

/// 1 master, 3 replicas, 1 replica chained below r1.
async fn topology() -> Sandbox {
    SandboxBuilder::master_with_replicas(3)
        .replica("c1", "r1")
        .start()
        .await
        .expect("sandbox")
}

/// The tree orchestrator would print, built from the sandbox's ports.
fn expected_tree(sb: &Sandbox) -> Vec<String> {
    let key = |n: &str| sb.key(n).unwrap();
    let mut direct: Vec<&str> = vec!["r1", "r2", "r3"];
    direct.sort_by_key(|n| sb.instance(n).unwrap().port());
    let mut lines = vec![key("m")];
    for r in direct {
        lines.push(format!("+ {}", key(r)));
        if r == "r1" {
            lines.push(format!("  + {}", key("c1")));
        }
    }
    lines
}

async fn discover_and_check(orc: &Orc, sb: &Sandbox) {
    let started = Instant::now();
    let (code, out, err) = orc
        .client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(code, 0, "discover failed: {err}");
    assert_eq!(out.trim(), sb.key("m").unwrap());

    let all: Vec<String> = ["m", "r1", "r2", "r3", "c1"]
        .iter()
        .map(|n| sb.key(n).unwrap())
        .collect();
    let known = eventually(Duration::from_secs(3), || async {
        let (_, out, _) = orc.client(&["-c", "all-instances"]).await;
        let mut got: Vec<String> = out.lines().map(str::to_string).collect();
        got.sort();
        let mut want = all.clone();
        want.sort();
        (got == want).then_some(())
    })
    .await;
    assert!(known.is_some(), "not every instance known within 3 s");

    // One cluster, named after the master, and every master key right.
    let (_, clusters, _) = orc.client(&["-c", "clusters"]).await;
    assert_eq!(clusters.trim(), sb.key("m").unwrap());
    for (replica, master) in [("r1", "m"), ("r2", "m"), ("r3", "m"), ("c1", "r1")] {
        let (code, out, _) = orc
            .client(&["-c", "which-master", "-i", &sb.key(replica).unwrap()])
            .await;
        assert_eq!(
            (code, out.trim()),
            (0, sb.key(master).unwrap().as_str()),
            "{replica}"
        );
    }
    let (_, which_master, _) = orc
        .client(&["-c", "which-master", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(
        which_master.trim(),
        ":0",
        "a master's master prints as orchestrator-client does"
    );

    // The tree, in orchestrator's format, once every replica answered.
    let want = expected_tree(sb);
    let tree = eventually(Duration::from_secs(3), || async {
        let (_, out, _) = orc
            .client(&["-c", "topology", "-i", &sb.key("r2").unwrap()])
            .await;
        let ok = out.lines().count() == 5 && out.lines().all(|l| l.contains("ok,"));
        ok.then_some(out)
    })
    .await
    .expect("a healthy topology");
    let lines: Vec<&str> = tree.lines().collect();
    for (line, want) in lines.iter().zip(&want) {
        let head = line.split(" [").next().unwrap().trim_end();
        assert_eq!(head, want, "tree:\n{tree}");
    }
    let version = sb.sql("m", "SELECT @@version").await.unwrap()[0]
        .at(0)
        .unwrap()
        .to_string();
    assert!(
        lines[0].ends_with(&format!("[0s,ok,{version},rw,ROW,>>]")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(&format!("[0s,ok,{version},ro,ROW,>>,GTID]")),
        "{}",
        lines[1]
    );
    let bracket = lines[0].find('[').unwrap();
    assert!(
        lines.iter().all(|l| l.find('[') == Some(bracket)),
        "brackets aligned:\n{tree}"
    );
    eprintln!("discovered and checked in {:?}", started.elapsed());
}

#[tokio::test]
async fn discovery_in_one_process_finds_the_whole_topology_from_its_master() {
    let sb = topology().await;
    let orc = Orc::start(None).await.unwrap();
    discover_and_check(&orc, &sb).await;
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn discovery_over_nats_finds_the_whole_topology_from_its_master() {
    let sb = topology().await;
    let nats = NatsServer::start().await.unwrap();
    let orc = Orc::start(Some(&nats.url())).await.unwrap();
    discover_and_check(&orc, &sb).await;
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn discovering_a_replica_crawls_up_to_the_master_and_down_again() {
    let sb = topology().await;
    let orc = Orc::start(None).await.unwrap();
    let (code, _, err) = orc
        .client(&["-c", "discover", "-i", &sb.key("c1").unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    let found = eventually(Duration::from_secs(3), || async {
        let (_, out, _) = orc
            .client(&[
                "-c",
                "which-cluster-instances",
                "-i",
                &sb.key("c1").unwrap(),
            ])
            .await;
        (out.lines().count() == 5).then_some(())
    })
    .await;
    assert!(found.is_some());
    let (_, cluster, _) = orc
        .client(&["-c", "which-cluster", "-i", &sb.key("c1").unwrap()])
        .await;
    assert_eq!(cluster.trim(), sb.key("m").unwrap());
    let (_, master, _) = orc
        .client(&["-c", "which-cluster-master", "-i", &sb.key("r3").unwrap()])
        .await;
    assert_eq!(master.trim(), sb.key("m").unwrap());
    let (_, masters, _) = orc.client(&["-c", "all-clusters-masters"]).await;
    assert_eq!(masters.trim(), sb.key("m").unwrap());
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn forgetting_removes_instances_until_rediscovered() {
    let sb = topology().await;
    let orc = Orc::start(None).await.unwrap();
    orc.client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    eventually(Duration::from_secs(3), || async {
        let (_, out, _) = orc.client(&["-c", "all-instances"]).await;
        (out.lines().count() == 5).then_some(())
    })
    .await
    .expect("discovered");
    let r3 = sb.key("r3").unwrap();
    let (code, _, err) = orc.client(&["-c", "forget", "-i", &r3]).await;
    assert_eq!(code, 0, "{err}");
    // The master still lists r3, yet it stays forgotten.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, out, _) = orc.client(&["-c", "all-instances"]).await;
    assert!(!out.contains(&r3), "{out}");
    let (code, _, err) = orc.client(&["-c", "instance", "-i", &r3]).await;
    assert_eq!(code, 1);
    assert!(err.contains("Cannot read instance"), "{err}");
    // Forgetting it again is an error that changes nothing.
    let (code, _, err) = orc.client(&["-c", "forget", "-i", &r3]).await;
    assert_eq!(code, 1, "{err}");
    // An explicit discover brings it back.
    let (code, _, _) = orc.client(&["-c", "discover", "-i", &r3]).await;
    assert_eq!(code, 0);
    // Forget the whole cluster.
    let (code, _, err) = orc
        .client(&["-c", "forget-cluster", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = orc.client(&["-c", "all-instances"]).await;
    assert_eq!(out.trim(), "", "{out}");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn search_and_aliases_follow_orchestrator() {
    let sb = topology().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = integration_tests::test_config(&dir.path().join("o.sqlite3"), 1.0);
    config["ClusterNameToAlias"] = serde_json::json!({"127\\.0\\.0\\.1:.*": "sandbox"});
    config["DetectClusterDomainQuery"] = serde_json::json!("SELECT 'sandbox.local'");
    let orc = Orc::start_with(config, orchestrator::roles::Roles::ALL, None, Some(dir))
        .await
        .unwrap();
    orc.client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    let (_, out, _) = orc.client(&["-c", "clusters-alias"]).await;
    assert_eq!(out.trim(), format!("{},sandbox", sb.key("m").unwrap()));
    let (_, alias, _) = orc
        .client(&["-c", "which-cluster-alias", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(alias.trim(), "sandbox");
    // An alias works as a cluster hint.
    let (code, out, _) = orc.client(&["-c", "which-cluster", "-a", "sandbox"]).await;
    assert_eq!((code, out.trim()), (0, sb.key("m").unwrap().as_str()));
    let (status, info) = orc.get("cluster-info/alias/sandbox").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(info["ClusterDomain"], "sandbox.local");
    let port = sb.instance("r2").unwrap().port().to_string();
    let found = eventually(Duration::from_secs(3), || async {
        let (_, found, _) = orc.client(&["-c", "search", "-i", &port]).await;
        (!found.trim().is_empty()).then_some(found)
    })
    .await
    .unwrap();
    assert_eq!(found.trim(), sb.key("r2").unwrap());
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn identities_come_from_report_host_while_probing_the_discovered_address() {
    // The master also listens on 127.0.0.2; replicas reach it at 127.0.0.1.
    let sb = SandboxBuilder::master_with_replicas(2)
        .listen_also_on(std::net::Ipv4Addr::new(127, 0, 0, 2))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = integration_tests::test_config(&dir.path().join("o.sqlite3"), 0.5);
    config["MySQLHostnameResolveMethod"] = "@@report_host".into();
    let orc = Orc::start_with(config, orchestrator::roles::Roles::ALL, None, Some(dir))
        .await
        .unwrap();
    let port = sb.instance("m").unwrap().port();
    let (code, out, err) = orc
        .client(&["-c", "discover", "-i", &format!("127.0.0.2:{port}")])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), sb.key("m").unwrap(), "known by what it reports");
    eventually(Duration::from_secs(3), || async {
        let (_, out, _) = orc
            .client(&["-c", "which-cluster-instances", "-i", &sb.key("m").unwrap()])
            .await;
        (out.lines().count() == 3).then_some(())
    })
    .await
    .expect("one cluster of three");
    // The address it was discovered at still finds it.
    let (code, out, _) = orc
        .client(&["-c", "which-replicas", "-i", &format!("127.0.0.2:{port}")])
        .await;
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2);
    let (_, master, _) = orc
        .client(&["-c", "which-master", "-i", &sb.key("r1").unwrap()])
        .await;
    assert_eq!(master.trim(), sb.key("m").unwrap());
    // It keeps being probed at 127.0.0.2 (the only address it was given).
    let (_, inst) = orc
        .get(&format!("instance/127.0.0.1/{port}"))
        .await
        .unwrap();
    assert_eq!(inst["IsLastCheckValid"], true);
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn hostname_resolve_method_ip_names_instances_by_address() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = integration_tests::test_config(&dir.path().join("o.sqlite3"), 0.5);
    config["HostnameResolveMethod"] = "ip".into();
    let orc = Orc::start_with(config, orchestrator::roles::Roles::ALL, None, Some(dir))
        .await
        .unwrap();
    let port = sb.instance("m").unwrap().port();
    let (code, out, err) = orc
        .client(&["-c", "discover", "-i", &format!("localhost:{port}")])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("127.0.0.1:{port}"),
        "known by its address"
    );
    eventually(Duration::from_secs(3), || async {
        let (_, out, _) = orc
            .client(&["-c", "which-cluster-instances", "-i", &sb.key("m").unwrap()])
            .await;
        (out.lines().count() == 3).then_some(())
    })
    .await
    .expect("one cluster of three, keyed by address");
    let (_, all) = orc.get("all-instances").await.unwrap();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|i| i["Key"]["Hostname"] == "127.0.0.1"),
        "{all}"
    );
    orc.stop().await.unwrap();
}
