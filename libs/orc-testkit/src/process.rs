//! Child processes of a sandbox: start, signal, wait, and the guardian that
//! reaps them when the owning process dies without running destructors.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A process as first seen: its id and its start time (in clock ticks since
/// boot), so that a recycled id is never taken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    pid: u32,
    start_time: u64,
}

/// Field 22 of `/proc/<pid>/stat`: when the process started.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` starts at field 3 (the state).
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

impl Process {
    /// The process with this id now, if there is one.
    pub fn of(pid: u32) -> Option<Self> {
        Some(Self {
            pid,
            start_time: start_time(pid)?,
        })
    }

    /// Its id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether it has exited: gone, its id reused, or every one of its
    /// threads dead (a zombie has closed its files and sockets; a
    /// thread-group leader can be a zombie while other threads still run).
    pub fn has_exited(&self) -> bool {
        if start_time(self.pid) != Some(self.start_time) {
            return true;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return true;
        };
        tasks.flatten().all(|task| {
            matches!(
                state_of(&task.path().join("stat")),
                Some('Z') | Some('X') | None
            )
        })
    }
}

/// Stops processes and returns once they have exited: SIGTERM (and SIGCONT,
/// so a frozen one can act on it), up to `grace` for them to exit, then
/// SIGKILL for the rest and up to `kill_wait` more. Returns the ids still
/// running after that (none, unless the kernel cannot end them).
pub fn terminate(procs: &[Process], grace: Duration, kill_wait: Duration) -> Vec<u32> {
    let wait = |left: Vec<Process>, limit: Duration| -> Vec<Process> {
        let deadline = Instant::now() + limit;
        let mut left = left;
        loop {
            left.retain(|p| !p.has_exited());
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    for p in procs {
        signal(p.pid, Signal::SIGTERM);
        signal(p.pid, Signal::SIGCONT);
    }
    let left = wait(procs.to_vec(), grace);
    for p in &left {
        signal(p.pid, Signal::SIGKILL);
    }
    wait(left, kill_wait).iter().map(Process::pid).collect()
}

/// Kills with SIGKILL and reaps a child.
pub fn kill_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh directory for one server under the temporary directory:
/// `<prefix>-<pid><tag>-<nanoseconds, hex>`, created (with `sub` inside
/// when not empty). The guardian and a server's own files live there.
pub fn scratch_dir(prefix: &str, tag: &str, sub: &str) -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}{tag}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() & 0xffffff)
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(dir.join(sub)).map_err(io(format!("creating {}", dir.display())))?;
    Ok(dir)
}

/// What a test server's `Drop` does: kills its process and its guardian
/// (whichever are still held) and removes its directory.
pub fn stop_and_clean(slots: [&std::sync::Mutex<Option<Child>>; 2], dir: &Path) {
    for slot in slots {
        if let Some(mut c) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
            kill_child(&mut c);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A shell that runs `on_term` when sent SIGTERM.
    fn shell(on_term: &str) -> (Child, Process) {
        let script = format!("trap '{on_term}' TERM; while :; do sleep 0.02; done");
        let child = Command::new("sh").arg("-c").arg(script).spawn().unwrap();
        // Let the shell install its trap.
        std::thread::sleep(Duration::from_millis(200));
        let p = Process::of(child.id()).unwrap();
        (child, p)
    }

    #[test]
    fn terminate_returns_once_a_slow_process_has_exited() {
        let (mut child, p) = shell("sleep 0.5; exit 0");
        assert!(!p.has_exited());
        let started = Instant::now();
        let left = terminate(&[p], Duration::from_secs(10), Duration::from_secs(5));
        assert!(left.is_empty());
        assert!(p.has_exited(), "exited (a zombie until reaped)");
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no SIGKILL needed"
        );
        assert_eq!(child.wait().unwrap().code(), Some(0), "a clean exit");
    }

    #[test]
    fn a_process_that_ignores_sigterm_is_killed_after_the_grace() {
        let (mut child, p) = shell("");
        let started = Instant::now();
        let left = terminate(&[p], Duration::from_millis(300), Duration::from_secs(5));
        assert!(left.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(300));
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(child.wait().unwrap().signal(), Some(9));
    }

    #[test]
    fn a_recycled_process_id_is_not_taken_for_the_process() {
        let me = Process::of(std::process::id()).unwrap();
        assert!(!me.has_exited());
        let other = Process {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(other.has_exited());
        assert!(Process::of(u32::MAX).is_none());
    }
}
