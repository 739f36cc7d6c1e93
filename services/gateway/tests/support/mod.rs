//! A real gateway on port-0 listeners over an in-process bus and a
//! temporary SQLite store, a seeded topology (master 127.0.0.1:22101 with
//! replicas 22102 and 22103), recovery records, and a stand-in recovery
//! service that records the commands it gets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orc_bus::{Bus, LocalBus, subjects};
use orc_model::{
    InstanceData, InstanceKey, InstanceSnapshot, InstanceState, ProbeOutcome, RecoveryKind,
    RecoveryRecord, ReplicationStatus, ThreadState, Timestamp,
};
use orc_proto::v1 as wire;
use orc_store::{BackendConfig, Store, StoredInstance};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The master of the seeded cluster (and the cluster's name).
pub const MASTER: u16 = 22101;
/// The cluster's name.
pub const CLUSTER: &str = "127.0.0.1:22101";

/// A gateway running in this process.
pub struct Gw {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub bus: Arc<LocalBus>,
    pub store: Store,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), gateway::Error>>,
    _dir: tempfile::TempDir,
}

pub fn k(port: u16) -> InstanceKey {
    InstanceKey::new("127.0.0.1", port).unwrap()
}

pub fn now() -> Timestamp {
    orc_runtime::wall_clock()
}

fn data(master: Option<u16>, replicas: &[u16]) -> InstanceData {
    InstanceData {
        server_id: 1,
        version: "10.11.9-MariaDB-log".into(),
        read_only: master.is_some(),
        log_bin: true,
        log_replica_updates: true,
        binlog_format: "ROW".into(),
        replication: master.map(|m| ReplicationStatus {
            master_host: "127.0.0.1".into(),
            master_port: m,
            io_thread: ThreadState::Running,
            sql_thread: ThreadState::Running,
            seconds_behind_master: Some(0),
            ..Default::default()
        }),
        replicas: replicas.iter().map(|p| k(*p)).collect(),
        replication_lag_seconds: master.map(|_| 0),
        ..Default::default()
    }
}

/// A stored instance probed successfully at `at`.
pub fn stored(port: u16, master: Option<u16>, replicas: &[u16], at: Timestamp) -> StoredInstance {
    let mut state = InstanceState::new(k(port), at.minus(Duration::from_secs(1)));
    state.apply(&InstanceSnapshot {
        key: k(port),
        vantage: "p".into(),
        started_at: at.minus(Duration::from_millis(5)),
        observed_at: at,
        outcome: ProbeOutcome::Ok,
        data: Some(data(master, replicas)),
        one_off: false,
    });
    StoredInstance {
        state,
        cluster_name: CLUSTER.into(),
    }
}

/// A recovery of the seeded cluster's master, unacknowledged, blocking for an hour.
pub fn recovery(uid: &str, cluster: &str, failed: u16, successor: Option<u16>) -> RecoveryRecord {
    let started = now();
    RecoveryRecord {
        id: 0,
        uid: uid.into(),
        cluster: cluster.into(),
        cluster_alias: cluster.into(),
        failed: k(failed),
        analysis: "DeadMaster".into(),
        analysis_json: String::new(),
        kind: RecoveryKind::MasterRecovery,
        recovery_type: "MasterRecoveryGTID".into(),
        command_hint: String::new(),
        is_active: false,
        is_successful: successor.is_some(),
        successor: successor.map(k),
        successor_alias: String::new(),
        lost_replicas: Vec::new(),
        participating: vec![k(failed)],
        errors: Vec::new(),
        started_at: started,
        ended_at: Some(started),
        block_until: started.plus(Duration::from_secs(3600)),
        acknowledged: false,
        acknowledged_at: None,
        acknowledged_by: String::new(),
        acknowledged_comment: String::new(),
        processing_node: "node-1".into(),
        lease_revision: 5,
        detection_id: format!("det-{uid}"),
        decision_json: String::new(),
    }
}

