//! Child processes of a sandbox: start, signal, wait, and the guardian that
//! reaps them when the owning process dies without running destructors.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{Error, io};

/// Sends a signal to a process id, ignoring "no such process".
pub fn signal(pid: u32, sig: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(raw), sig);
    }
}

/// Whether a process id is alive (and not a zombie).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // Field 3 (after the parenthesised command) is the state letter.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// The state letter of one `/proc/.../stat` file.
fn state_of(stat_path: &Path) -> Option<char> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().next()?.chars().next()
}

/// Stops a process (SIGSTOP) and waits, up to two seconds, until every one of
/// its threads is stopped: `kill` only queues the signal, and a thread that is
/// running at that moment could still answer a query before it stops.
pub fn stop_and_wait(pid: u32) {
    signal(pid, Signal::SIGSTOP);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        let all_stopped = tasks.flatten().all(|task| {
            matches!(
                state_of(&task.path().join("stat")),
                Some('T') | Some('t') | Some('Z') | Some('X') | None
            )
        });
        if all_stopped {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Whether the process's command line mentions `needle`.
pub fn cmdline_contains(pid: u32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .contains(needle)
        })
        .unwrap_or(false)
}

/// Process ids whose command line mentions `needle`.
pub fn pids_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me && cmdline_contains(*pid, needle) && is_alive(*pid))
        .collect()
}

/// Kills with SIGKILL and reaps a child.
pub fn kill_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts the guardian: a shell that waits for `owner_pid` to disappear,
/// then SIGKILLs every process whose command line mentions `dir` and removes
/// `dir`. Its own command line does not contain `dir` (it reads it from the
/// environment), so it does not kill itself early.
pub fn spawn_guardian(owner_pid: u32, dir: &Path) -> Result<Child, Error> {
    const SCRIPT: &str = r#"
while kill -0 "$ORC_SB_OWNER" 2>/dev/null; do sleep 0.2; done
pkill -9 -f -- "$ORC_SB_DIR/" 2>/dev/null
sleep 0.1
rm -rf -- "$ORC_SB_DIR"
"#;
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .env("ORC_SB_OWNER", owner_pid.to_string())
        .env("ORC_SB_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io("starting sandbox guardian"))
}

/// Last `n` lines of a text file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

use std::os::unix::process::CommandExt as _;
