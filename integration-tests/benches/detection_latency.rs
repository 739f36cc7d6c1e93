//! Prints how fast failures are detected on real servers:
//! - kill -9 of a master → `DeadMaster` finding, and → `DeadMaster` visible
//!   through `/api/replication-analysis` and gRPC `Analysis/ReplicationAnalysis`
//!   (each polled every 2 ms), over several runs;
//! - probers cut off from a replicating master (firewall) → `UnreachableMaster`.
//!
//! Each run uses a fresh 1 master + 3 replica sandbox and a fresh
//! orchestrator (in-process bus, SQLite, InstancePollSeconds 1,
//! MySQLConnectTimeoutSeconds 1, MySQLDiscoveryReadTimeoutSeconds 1).
//!
//! `cargo bench -p integration-tests --bench detection_latency [-- RUNS]`

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use integration_tests::{Firewall, Orc, eventually, follow_findings, summarize, test_config};
use orc_testkit::SandboxBuilder;

async fn start(master: &str, resolve: &str) -> anyhow::Result<Orc> {
    let dir = tempfile::tempdir()?;
    let mut config = test_config(&dir.path().join("o.sqlite3"), 1.0);
    config["MySQLDiscoveryReadTimeoutSeconds"] = 1.into();
    config["MySQLHostnameResolveMethod"] = resolve.into();
    let orc = Orc::start_with(config, orchestrator::roles::Roles::ALL, None, Some(dir)).await?;
    let (code, _, err) = orc.client(&["-c", "discover", "-i", master]).await;
    anyhow::ensure!(code == 0, "discover: {err}");
    eventually(Duration::from_secs(10), || async {
        let (_, all) = orc.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        (all.len() == 4 && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("topology never healthy"))?;
    // Let the watch connection settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(orc)
}

async fn wait_for(orc: &Orc, code: &str, timeout: Duration) -> anyhow::Result<()> {
    let mut findings = follow_findings(orc).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    while let Ok(Ok(Some(f))) = tokio::time::timeout_at(deadline, findings.message()).await {
        if f.code == code {
            return Ok(());
        }
    }
    anyhow::bail!("no {code} within {timeout:?}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let mut crash = Vec::new();
    let mut api = Vec::new();
    let mut grpc = Vec::new();
    for _ in 0..runs {
        let sb = SandboxBuilder::master_with_replicas(3).start().await?;
        let orc = start(&sb.key("m")?, "none").await?;
        let follow = follow_findings(&orc).await?;
        drop(follow);
        let waiter = {
            let orc_ref = &orc;
            async move {
                wait_for(orc_ref, "DeadMaster", Duration::from_secs(30))
                    .await
                    .map(|()| Instant::now())
            }
        };
        let http = integration_tests::pki::http_client();
        let url = format!("{}/replication-analysis", orc.api());
        let api_waiter = async {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(r) = http.get(&url).send().await
                    && let Ok(body) = r.bytes().await
                    && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                    && v["Details"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|e| e["Analysis"] == "DeadMaster"))
                {
                    return Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            None
        };
        let mut analysis =
            orc_proto::v1::analysis_client::AnalysisClient::connect(format!("http://{}", orc.grpc))
                .await?;
        let grpc_waiter = async {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(list) = analysis
                    .replication_analysis(orc_proto::v1::AnalysisRequest::default())
                    .await
                    && list
                        .get_ref()
                        .entries
                        .iter()
                        .any(|e| e.code == "DeadMaster")
                {
                    return Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            None
        };
        let killed = Instant::now();
        let mut killed_at = killed;
        let (res, seen_in_api, seen_in_grpc, ()) =
            tokio::join!(waiter, api_waiter, grpc_waiter, async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                killed_at = Instant::now();
                let _ = sb.kill("m");
            });
        crash.push(res?.saturating_duration_since(killed_at));
        let seen =
            seen_in_api.ok_or_else(|| anyhow::anyhow!("DeadMaster never shown by the API"))?;
        api.push(seen.saturating_duration_since(killed_at));
        let seen =
            seen_in_grpc.ok_or_else(|| anyhow::anyhow!("DeadMaster never shown over gRPC"))?;
        grpc.push(seen.saturating_duration_since(killed_at));
        orc.stop().await?;
    }
    let finding_median = summarize(&crash).0;
    let api_median = summarize(&api).0;
    let grpc_median = summarize(&grpc).0;
    let (median, min, max) = summarize(&crash);
    println!(
        "kill -9 -> DeadMaster finding over {runs} runs: median {median:?}, min {min:?}, max {max:?} \
         (target median <= 0.5 s; orchestrator 3.2.6 with 1 s polling: 2.9 s)"
    );
    let (median, min, max) = summarize(&api);
    println!(
        "kill -9 -> DeadMaster in /api/replication-analysis over {runs} runs: median {median:?}, min {min:?}, max {max:?} \
         (target median <= 50 ms)"
    );
    let (median, min, max) = summarize(&grpc);
    println!(
        "kill -9 -> DeadMaster in gRPC Analysis/ReplicationAnalysis over {runs} runs: median {median:?}, min {min:?}, max {max:?} \
         (target median <= 50 ms)"
    );

    let alt = Ipv4Addr::new(127, 0, 0, 2);
    let mut partition = Vec::new();
    for _ in 0..runs.min(5) {
        let sb = SandboxBuilder::master_with_replicas(3)
            .listen_also_on(alt)
            .start()
            .await?;
        let port = sb.instance("m")?.port();
        let orc = start(&format!("127.0.0.2:{port}"), "@@report_host").await?;
        let waiter = async { wait_for(&orc, "UnreachableMaster", Duration::from_secs(30)).await };
        let cut = Instant::now();
        let mut guard = None;
        let (res, ()) = tokio::join!(waiter, async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            guard = Firewall::block(alt, port).ok();
        });
        res?;
        partition.push(cut.elapsed().saturating_sub(Duration::from_millis(50)));
        drop(guard);
        orc.stop().await?;
    }
    let (median, min, max) = summarize(&partition);
    println!(
        "probers cut off (replicas replicating) -> UnreachableMaster over {} runs: median {median:?}, min {min:?}, max {max:?} \
         (orchestrator 3.2.6: 13 s)",
        partition.len()
    );
    println!(
        "detection: dead_master_median_s={:.3} api_median_s={:.3} grpc_median_s={:.3} unreachable_master_median_s={:.3}",
        finding_median.as_secs_f64(),
        api_median.as_secs_f64(),
        grpc_median.as_secs_f64(),
        median.as_secs_f64()
    );
    Ok(())
}