impl Gw {
    /// Starts a gateway over a store holding the seeded cluster.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &BackendConfig::Sqlite {
                path: dir.path().join("orc.sqlite3"),
            },
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let at = now();
        store
            .instances()
            .upsert(&[
                stored(MASTER, None, &[22102, 22103], at),
                stored(22102, Some(MASTER), &[], at),
                stored(22103, Some(MASTER), &[], at),
            ])
            .await
            .unwrap();
        let config = orc_runtime::Config {
            instance_poll_seconds: 60.0,
            ..Default::default()
        };
        let mut cfg = gateway::GatewayConfig::from_config(&config).unwrap();
        cfg.command_timeout = Duration::from_secs(5);
        cfg.recovery_timeout = Duration::from_secs(10);
        let bus = Arc::new(LocalBus::new());
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (http_addr, grpc_addr) = (http.local_addr().unwrap(), grpc.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway::run(
            cfg,
            bus.clone(),
            store.clone(),
            gateway::Listeners { http, grpc },
            shutdown.clone(),
        ));
        Self {
            http: http_addr,
            grpc: grpc_addr,
            bus,
            store,
            shutdown,
            task,
            _dir: dir,
        }
    }

    /// `http://<addr>/api`.
    pub fn api(&self) -> String {
        format!("http://{}/api", self.http)
    }

    /// GETs an API path: (HTTP status, JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_with(path, &[]).await
    }

    /// GETs an API path with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}/{}", self.api(), path.trim_start_matches('/'));
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let resp = orc_client::fetch::get(&url, &headers, Duration::from_secs(30))
            .await
            .unwrap();
        let body = serde_json::from_slice(&resp.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&resp.body).into_owned()));
        (resp.status, body)
    }

    /// GETs a path that must succeed with orchestrator's envelope; returns it.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(
            (status, &body["Code"]),
            (200, &Value::from("OK")),
            "{path}: {body}"
        );
        body
    }

    /// GETs a path that must fail; returns the envelope's message.
    pub async fn error(&self, path: &str, needle: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["Code"], "ERROR", "{path}: {body}");
        let message = body["Message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{path}: {message:?} should mention {needle:?}"
        );
        body
    }

    /// Runs orchestrator-client against this gateway: (status, stdout, stderr).
    pub async fn client(&self, args: &[&str]) -> (i32, String, String) {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env = orc_client::Env {
            api: Some(self.api()),
            retries: Some(0),
            user: Some("tester".into()),
            ..Default::default()
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = orc_client::run(&argv, &env, &mut out, &mut err).await;
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    /// Stores recoveries; returns them with their ids.
    pub async fn insert(&self, records: &[RecoveryRecord]) -> Vec<RecoveryRecord> {
        let mut out = Vec::new();
        for r in records {
            out.push(self.store.recoveries().insert(r).await.unwrap());
        }
        out
    }

    /// Stops the gateway.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

async fn next_payload(sub: &mut orc_bus::Subscription) -> Option<orc_bus::Message> {
    tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .ok()?
}

/// The next `RecoveryRetry` on a subscription, within 2 s.
pub async fn next_retry(sub: &mut orc_bus::Subscription) -> Option<wire::RecoveryRetry> {
    let msg = next_payload(sub).await?;
    orc_bus::decode(&msg.subject, &msg.payload).ok()
}

/// The next `MetadataChanged` on a subscription, within 2 s.
pub async fn next_metadata(sub: &mut orc_bus::Subscription) -> Option<wire::MetadataChanged> {
    let msg = next_payload(sub).await?;
    orc_bus::decode(&msg.subject, &msg.payload).ok()
}

/// A stand-in recovery service: answers every command with `reply` and
/// records what it got.
pub struct Responder {
    pub received: Arc<Mutex<Vec<wire::RecoveryCommand>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Responder {
    /// Subscribes on the bus and answers until dropped.
    pub async fn start(
        bus: &Arc<LocalBus>,
        reply: impl Fn(&wire::RecoveryCommand) -> wire::RecoveryCommandReply + Send + 'static,
    ) -> Self {
        let mut sub = bus
            .queue_subscribe(subjects::RECOVERY_COMMAND, subjects::RECOVERIES)
            .await
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (bus, log) = (bus.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let cmd: wire::RecoveryCommand =
                    orc_bus::decode(&msg.subject, &msg.payload).unwrap();
                let answer = reply(&cmd);
                log.lock().unwrap().push(cmd);
                bus.respond(&msg, orc_bus::encode(&answer)).await.unwrap();
            }
        });
        Self { received, task }
    }

    /// The commands received so far.
    pub fn commands(&self) -> Vec<wire::RecoveryCommand> {
        self.received.lock().unwrap().clone()
    }

    /// The last command received.
    pub fn last(&self) -> wire::RecoveryCommand {
        self.commands().pop().expect("a command")
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A successful reply promoting the designated instance (else 22102), with
/// the recovery it ran, or the plan for a dry run.
pub fn promote(cmd: &wire::RecoveryCommand) -> wire::RecoveryCommandReply {
    let successor = cmd
        .designated
        .as_ref()
        .map(|k| InstanceKey::try_from(k).unwrap())
        .unwrap_or_else(|| k(22102));
    let failed = cmd
        .instance
        .as_ref()
        .map(|k| InstanceKey::try_from(k).unwrap())
        .unwrap_or_else(|| k(MASTER));
    if cmd.dry_run {
        return wire::RecoveryCommandReply {
            plan: Some((&failover_plan(&failed, &successor)).into()),
            successor: Some((&successor).into()),
            ..Default::default()
        };
    }
    let mut r = recovery(
        &format!("uid-{}", cmd.kind),
        &cmd.cluster,
        failed.port(),
        None,
    );
    r.id = 77;
    r.successor = Some(successor.clone());
    r.is_successful = true;
    r.command_hint = "graceful-master-takeover".into();
    wire::RecoveryCommandReply {
        recovery: Some((&r).into()),
        successor: Some((&successor).into()),
        ..Default::default()
    }
}

/// A (stepless) failover plan promoting `successor`, with its decision.
pub fn failover_plan(failed: &InstanceKey, successor: &InstanceKey) -> orc_planner::Plan {
    let mut plan = orc_planner::Plan::new(
        orc_planner::Intent::MasterFailover {
            failed: failed.clone(),
            designated: Some(successor.clone()),
            co_master: false,
            lite: false,
        },
        orc_planner::Method::Gtid,
        format!("promote {successor}"),
    );
    plan.successor = Some(successor.clone());
    plan.decision = Some(orc_promotion::PromotionDecision {
        promote: successor.clone(),
        ideal: None,
        ranking: vec![orc_promotion::Ranked {
            key: successor.clone(),
            eligible: true,
            vetoes: Vec::new(),
            reasons: vec!["designated".into()],
        }],
        lost: Vec::new(),
        gtid: true,
    });
    plan
}
