//! `orchestrator sandbox up|down|status`: a local replication topology of
//! real `mariadbd` processes that outlives the command.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use orc_testkit::{Sandbox, SandboxBuilder, SandboxState, is_alive};

/// The topology user every sandbox server knows.
pub const TOPOLOGY_USER: &str = "orchestrator";
/// Its password.
pub const TOPOLOGY_PASSWORD: &str = "orc_topology_password";

/// Where the sandbox lives unless told otherwise.
pub fn default_dir() -> PathBuf {
    std::env::var_os("ORC_SANDBOX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/orc-sandbox"))
}

/// The default shape: a master, `replicas` direct replicas, and `chained`
/// replicas hanging one below the other under the first replica.
pub fn builder(replicas: usize, chained: usize) -> SandboxBuilder {
    let mut b = SandboxBuilder::master_with_replicas(replicas.max(1));
    let mut parent = "r1".to_string();
    for i in 1..=chained {
        let name = format!("c{i}");
        b = b.replica(&name, &parent);
        parent = name;
    }
    b
}

/// Starts a persistent sandbox in `dir` and describes it.
pub async fn up(dir: &Path, replicas: usize, chained: usize) -> Result<String, orc_testkit::Error> {
    let sb = builder(replicas, chained)
        .persistent_in(dir)
        .start()
        .await?;
    let state = Sandbox::load_state(sb.dir())?;
    Ok(describe(&state, true))
}

/// Stops the sandbox in `dir`.
pub fn down(dir: &Path) -> Result<String, orc_testkit::Error> {
    let state = Sandbox::stop_persisted(dir)?;
    Ok(format!(
        "stopped {} servers and removed {}\n",
        state.instances.len(),
        state.dir.display()
    ))
}

/// `kill -9` of one server (a node name such as `m`, or `host:port`), to
/// try a failover.
pub fn kill(dir: &Path, who: &str) -> Result<String, orc_testkit::Error> {
    let inst = Sandbox::kill_persisted(dir, who)?;
    Ok(format!("killed 127.0.0.1:{} ({})\n", inst.port, inst.name))
}

/// Describes the sandbox in `dir`.
pub fn status(dir: &Path) -> Result<String, orc_testkit::Error> {
    Ok(describe(&Sandbox::load_state(dir)?, false))
}

/// One line per server: `host:port  role  (name, state)`.
pub fn describe(state: &SandboxState, fresh: bool) -> String {
    let key_of = |name: &str| {
        state
            .instances
            .iter()
            .find(|i| i.name == name)
            .map_or_else(|| name.to_string(), |i| format!("127.0.0.1:{}", i.port))
    };
    let mut out = String::new();
    let _ = writeln!(out, "sandbox in {}", state.dir.display());
    for i in &state.instances {
        let role = match &i.source {
            None => "master".to_string(),
            Some(s) => format!("replica of {}", key_of(s)),
        };
        let alive = if is_alive(i.pid) {
            "running"
        } else {
            "stopped"
        };
        let _ = writeln!(
            out,
            "127.0.0.1:{:<6} {role:<28} ({}, {alive})",
            i.port, i.name
        );
    }
    if fresh {
        let _ = writeln!(
            out,
            "topology user: {TOPOLOGY_USER} / {TOPOLOGY_PASSWORD}; stop with: orchestrator sandbox down"
        );
    }
    out
}
