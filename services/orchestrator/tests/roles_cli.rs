//! The roles as separate processes over NATS, and configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orc_testkit::{NatsServer, SandboxBuilder};

fn orchestrator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_orchestrator"))
}

/// Kills the child when dropped (also when an assertion fails).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config_file(dir: &std::path::Path, extra: serde_json::Value) -> std::path::PathBuf {
    let mut c = serde_json::json!({
        "MySQLTopologyUser": "orchestrator",
        "MySQLTopologyPassword": "orc_topology_password",
        "InstancePollSeconds": 0.5,
        "ListenAddress": "127.0.0.1:0",
        "GrpcListenAddress": "127.0.0.1:0",
        "SQLite3DataFile": dir.join("o.sqlite3").display().to_string(),
        "MySQLHostnameResolveMethod": "none",
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    let path = dir.join(format!("conf-{}.json", c.to_string().len()));
    std::fs::write(&path, c.to_string()).unwrap();
    path
}

fn spawn(args: &[&str]) -> (Proc, std::process::ChildStdout) {
    let mut child = orchestrator()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    (Proc(child), out)
}

fn http_address(out: std::process::ChildStdout) -> String {
    let mut lines = BufReader::new(out).lines();
    let line = lines.next().unwrap().unwrap();
    line.trim_start_matches("orchestrator: HTTP API on ")
        .to_string()
}

async fn get(url: &str) -> Option<serde_json::Value> {
    let mut stream =
        tokio::net::TcpStream::connect(url.trim_start_matches("http://").split('/').next()?)
            .await
            .ok()?;
    let path = format!("/{}", url.trim_start_matches("http://").split_once('/')?.1);
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf);
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

#[tokio::test]
async fn roles_run_as_separate_processes_and_survive_a_killed_prober() {
    let sb = SandboxBuilder::master_with_replicas(3)
        .replica("c1", "r1")
        .start()
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = config_file(dir.path(), serde_json::json!({"NatsUrl": nats.url()}));
    let conf = conf.to_str().unwrap();
    let (_analyzer, _) = spawn(&["--config", conf, "analyzer"]);
    let (_gateway, out) = spawn(&["--config", conf, "gateway"]);
    let api = http_address(out);
    let (p1, _) = spawn(&["--config", conf, "prober", "--nats", &nats.url()]);
    let (_p2, _) = spawn(&["--config", conf, "prober", "--nats", &nats.url()]);

    let master = sb.key("m").unwrap();
    let started = Instant::now();
    let discovered = loop {
        let answer = get(&format!("{api}/discover/{}", master.replace(':', "/"))).await;
        if let Some(a) = answer.filter(|a| a["Code"] == "OK") {
            break a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "discover never succeeded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(discovered["Details"]["ClusterName"], master.as_str());

    // Kill one prober without warning; every instance keeps being probed.
    drop(p1);
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fresh = loop {
        let all = get(&format!("{api}/all-instances"))
            .await
            .unwrap_or_default();
        let instances = all.as_array().cloned().unwrap_or_default();
        let ok = instances.len() == 5
            && instances.iter().all(|i| {
                i["IsLastCheckValid"] == true
                    && i["SecondsSinceLastSeen"]["Int64"].as_i64() <= Some(1)
            });
        if ok {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "instances went stale: {all}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("all instances fresh {fresh:?} after the kill");
}

#[test]
fn a_malformed_configuration_exits_64_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"InstancePollSeconds": "often"}"#).unwrap();
    let out = orchestrator()
        .args(["--config", bad.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("InstancePollSeconds") && err.contains("bad.json"),
        "{err}"
    );

    let missing = orchestrator()
        .args(["--config", "/nonexistent/orchestrator.conf.json", "serve"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(64));

    let no_nats = orchestrator().args(["prober"]).output().unwrap();
    assert_ne!(no_nats.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&no_nats.stderr).contains("--nats"));
}

#[test]
fn unknown_keys_are_reported_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config_file(
        dir.path(),
        serde_json::json!({"InstancePolSeconds": 1, "ListenAddress": "203.0.113.1:3000"}),
    );
    // An address this host does not have cannot be bound: the process reports the unknown key, then exits.
    let out = orchestrator()
        .args(["--config", conf.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("InstancePolSeconds"), "{err}");
    assert!(err.contains("cannot listen on 203.0.113.1:3000"), "{err}");
    assert_eq!(out.status.code(), Some(1));
}
