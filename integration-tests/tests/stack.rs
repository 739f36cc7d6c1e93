//! The deployed stack, end to end: `scripts/stack` starts what
//! docker-compose.yml describes as plain processes from the same
//! configuration files (a 3-node NATS cluster, a MariaDB backend, a demo
//! topology, two of each role, HAProxy following the leader). Through a
//! real HAProxy, a client's writes reach the leading gateway, and keep
//! reaching the leader after that gateway is killed; a killed master is
//! replaced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::eventually;
use integration_tests::process::scrape;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stack(args: &[&str], dir: &Path) -> std::process::Output {
    let bin = integration_tests::workspace_binary("orchestrator");
    std::process::Command::new(repo().join("scripts/stack"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("ORC_BIN_DIR", bin.parent().unwrap())
        .output()
        .unwrap()
}

/// Writes a gateway answered, counted from its `/metrics`: every
/// `begin-downtime` and `end-downtime` request.
async fn writes_answered(gateway: &str) -> f64 {
    let Ok(text) = scrape(gateway).await else {
        return -1.0;
    };
    text.lines()
        .filter(|l| {
            l.starts_with("orchestrator_http_requests_total{route=\"/api/begin-downtime")
                || l.starts_with("orchestrator_http_requests_total{route=\"/api/end-downtime")
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

async fn client(api: &str, args: &[&str]) -> (i32, String, String) {
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env = orc_client::Env {
        api: Some(api.to_string()),
        retries: Some(0),
        user: Some("tester".into()),
        ..Default::default()
    };
    integration_tests::run_client(&argv, &env).await
}

struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = stack(&["down"], &self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_follows_the_leader_through_haproxy_and_fails_over() {
    assert!(
        Path::new("/usr/sbin/haproxy").exists() || which("haproxy"),
        "haproxy is installed (scripts/test installs Debian's)"
    );
    let dir = tempfile::tempdir().unwrap();
    let _down = Down(dir.path().to_path_buf());
    let up = stack(&["up"], dir.path());
    assert!(
        up.status.success(),
        "scripts/stack up: {}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("stack.json")).unwrap())
            .unwrap();
    let api = info["api"].as_str().unwrap().to_string();
    assert!(!info["proxy"].as_str().unwrap().is_empty(), "HAProxy runs");
    let gateways: Vec<(String, String)> = info["gateways"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let master = info["master"].as_str().unwrap().to_string();

    // Discovered, through the proxy.
    eventually(Duration::from_secs(30), || async {
        let (code, out, _) = client(&api, &["-c", "which-cluster-master", "-i", &master]).await;
        (code == 0 && out.trim() == master).then_some(())
    })
    .await
    .expect("the topology is known through HAProxy");
    let replicas = eventually(Duration::from_secs(30), || async {
        let (code, out, _) = client(&api, &["-c", "which-replicas", "-i", &master]).await;
        let list: Vec<String> = out.lines().map(str::to_string).collect();
        (code == 0 && list.len() == 3).then_some(list)
    })
    .await
    .expect("three replicas");

    // Which gateway leads: the one whose leader-check answers 200.
    let leader = eventually(Duration::from_secs(15), || async {
        for (name, addr) in &gateways {
            let url = format!("http://{addr}/api/leader-check");
            let resp = orc_client::fetch::get(&url, &[], Duration::from_secs(2))
                .await
                .ok()?;
            if resp.status == 200 {
                return Some((name.clone(), addr.clone()));
            }
        }
        None
    })
    .await
    .expect("a gateway leads");
    let other = gateways
        .iter()
        .find(|(n, _)| *n != leader.0)
        .cloned()
        .unwrap();

    // A write through the proxy reaches the leader, not the other.
    let (l0, o0) = (
        writes_answered(&leader.1).await,
        writes_answered(&other.1).await,
    );
    let (code, _, err) = client(
        &api,
        &[
            "-c",
            "begin-downtime",
            "-i",
            &replicas[0],
            "-duration",
            "10m",
            "-reason",
            "stack-test",
            "-owner",
            "tester",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        writes_answered(&leader.1).await,
        l0 + 1.0,
        "the leader took the write"
    );
    assert_eq!(
        writes_answered(&other.1).await,
        o0,
        "the other gateway took none"
    );

    // The leader dies: HAProxy follows the next leader.
    let pid = info["pids"][&leader.0].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let started = std::time::Instant::now();
    eventually(Duration::from_secs(20), || async {
        let (code, _, _) = client(&api, &["-c", "end-downtime", "-i", &replicas[0]]).await;
        (code == 0).then_some(())
    })
    .await
    .expect("writes through HAProxy succeed again after the leader died");
    println!(
        "writes through HAProxy back {:.2} s after the leading gateway was killed",
        started.elapsed().as_secs_f64()
    );
    assert!(
        writes_answered(&other.1).await > o0,
        "the new leader took the write"
    );

    // A dead master is replaced, every replica following the new one.
    let topology = info["topology_dir"].as_str().unwrap();
    let kill = std::process::Command::new(integration_tests::workspace_binary("orchestrator"))
        .args(["sandbox", "kill", "m", "--dir", topology])
        .output()
        .unwrap();
    assert!(kill.status.success());
    // Generous: on a loaded CI machine the 3-node JetStream cluster can
    // take seconds to answer.
    let successor = eventually(Duration::from_secs(90), || async {
        let (code, out, _) =
            client(&api, &["-c", "which-cluster-master", "-i", &replicas[1]]).await;
        let m = out.trim().to_string();
        if code != 0 || m == master || m.is_empty() {
            return None;
        }
        let (_, out, _) = client(&api, &["-c", "which-replicas", "-i", &m]).await;
        (out.lines().count() == 2).then_some(m)
    })
    .await
    .unwrap_or_else(|| {
        let logs = dir.path().join("logs");
        let tail = |name: &str| {
            let text = std::fs::read_to_string(logs.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        panic!(
            "no new master with both other replicas below it\nrecovery-1:\n{}\nrecovery-2:\n{}\nanalyzer-1:\n{}",
            tail("recovery-1.log"),
            tail("recovery-2.log"),
            tail("analyzer-1.log")
        )
    });
    assert!(replicas.contains(&successor));
    // The audit record gets its successor from the recovery's journal,
    // written as the recovery ends: a moment after the topology shows it.
    let audit = eventually(Duration::from_secs(10), || async {
        let (_, audit, _) = client(&api, &["-c", "audit-recovery"]).await;
        audit.contains(&successor).then_some(audit)
    })
    .await;
    assert!(
        audit.is_some(),
        "the recovery is in the audit with its successor: {:?}",
        client(&api, &["-c", "audit-recovery"]).await.1
    );
}

fn which(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).exists()))
}
