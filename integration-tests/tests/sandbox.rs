//! The sandbox itself: real replication, faults, and clean teardown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use orc_testkit::{NatsServer, Sandbox, SandboxBuilder, pids_mentioning};

#[tokio::test]
async fn one_master_three_replicas_replicate_and_notice_a_killed_master() -> anyhow::Result<()> {
    let sb = SandboxBuilder::master_with_replicas(3).start().await?;
    sb.exec("m", "CREATE TABLE test.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO test.t VALUES (1, 'hello')")
        .await?;
    sb.wait_replicated(Duration::from_secs(5)).await?;
    for r in ["r1", "r2", "r3"] {
        let rows = sb.sql(r, "SELECT v FROM test.t WHERE id = 1").await?;
        assert_eq!(
            rows.first().and_then(|r| r.at(0)),
            Some("hello"),
            "row on {r}"
        );
        let status = sb.replica_status(r).await?.expect("replica status");
        assert_eq!(
            status.get("Master_Port"),
            Some(sb.instance("m")?.port().to_string().as_str())
        );
        assert_eq!(status.get("Using_Gtid"), Some("Slave_Pos"));
    }

    sb.kill("m")?;
    let killed = Instant::now();
    for r in ["r1", "r2", "r3"] {
        loop {
            let status = sb.replica_status(r).await?.expect("replica status");
            if status.get("Slave_IO_Running") != Some("Yes") {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(2),
                "{r}'s IO thread still Yes 2 s after the master was killed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}

#[tokio::test]
async fn chains_and_co_masters_replicate_as_described() -> anyhow::Result<()> {
    let sb = Sandbox::builder()
        .co_masters("a", "b")
        .replica("ra", "a")
        .replica("rra", "ra")
        .start()
        .await?;
    let b_status = sb.replica_status("b").await?.expect("b replicates");
    assert_eq!(
        b_status.get("Master_Port"),
        Some(sb.instance("a")?.port().to_string().as_str())
    );
    let a_status = sb.replica_status("a").await?.expect("a replicates");
    assert_eq!(
        a_status.get("Master_Port"),
        Some(sb.instance("b")?.port().to_string().as_str())
    );
    assert_eq!(sb.sql("a", "SELECT @@read_only").await?[0].at(0), Some("0"));
    assert_eq!(sb.sql("b", "SELECT @@read_only").await?[0].at(0), Some("1"));

    sb.exec(
        "a",
        "CREATE TABLE test.c (id INT PRIMARY KEY); INSERT INTO test.c VALUES (7)",
    )
    .await?;
    sb.wait_replicated(Duration::from_secs(5)).await?;
    for n in ["b", "ra", "rra"] {
        assert_eq!(
            sb.sql(n, "SELECT id FROM test.c").await?[0].at(0),
            Some("7"),
            "{n}"
        );
    }
    let hosts = sb.sql("a", "SHOW SLAVE HOSTS").await?;
    let ports: Vec<&str> = hosts.iter().filter_map(|r| r.get("Port")).collect();
    assert!(ports.contains(&sb.instance("ra")?.port().to_string().as_str()));
    Ok(())
}

#[tokio::test]
async fn frozen_servers_hang_and_thawed_ones_answer_again() -> anyhow::Result<()> {
    let sb = SandboxBuilder::master_with_replicas(1).start().await?;
    sb.freeze("m")?;
    let mut tcp = orc_mysql::ConnectOptions::tcp("127.0.0.1", sb.instance("m")?.port(), "root", "");
    tcp.connect_timeout = Duration::from_millis(300);
    let err = orc_mysql::Session::connect(&tcp)
        .await
        .expect_err("frozen server must not answer");
    assert_eq!(err.kind(), orc_model_kind_timeout());
    sb.thaw("m")?;
    let mut s = orc_mysql::Session::connect(&tcp).await?;
    assert_eq!(s.query_value("SELECT 1").await?, Some("1".into()));
    Ok(())
}

fn orc_model_kind_timeout() -> orc_model::ProbeErrorKind {
    orc_model::ProbeErrorKind::Timeout
}

#[tokio::test]
async fn a_restarted_replica_resumes_replication_on_its_port() -> anyhow::Result<()> {
    let sb = SandboxBuilder::master_with_replicas(1).start().await?;
    let port = sb.instance("r1")?.port();
    sb.kill("r1")?;
    sb.exec(
        "m",
        "CREATE TABLE test.r (id INT PRIMARY KEY); INSERT INTO test.r VALUES (1)",
    )
    .await?;
    sb.restart("r1").await?;
    assert_eq!(sb.instance("r1")?.port(), port);
    sb.wait_replicated(Duration::from_secs(10)).await?;
    assert_eq!(
        sb.sql("r1", "SELECT COUNT(*) FROM test.r").await?[0].at(0),
        Some("1")
    );
    Ok(())
}

#[tokio::test]
async fn a_killed_master_is_refused_not_timed_out() -> anyhow::Result<()> {
    let sb = SandboxBuilder::new().master("m").start().await?;
    sb.kill("m")?;
    let tcp = orc_mysql::ConnectOptions::tcp("127.0.0.1", sb.instance("m")?.port(), "root", "");
    let err = orc_mysql::Session::connect(&tcp)
        .await
        .expect_err("dead server");
    assert_eq!(err.kind(), orc_model::ProbeErrorKind::Refused, "{err}");
    Ok(())
}

#[tokio::test]
async fn bad_topology_specs_are_refused_before_anything_starts() {
    let err = Sandbox::builder()
        .replica("r", "nowhere")
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown node"), "{err}");
    let err = Sandbox::builder()
        .master("m")
        .master("m")
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let err = Sandbox::builder().start().await.unwrap_err();
    assert!(err.to_string().contains("at least one"), "{err}");
}

#[tokio::test]
async fn nats_server_with_jetstream_starts_on_a_free_port() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    assert!(nats.url().starts_with("nats://127.0.0.1:"));
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", nats.port())).await?;
    drop(stream);
    let (major, minor, _) = nats.version().expect("version");
    assert!((major, minor) >= (2, 9));
    Ok(())
}

/// Runs in a child process (see below): starts a sandbox, records its
/// directory, then either panics or waits to be killed.
#[tokio::test]
#[ignore = "helper run as a child process by the teardown tests"]
async fn sandbox_child_helper() {
    let out = PathBuf::from(std::env::var("ORC_CHILD_OUT").expect("ORC_CHILD_OUT"));
    let sb = SandboxBuilder::master_with_replicas(1)
        .start()
        .await
        .expect("sandbox");
    let _nats = NatsServer::start().await.expect("nats");
    std::fs::write(&out, sb.dir().display().to_string()).expect("write dir");
    if std::env::var("ORC_CHILD_MODE").as_deref() == Ok("wait") {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    panic!("deliberate panic with a running sandbox");
}

fn run_child(mode: &str) -> anyhow::Result<(std::process::Child, PathBuf)> {
    let out = std::env::temp_dir().join(format!("orc-child-{}-{mode}", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "sandbox_child_helper",
            "--ignored",
            "--nocapture",
        ])
        .env("ORC_CHILD_OUT", &out)
        .env("ORC_CHILD_MODE", mode)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    Ok((child, out))
}

fn wait_for_file(path: &PathBuf, timeout: Duration) -> anyhow::Result<String> {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.is_empty()
        {
            return Ok(s);
        }
        anyhow::ensure!(
            start.elapsed() < timeout,
            "child never reported its sandbox"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_gone(dir: &str, within: Duration) {
    let start = Instant::now();
    loop {
        let alive = pids_mentioning(&format!("{dir}/"));
        let exists = std::path::Path::new(dir).exists();
        if alive.is_empty() && !exists {
            return;
        }
        assert!(
            start.elapsed() < within,
            "sandbox {dir} survived its owner: pids {alive:?}, dir exists: {exists}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn no_sandbox_process_survives_a_panicking_test() -> anyhow::Result<()> {
    let (mut child, out) = run_child("panic")?;
    let status = child.wait()?;
    assert!(!status.success(), "the helper test must fail by panicking");
    let dir = wait_for_file(&out, Duration::from_secs(1))?;
    assert_gone(&dir, Duration::from_secs(3));
    let _ = std::fs::remove_file(out);
    Ok(())
}

#[test]
fn no_sandbox_process_survives_a_sigkilled_test() -> anyhow::Result<()> {
    let (mut child, out) = run_child("wait")?;
    let dir = wait_for_file(&out, Duration::from_secs(60))?;
    assert!(
        !pids_mentioning(&format!("{dir}/")).is_empty(),
        "servers should be running"
    );
    child.kill()?;
    child.wait()?;
    assert_gone(&dir, Duration::from_secs(3));
    let _ = std::fs::remove_file(out);
    Ok(())
}
