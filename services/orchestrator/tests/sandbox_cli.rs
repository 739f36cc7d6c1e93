//! `orchestrator sandbox up|status|down` as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn orchestrator(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(args)
        .output()
        .expect("run orchestrator")
}

/// Stops the sandbox even when an assertion fails half-way.
struct StopOnDrop(std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = orc_testkit::Sandbox::stop_persisted(&self.0);
    }
}

#[test]
fn sandbox_up_status_and_down_manage_a_persistent_topology() {
    let dir = std::env::temp_dir().join(format!("orc-cli-sb-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let _cleanup = StopOnDrop(dir.clone());

    let up = orchestrator(&[
        "sandbox",
        "up",
        "--replicas",
        "2",
        "--chained",
        "1",
        "--dir",
        dir_s,
    ]);
    let text = String::from_utf8_lossy(&up.stdout).into_owned();
    assert!(
        up.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("127.0.0.1:"))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].contains("master"), "{text}");
    let master_key = lines[0].split_whitespace().next().unwrap();
    assert!(
        lines[1].contains(&format!("replica of {master_key}")),
        "{text}"
    );
    let r1_key = lines[1].split_whitespace().next().unwrap();
    assert!(
        lines[3].contains(&format!("replica of {r1_key}")),
        "chained replica: {text}"
    );

    // The servers outlive the command.
    let status = orchestrator(&["sandbox", "status", "--dir", dir_s]);
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success());
    assert_eq!(status_text.matches("running").count(), 4, "{status_text}");

    // A second `up` in the same place is refused and changes nothing.
    let again = orchestrator(&["sandbox", "up", "--dir", dir_s]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already runs"));
    assert_eq!(
        String::from_utf8_lossy(&orchestrator(&["sandbox", "status", "--dir", dir_s]).stdout)
            .matches("running")
            .count(),
        4
    );

    // One server killed, to try a failover; an unknown one is refused.
    let kill = orchestrator(&["sandbox", "kill", "m", "--dir", dir_s]);
    assert!(
        kill.status.success(),
        "{}",
        String::from_utf8_lossy(&kill.stderr)
    );
    assert!(String::from_utf8_lossy(&kill.stdout).contains("(m)"));
    let after =
        String::from_utf8_lossy(&orchestrator(&["sandbox", "status", "--dir", dir_s]).stdout)
            .into_owned();
    assert_eq!(after.matches("running").count(), 3, "{after}");
    assert!(after.contains("(m, stopped)"), "{after}");
    let unknown = orchestrator(&["sandbox", "kill", "nobody", "--dir", dir_s]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no server"));

    let down = orchestrator(&["sandbox", "down", "--dir", dir_s]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(!dir.exists());
    assert!(orc_testkit::pids_mentioning(&format!("{dir_s}/")).is_empty());

    // Nothing to stop any more: a clear error.
    let down_again = orchestrator(&["sandbox", "down", "--dir", dir_s]);
    assert!(!down_again.status.success());
    assert!(String::from_utf8_lossy(&down_again.stderr).contains("is a sandbox running here"));
}

/// Whether every thread of a process is gone or a zombie (a zombie has
/// closed its files and sockets).
fn has_exited(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| {
                let (_, rest) = s.rsplit_once(')')?;
                rest.split_whitespace().next().map(str::to_string)
            })
            .is_none_or(|state| state == "Z" || state == "X")
    })
}

#[test]
fn sandbox_down_returns_once_every_server_has_exited() {
    let dir = std::env::temp_dir().join(format!("orc-cli-sb-down-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let _cleanup = StopOnDrop(dir.clone());
    let up = orchestrator(&["sandbox", "up", "--replicas", "3", "--dir", dir_s]);
    assert!(
        up.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let state = orc_testkit::Sandbox::load_state(&dir).unwrap();
    assert!(state.instances.len() >= 4, "{state:?}");
    for i in &state.instances {
        assert!(!has_exited(i.pid), "{} runs before down", i.name);
        std::net::TcpStream::connect(("127.0.0.1", i.port)).expect("its port accepts");
    }

    let started = std::time::Instant::now();
    let down = orchestrator(&["sandbox", "down", "--dir", dir_s]);
    let took = started.elapsed();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    // At once, with no waiting: every server has exited and no port answers.
    for i in &state.instances {
        assert!(
            has_exited(i.pid),
            "{} (pid {}) still runs after down returned",
            i.name,
            i.pid
        );
        let refused = std::net::TcpStream::connect(("127.0.0.1", i.port))
            .err()
            .map(|e| e.kind());
        assert_eq!(
            refused,
            Some(std::io::ErrorKind::ConnectionRefused),
            "port {} of {} after down",
            i.port,
            i.name
        );
    }
    assert!(!dir.exists());
    // SIGTERM sufficed: a clean shutdown, well within the SIGKILL bound.
    assert!(took < orc_testkit::STOP_GRACE, "down took {took:?}");
    println!("sandbox down took {took:?}");
}
