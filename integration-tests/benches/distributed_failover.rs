//! Prints how fast a master crash is recovered in distributed mode, with 1,
//! 2 and 4 probers: every role its own `orchestrator` process (analyzer,
//! recovery, gateway, N probers) over a real nats-server with JetStream,
//! the store on a real MariaDB backend. kill -9 of the master of 1 master +
//! 4 replicas → a new writable master with every other replica replicating
//! from it, measured by polling the servers themselves.
//!
//! Builds the release `orchestrator` and `fleet-sim` binaries first
//! (`integration_tests::build_release_binaries`). `cargo bench -p integration-tests --bench distributed_failover [-- RUNS]`

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::{eventually, settled_master, summarize, workspace_binary};
use orc_testkit::{NatsServer, Sandbox, SandboxBuilder};

/// A role process, killed when dropped.
struct Role(Child);

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn role(conf: &std::path::Path, args: &[&str]) -> anyhow::Result<Role> {
    let child = Command::new(workspace_binary("orchestrator"))
        .arg("--config")
        .arg(conf)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("ORC_BENCH_TRACE").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()?;
    Ok(Role(child))
}

fn gateway_address(role: &mut Role) -> anyhow::Result<String> {
    use std::io::BufRead as _;
    let out = role
        .0
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line)?;
    // "orchestrator: HTTP API on http://host:port/api"
    Ok(line
        .trim()
        .trim_start_matches("orchestrator: HTTP API on ")
        .trim_end_matches("/api")
        .to_string())
}

async fn get(api: &str, path: &str) -> Option<serde_json::Value> {
    let http = integration_tests::pki::http_client();
    let r = http.get(format!("{api}/api/{path}")).send().await.ok()?;
    serde_json::from_slice(&r.bytes().await.ok()?).ok()
}

/// One run: a fresh 1+4 sandbox, fresh roles with `probers` probers; returns
/// kill -9 → every survivor on the new master.
async fn run(
    nats: &NatsServer,
    backend: &Sandbox,
    probers: usize,
    n: usize,
) -> anyhow::Result<Duration> {
    let sb = SandboxBuilder::master_with_replicas(4).start().await?;
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("orchestrator.conf.json");
    let config = serde_json::json!({
        "MySQLTopologyUser": "orchestrator",
        "MySQLTopologyPassword": "orc_topology_password",
        "InstancePollSeconds": 1,
        "ListenAddress": "127.0.0.1:0",
        "GrpcListenAddress": "127.0.0.1:0",
        "MySQLHostnameResolveMethod": "none",
        "NatsUrl": nats.url(),
        "BackendDB": "mysql",
        "MySQLOrchestratorHost": "127.0.0.1",
        "MySQLOrchestratorPort": backend.instance("backend")?.port(),
        "MySQLOrchestratorUser": "root",
        "MySQLOrchestratorPassword": "",
        "MySQLOrchestratorDatabase": format!("orchestrator_{probers}_{n}"),
        "RecoverMasterClusterFilters": ["*"],
        "ReplicationUser": "repl",
        "ReplicationPassword": "repl",
    });
    std::fs::write(&conf, config.to_string())?;
    let mut gateway = role(&conf, &["gateway"])?;
    let api = gateway_address(&mut gateway)?;
    let _analyzer = role(&conf, &["analyzer"])?;
    let _recovery = role(&conf, &["recovery"])?;
    let mut _probers = Vec::new();
    for i in 0..probers {
        let mut c = config.clone();
        c["ProberId"] = format!("p{i}").into();
        let path = dir.path().join(format!("prober-{i}.json"));
        std::fs::write(&path, c.to_string())?;
        _probers.push(role(&path, &["prober"])?);
    }
    let master = sb.key("m")?;
    eventually(Duration::from_secs(30), || async {
        let d = get(&api, &format!("discover/{}", master.replace(':', "/"))).await;
        let all = get(&api, "all-instances").await;
        if std::env::var_os("ORC_BENCH_TRACE").is_some() {
            eprintln!("discover: {d:?}\nall-instances: {all:?}");
        }
        let all = all?;
        let all = all.as_array()?.clone();
        (all.len() == 5 && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("topology never discovered"))?;
    // Membership and the watch connections settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let live = ["r1", "r2", "r3", "r4"];
    let killed = Instant::now();
    sb.kill("m")?;
    while killed.elapsed() < Duration::from_secs(30) {
        if settled_master(&sb, &live).await.is_some() {
            return Ok(killed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    anyhow::bail!("no failover within 30 s")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    integration_tests::build_release_binaries()?;
    let nats = NatsServer::start().await?;
    let backend = SandboxBuilder::new().master("backend").start().await?;
    let mut medians = Vec::new();
    for probers in [1, 2, 4] {
        let mut samples = Vec::new();
        for n in 0..runs {
            samples.push(run(&nats, &backend, probers, n).await?);
        }
        let (median, min, max) = summarize(&samples);
        println!(
            "distributed (separate processes, NATS, MariaDB backend), {probers} prober(s): kill -9 -> every replica on the new master over {runs} runs: median {median:?}, min {min:?}, max {max:?}"
        );
        medians.push(median);
    }
    let one = medians[0];
    let worst = medians.iter().max().copied().unwrap_or_default();
    println!(
        "largest median minus the one-prober median: {:?} (target <= 50 ms)",
        worst.saturating_sub(one)
    );
    println!(
        "distributed_failover: {} spread_ms={}",
        [1, 2, 4]
            .iter()
            .zip(&medians)
            .map(|(p, m)| format!("probers{p}_median_s={:.3}", m.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" "),
        worst.saturating_sub(one).as_millis()
    );
    Ok(())
}
