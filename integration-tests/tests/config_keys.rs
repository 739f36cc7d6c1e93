//! orchestrator's configuration keys acting on real servers:
//! `DiscoveryIgnore*HostnameFilters` and `MySQLTopologyReadTimeoutSeconds`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use integration_tests::{Orc, eventually, orc_on, read_only, test_config};
use orc_testkit::{Sandbox, SandboxBuilder};
use serde_json::{Value, json};

/// Starts every role with `extra` configuration, without discovering.
async fn orc_with(extra: Value) -> Orc {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir.path().join("o.sqlite3"), 0.5);
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    Orc::start_with(config, orchestrator::roles::Roles::ALL, None, Some(dir))
        .await
        .unwrap()
}

/// `host:port` of every instance the product knows.
async fn known(orc: &Orc) -> BTreeSet<String> {
    let (_, all) = orc.get("all-instances").await.unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|i| format!("127.0.0.1:{}", i["Key"]["Port"]))
        .collect()
}

/// Waits until exactly `want` is known, then checks for `settle` that
/// nothing else shows up (several poll intervals).
async fn known_exactly(orc: &Orc, want: &[String], settle: Duration) {
    let want: BTreeSet<String> = want.iter().cloned().collect();
    let reached = eventually(Duration::from_secs(10), || async {
        (known(orc).await == want).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "known: {:?}, want {want:?}",
        known(orc).await
    );
    let until = Instant::now() + settle;
    while Instant::now() < until {
        assert_eq!(known(orc).await, want);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A filter entry matching exactly one sandbox server, by its port.
fn port_filter(sb: &Sandbox, name: &str) -> String {
    format!(":{}$", sb.instance(name).unwrap().port())
}

#[tokio::test]
async fn a_host_matching_discovery_ignore_hostname_filters_is_never_discovered() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let [m, r1, r2] = ["m", "r1", "r2"].map(|n| sb.key(n).unwrap());
    let orc = orc_with(json!({
        "DiscoveryIgnoreHostnameFilters": [port_filter(&sb, "r2")],
        "DiscoverySeeds": [r2.clone()],
    }))
    .await;
    // Neither the seed nor the crawl from the master brings r2 in.
    let (code, _, err) = orc.client(&["-c", "discover", "-i", &m]).await;
    assert_eq!(code, 0, "{err}");
    known_exactly(&orc, &[m.clone(), r1.clone()], Duration::from_secs(3)).await;
    let (_, cluster) = orc.get(&format!("cluster/{m}")).await.unwrap();
    let members: BTreeSet<String> = cluster
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("127.0.0.1:{}", i["Key"]["Port"]))
        .collect();
    assert_eq!(members, BTreeSet::from([m.clone(), r1.clone()]));
    // Nor does asking for it: refused, saying why.
    let (code, _, err) = orc.client(&["-c", "discover", "-i", &r2]).await;
    assert_ne!(code, 0);
    assert!(err.contains("DiscoveryIgnoreHostnameFilters"), "{err}");
    known_exactly(&orc, &[m, r1], Duration::from_secs(1)).await;
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn replica_and_master_filters_stop_the_crawl_in_one_direction_only() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let [m, r1, r2] = ["m", "r1", "r2"].map(|n| sb.key(n).unwrap());
    let orc = orc_with(json!({
        "DiscoveryIgnoreReplicaHostnameFilters": [port_filter(&sb, "r1")],
        "DiscoveryIgnoreMasterHostnameFilters": [port_filter(&sb, "m")],
    }))
    .await;
    // r2's master is not followed.
    let (code, _, err) = orc.client(&["-c", "discover", "-i", &r2]).await;
    assert_eq!(code, 0, "{err}");
    known_exactly(&orc, std::slice::from_ref(&r2), Duration::from_secs(2)).await;
    // The master can be discovered; its replica r1 is not followed.
    let (code, _, err) = orc.client(&["-c", "discover", "-i", &m]).await;
    assert_eq!(code, 0, "{err}");
    known_exactly(&orc, &[m.clone(), r2.clone()], Duration::from_secs(2)).await;
    // Asked for, r1 is discovered: the replica filter only stops following.
    let (code, _, err) = orc.client(&["-c", "discover", "-i", &r1]).await;
    assert_eq!(code, 0, "{err}");
    known_exactly(&orc, &[m, r1, r2], Duration::from_secs(0)).await;
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn mysql_topology_read_timeout_seconds_bounds_an_operations_statements() {
    let sb = SandboxBuilder::master_with_replicas(1)
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    sb.exec("m", "CREATE TABLE test.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let orc = orc_on(
        &sb,
        &master,
        json!({
            "MySQLTopologyReadTimeoutSeconds": 1,
            // Longer than the bound above: it must not be what applies.
            "InstanceBulkOperationsWaitTimeoutSeconds": 20,
        }),
    )
    .await
    .unwrap();
    // While a session holds a table lock, `SET GLOBAL read_only = 1` waits
    // (MariaDB's lock_wait_timeout is a day).
    let mut holder = sb.instance("m").unwrap().session().await.unwrap();
    holder.exec("LOCK TABLES test.t WRITE").await.unwrap();
    let started = Instant::now();
    let (code, out, err) = orc.client(&["-c", "set-read-only", "-i", &master]).await;
    let took = started.elapsed();
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("SET GLOBAL read_only = 1: timed out after 1s"),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "the statement was bounded by 1 s, the operation took {took:?}"
    );
    assert_eq!(read_only(&sb, "m").await, Some(false));
    holder.exec("UNLOCK TABLES").await.unwrap();
    holder.close().await;
    orc.stop().await.unwrap();
}
