//! Probing real MariaDB servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orc_model::{InstanceKey, ProbeErrorKind, ThreadState};
use orc_mysql::{ConnectOptions, InstanceProbe, ProbeResult, ProbeSettings};
use orc_testkit::SandboxBuilder;

fn probe_for(key: &str, user: &str, password: &str) -> InstanceProbe {
    let key = InstanceKey::parse(key).unwrap();
    let mut opts = ConnectOptions::tcp(key.hostname(), key.port(), user, password);
    opts.connect_timeout = Duration::from_millis(500);
    opts.read_timeout = Duration::from_secs(2);
    InstanceProbe::new(key, opts)
}

#[tokio::test]
async fn a_probe_reads_master_and_replica_as_orchestrator_does() -> anyhow::Result<()> {
    let sb = SandboxBuilder::master_with_replicas(2).start().await?;
    sb.exec(
        "m",
        "CREATE TABLE test.p (id INT PRIMARY KEY); INSERT INTO test.p VALUES (1)",
    )
    .await?;
    sb.wait_replicated(Duration::from_secs(5)).await?;
    let settings = ProbeSettings::default();

    let mut master = probe_for(&sb.key("m")?, "orchestrator", "orc_topology_password");
    let ProbeResult::Ok(m) = master.probe(&settings).await else {
        panic!("master probe failed");
    };
    assert_eq!(m.server_id, 1);
    assert!(!m.read_only);
    assert!(m.log_bin && m.log_replica_updates);
    assert_eq!(m.flavor, orc_model::Flavor::Mariadb);
    assert!(m.replication.is_none());
    assert!(m.self_coordinates.is_some());
    assert!(!m.gtid_executed.is_empty());
    let mut replicas: Vec<String> = m.replicas.iter().map(|k| k.to_string()).collect();
    replicas.sort();
    let mut want = vec![sb.key("r1")?, sb.key("r2")?];
    want.sort();
    assert_eq!(replicas, want);

    let mut replica = probe_for(&sb.key("r1")?, "orchestrator", "orc_topology_password");
    let ProbeResult::Ok(r) = replica.probe(&settings).await else {
        panic!("replica probe failed");
    };
    assert!(r.read_only);
    assert_eq!(r.master_key().unwrap().to_string(), sb.key("m")?);
    let repl = r.replication.as_ref().unwrap();
    assert_eq!(repl.io_thread, ThreadState::Running);
    assert_eq!(repl.using_gtid, "Slave_Pos");
    assert_eq!(r.gtid_executed, m.gtid_executed);
    assert_eq!(r.replication_lag_seconds, Some(0));

    // The connection persists: a second probe reuses it.
    assert!(replica.is_connected());
    assert!(matches!(replica.probe(&settings).await, ProbeResult::Ok(_)));
    Ok(())
}

#[tokio::test]
async fn a_dead_server_is_refused_and_a_live_one_reconnects_after_restart() -> anyhow::Result<()> {
    let sb = SandboxBuilder::new().master("m").start().await?;
    let settings = ProbeSettings::default();
    let mut p = probe_for(&sb.key("m")?, "root", "");
    assert!(matches!(p.probe(&settings).await, ProbeResult::Ok(_)));
    sb.kill("m")?;
    match p.probe(&settings).await {
        ProbeResult::Failed(e) => assert!(
            matches!(
                e.kind,
                ProbeErrorKind::ConnectionLost | ProbeErrorKind::Refused
            ),
            "{e:?}"
        ),
        other => panic!("expected failure, got {other:?}"),
    }
    match p.probe(&settings).await {
        ProbeResult::Failed(e) => assert_eq!(e.kind, ProbeErrorKind::Refused, "{e:?}"),
        other => panic!("expected refusal, got {other:?}"),
    }
    sb.restart("m").await?;
    assert!(matches!(p.probe(&settings).await, ProbeResult::Ok(_)));
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_are_access_denied() -> anyhow::Result<()> {
    let sb = SandboxBuilder::new().master("m").start().await?;
    let mut p = probe_for(&sb.key("m")?, "orchestrator", "wrong");
    match p.probe(&ProbeSettings::default()).await {
        ProbeResult::Failed(e) => {
            assert_eq!(e.kind, ProbeErrorKind::AccessDenied, "{e:?}");
            assert!(e.message.contains("Access denied"), "{}", e.message);
        }
        other => panic!("expected access denied, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn unresolvable_hosts_are_reported_as_such() {
    let mut p = probe_for("no-such-host.invalid:3306", "root", "");
    match p.probe(&ProbeSettings::default()).await {
        ProbeResult::Failed(e) => assert_eq!(e.kind, ProbeErrorKind::Unresolvable, "{e:?}"),
        other => panic!("expected failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_frozen_server_times_out() -> anyhow::Result<()> {
    let sb = SandboxBuilder::new().master("m").start().await?;
    let settings = ProbeSettings::default();
    let mut p = probe_for(&sb.key("m")?, "root", "");
    let first = p.probe(&settings).await;
    assert!(matches!(first, ProbeResult::Ok(_)), "{first:?}");
    sb.freeze("m")?;
    match p.probe(&settings).await {
        ProbeResult::Failed(e) => assert_eq!(e.kind, ProbeErrorKind::Timeout, "{e:?}"),
        other => panic!("expected timeout, got {other:?}"),
    }
    sb.thaw("m")?;
    Ok(())
}

/// Log lines written while a guard lives (this thread only).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test]
async fn a_failing_detect_query_is_logged_when_it_starts_failing_and_when_it_answers_again()
-> anyhow::Result<()> {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let sb = SandboxBuilder::master_with_replicas(1).start().await?;
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_env_filter("orc_mysql=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .set_default();
    let settings = ProbeSettings {
        queries: orc_mysql::probe::DetectQueries {
            // The topology user has no grant on this schema.
            cluster_alias: Some("SELECT alias FROM secret.cluster".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let master = sb.key("m")?;
    let mut probe = probe_for(&master, "orchestrator", "orc_topology_password");
    for _ in 0..5 {
        let ProbeResult::Ok(data) = probe.probe(&settings).await else {
            panic!("a failing detect query fails the probe");
        };
        assert_eq!(data.suggested_cluster_alias, "");
    }
    let lines = logs.lines();
    assert_eq!(
        lines.len(),
        1,
        "one line for five failing polls: {lines:#?}"
    );
    assert!(
        lines[0].contains("WARN")
            && lines[0].contains("key=\"DetectClusterAliasQuery\"")
            && lines[0].contains(&format!("instance={master}"))
            && lines[0].contains("denied"),
        "{lines:#?}"
    );

    sb.exec(
        "m",
        "CREATE DATABASE secret; CREATE TABLE secret.cluster (alias VARCHAR(64)); \
         INSERT INTO secret.cluster VALUES ('shop'); \
         GRANT SELECT ON secret.* TO 'orchestrator'@'%'",
    )
    .await?;
    for _ in 0..3 {
        let ProbeResult::Ok(data) = probe.probe(&settings).await else {
            panic!("probe failed");
        };
        assert_eq!(data.suggested_cluster_alias, "shop");
    }
    let lines = logs.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[1].contains("INFO")
            && lines[1].contains("answers again")
            && lines[1].contains("key=\"DetectClusterAliasQuery\""),
        "{lines:#?}"
    );
    Ok(())
}
