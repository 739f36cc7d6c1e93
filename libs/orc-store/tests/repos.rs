//! The store against a real SQLite file and a real MySQL-protocol server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orc_model::{
    InstanceData, InstanceKey, InstanceSnapshot, InstanceState, ProbeOutcome, ReplicationStatus,
    Timestamp,
};
use orc_store::{BackendConfig, Changes, Error, Store, StoredInstance, migrations};
use orc_testkit::{Sandbox, SandboxBuilder};

const TIMEOUT: Duration = Duration::from_secs(10);

struct Backend {
    config: BackendConfig,
    _dir: Option<tempfile::TempDir>,
    _server: Option<Sandbox>,
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    Backend {
        config: BackendConfig::Sqlite {
            path: dir.path().join("sub/orchestrator.sqlite3"),
        },
        _dir: Some(dir),
        _server: None,
    }
}

async fn mysql() -> Backend {
    let sb = SandboxBuilder::new()
        .master("backend")
        .start()
        .await
        .unwrap();
    Backend {
        config: BackendConfig::Mysql {
            host: "127.0.0.1".into(),
            port: sb.instance("backend").unwrap().port(),
            database: "orchestrator".into(),
            user: "root".into(),
            password: String::new(),
            tls: None,
        },
        _dir: None,
        _server: Some(sb),
    }
}

fn instance(port: u16, master: Option<u16>, at: i64) -> StoredInstance {
    let key = InstanceKey::new("127.0.0.1", port).unwrap();
    let mut state = InstanceState::new(key.clone(), Timestamp(at - 10));
    state.apply(&InstanceSnapshot {
        key,
        vantage: "p1".into(),
        started_at: Timestamp(at - 2),
        observed_at: Timestamp(at),
        outcome: ProbeOutcome::Ok,
        data: Some(InstanceData {
            server_id: u32::from(port),
            gtid_executed: "0-1-42".into(),
            replication: master.map(|m| ReplicationStatus {
                master_host: "127.0.0.1".into(),
                master_port: m,
                ..Default::default()
            }),
            ..Default::default()
        }),
        one_off: false,
    });
    StoredInstance {
        state,
        cluster_name: "127.0.0.1:1000".into(),
    }
}

async fn states_round_trip_and_update(b: Backend) {
    let store = Store::open(&b.config, TIMEOUT).await.unwrap();
    let a = instance(1000, None, 5_000);
    let r = instance(1001, Some(1000), 5_000);
    store
        .instances()
        .upsert(&[a.clone(), r.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.instances().get(&a.state.key).await.unwrap(),
        Some(a.clone())
    );
    let newer = instance(1001, Some(1000), 9_000);
    store
        .instances()
        .upsert(std::slice::from_ref(&newer))
        .await
        .unwrap();
    let got = store.instances().get(&r.state.key).await.unwrap().unwrap();
    assert_eq!(got.state.last_seen, Some(Timestamp(9_000)));
    let mut all = store.instances().all().await.unwrap();
    all.sort_by(|x, y| x.state.key.cmp(&y.state.key));
    assert_eq!(all, vec![a, newer]);
}

async fn many_are_read_by_key_across_statements(b: Backend) {
    let store = Store::open(&b.config, TIMEOUT).await.unwrap();
    let n = u16::try_from(orc_store::KEYS_PER_READ).unwrap() + 20;
    let stored: Vec<StoredInstance> = (0..n).map(|i| instance(10_000 + i, None, 1_000)).collect();
    store.instances().upsert(&stored).await.unwrap();
    // Every other stored key, past one statement's worth, plus keys never
    // stored (same host, other ports; another host, same port).
    let mut wanted: Vec<InstanceKey> = stored
        .iter()
        .step_by(2)
        .map(|s| s.state.key.clone())
        .collect();
    wanted.push(InstanceKey::new("127.0.0.1", 9_999).unwrap());
    wanted.push(InstanceKey::new("127.0.0.2", 10_000).unwrap());
    let mut got = store.instances().get_many(&wanted).await.unwrap();
    got.sort_by(|x, y| x.state.key.cmp(&y.state.key));
    let expected: Vec<StoredInstance> = stored.iter().step_by(2).cloned().collect();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
    assert!(store.instances().get_many(&[]).await.unwrap().is_empty());
}

async fn deletes_report_what_existed(b: Backend) {
    let store = Store::open(&b.config, TIMEOUT).await.unwrap();
    let a = instance(2000, None, 1_000);
    store
        .instances()
        .upsert(std::slice::from_ref(&a))
        .await
        .unwrap();
    let unknown = InstanceKey::new("nowhere", 1).unwrap();
    assert_eq!(
        store
            .instances()
            .delete(std::slice::from_ref(&unknown))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .instances()
            .delete(&[a.state.key.clone(), unknown])
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.instances().get(&a.state.key).await.unwrap(), None);
}

fn rows(changes: Changes) -> (bool, Vec<(u16, Option<Timestamp>)>) {
    let (full, items) = match changes {
        Changes::Full(v) => (true, v),
        Changes::Since(v) => (false, v),
    };
    let mut out: Vec<_> = items
        .into_iter()
        .map(|i| (i.state.key.port(), i.state.last_seen))
        .collect();
    out.sort_unstable();
    (full, out)
}

async fn readers_fetch_only_what_changed(b: Backend) {
    let store = Store::open(&b.config, TIMEOUT).await.unwrap();
    let repo = store.instances();
    let (g0, c) = repo.changes(None).await.unwrap();
    assert_eq!(rows(c), (true, vec![]));
    repo.upsert(&[
        instance(3000, None, 1_000),
        instance(3001, Some(3000), 1_000),
    ])
    .await
    .unwrap();
    let (g1, c) = repo.changes(Some(g0)).await.unwrap();
    let seen = Some(Timestamp(1_000));
    assert_eq!(rows(c), (false, vec![(3000, seen), (3001, seen)]));
    let (g2, c) = repo.changes(Some(g1)).await.unwrap();
    assert_eq!(
        (g2, rows(c)),
        (g1, (false, vec![])),
        "nothing new, nothing read"
    );
    repo.upsert(&[instance(3001, Some(3000), 2_000)])
        .await
        .unwrap();
    let (g3, c) = repo.changes(Some(g2)).await.unwrap();
    assert_eq!(rows(c), (false, vec![(3001, Some(Timestamp(2_000)))]));
    // Deleting nothing changes nothing; a deletion makes the next read whole.
    let nowhere = InstanceKey::new("nowhere", 1).unwrap();
    repo.delete(&[nowhere]).await.unwrap();
    let (g4, c) = repo.changes(Some(g3)).await.unwrap();
    assert_eq!((g4, rows(c)), (g3, (false, vec![])));
    let gone = InstanceKey::new("127.0.0.1", 3000).unwrap();
    repo.delete(&[gone]).await.unwrap();
    let (_, c) = repo.changes(Some(g4)).await.unwrap();
    assert_eq!(rows(c), (true, vec![(3001, Some(Timestamp(2_000)))]));
}

/// Two writers (replicated analyzers) and a reader that follows only what
/// changed: the reader ends with every row's last write, none skipped.
async fn a_follower_misses_no_concurrent_write(b: Backend) {
    const ROUNDS: i64 = 40;
    let mut writers = Vec::new();
    for w in 0..2u16 {
        let store = Store::open(&b.config, TIMEOUT).await.unwrap();
        writers.push(tokio::spawn(async move {
            for round in 1..=ROUNDS {
                let batch: Vec<_> = (0..10)
                    .map(|i| instance(4000 + w * 100 + i, None, 1_000 * round))
                    .collect();
                store.instances().upsert(&batch).await.unwrap();
            }
        }));
    }
    let reader = Store::open(&b.config, TIMEOUT).await.unwrap();
    let mut known = std::collections::BTreeMap::new();
    let mut at = None;
    let mut follow = async |known: &mut std::collections::BTreeMap<u16, Option<Timestamp>>| {
        let (g, c) = reader.instances().changes(at).await.unwrap();
        at = Some(g);
        let (full, items) = rows(c);
        if full {
            known.clear();
        }
        known.extend(items);
    };
    while writers.iter().any(|w| !w.is_finished()) {
        follow(&mut known).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    follow(&mut known).await;
    assert_eq!(known.len(), 20);
    let last = Some(Timestamp(1_000 * ROUNDS));
    let behind: Vec<_> = known.iter().filter(|(_, seen)| **seen != last).collect();
    assert!(
        behind.is_empty(),
        "rows whose last write the reader missed: {behind:?}"
    );
}

async fn migrations_apply_once_and_survive_reopening(b: Backend) {
    let store = Store::open(&b.config, TIMEOUT).await.unwrap();
    let latest = migrations::MIGRATIONS.last().unwrap().version;
    assert_eq!(migrations::current_version(&store).await.unwrap(), latest);
    store
        .instances()
        .upsert(&[instance(3000, None, 1)])
        .await
        .unwrap();
    store.close().await;
    let again = Store::open(&b.config, TIMEOUT).await.unwrap();
    assert_eq!(migrations::current_version(&again).await.unwrap(), latest);
    assert_eq!(again.instances().all().await.unwrap().len(), 1);
}

fn recovery(uid: &str, cluster: &str, failed: u16, started: i64) -> orc_model::RecoveryRecord {
    orc_model::RecoveryRecord {
        id: 0,
        uid: uid.into(),
        cluster: cluster.into(),
        cluster_alias: cluster.into(),
        failed: InstanceKey::new("127.0.0.1", failed).unwrap(),
        analysis: "DeadMaster".into(),
        analysis_json: "{}".into(),
        kind: orc_model::RecoveryKind::MasterRecovery,
        recovery_type: "MasterRecoveryGTID".into(),
        command_hint: String::new(),
        is_active: true,
        is_successful: false,
        successor: None,
        successor_alias: String::new(),
        lost_replicas: vec![],
        participating: vec![],
        errors: vec![],
        started_at: Timestamp(started),
        ended_at: None,
        block_until: Timestamp(started + 3_600_000),
        acknowledged: false,
        acknowledged_at: None,
        acknowledged_by: String::new(),
        acknowledged_comment: String::new(),
        processing_node: "node".into(),
        lease_revision: 7,
        detection_id: "d1".into(),
        decision_json: "{}".into(),
    }
}

async fn recoveries_block_until_acknowledged(b: Backend) {
    use orc_store::AckScope;
    let store = Store::open(&b.config, TIMEOUT).await.unwrap();
    let repo = store.recoveries();
    let first = repo
        .insert(&recovery("u1", "c1", 1000, 1_000))
        .await
        .unwrap();
    assert!(first.id > 0);
    repo.insert(&recovery("u2", "c2", 2000, 2_000))
        .await
        .unwrap();
    let blocking = repo.blocking(Some("c1"), Timestamp(5_000)).await.unwrap();
    assert_eq!(
        blocking.iter().map(|r| r.uid.as_str()).collect::<Vec<_>>(),
        vec!["u1"]
    );
    assert!(
        repo.blocking(Some("c1"), Timestamp(1_000 + 3_600_001))
            .await
            .unwrap()
            .is_empty(),
        "the period ends"
    );
    repo.add_step("u1", Timestamp(1_001), 7, "promoted r1")
        .await
        .unwrap();
    repo.add_step("u1", Timestamp(1_002), 8, "repointed r2")
        .await
        .unwrap();
    let steps = repo.steps("u1").await.unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| (s.fencing_token, s.message.as_str()))
            .collect::<Vec<_>>(),
        vec![(7, "promoted r1"), (8, "repointed r2")]
    );
    let acked = repo
        .acknowledge(
            &AckScope::Cluster("c1".into()),
            "ops",
            "checked",
            Timestamp(9_000),
        )
        .await
        .unwrap();
    assert_eq!(acked.len(), 1);
    assert!(
        repo.blocking(Some("c1"), Timestamp(9_500))
            .await
            .unwrap()
            .is_empty()
    );
    let got = repo.get("u1").await.unwrap().unwrap();
    assert!(
        got.acknowledged && got.acknowledged_by == "ops" && got.acknowledged_comment == "checked"
    );
    assert_eq!(
        repo.acknowledge(&AckScope::All, "ops", "all", Timestamp(9_000))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(repo.list(None).await.unwrap().len(), 2);
}

async fn detections_register_once_and_switches_persist(b: Backend) {
    let store = Store::open(&b.config, TIMEOUT).await.unwrap();
    let repo = store.recoveries();
    let d = orc_model::DetectionRecord {
        id: 0,
        detection_id: "det-1".into(),
        instance: InstanceKey::new("127.0.0.1", 1).unwrap(),
        cluster: "c".into(),
        analysis: "DeadMaster".into(),
        is_actionable: true,
        detected_at: Timestamp(5),
        analysis_json: "{}".into(),
    };
    assert!(repo.register_detection(&d).await.unwrap());
    assert!(!repo.register_detection(&d).await.unwrap());
    assert_eq!(repo.detections(Some("c")).await.unwrap().len(), 1);
    assert!(!repo.globally_disabled().await.unwrap());
    repo.set_globally_disabled(true, Timestamp(1))
        .await
        .unwrap();
    repo.set_globally_disabled(true, Timestamp(2))
        .await
        .unwrap();
    assert!(repo.globally_disabled().await.unwrap());
    repo.set_globally_disabled(false, Timestamp(3))
        .await
        .unwrap();
    assert!(!repo.globally_disabled().await.unwrap());
    let blocked = orc_model::BlockedRecovery {
        failed: d.instance.clone(),
        cluster: "c".into(),
        analysis: "DeadMaster".into(),
        blocked_at: Timestamp(9),
        blocking_uid: "u1".into(),
    };
    repo.record_blocked(&blocked).await.unwrap();
    repo.record_blocked(&blocked).await.unwrap();
    assert_eq!(repo.blocked(None).await.unwrap(), vec![blocked.clone()]);
    repo.clear_blocked(&d.instance).await.unwrap();
    assert!(repo.blocked(None).await.unwrap().is_empty());
    let key = InstanceKey::new("db", 3306).unwrap();
    let m = store
        .metadata()
        .update(&key, Timestamp(1), |m| {
            m.tags.insert("role".into(), "primary".into());
        })
        .await
        .unwrap();
    assert_eq!(store.metadata().all().await.unwrap()[&key], m);
}

async fn concurrent_metadata_updates_all_land(b: Backend) {
    let store = std::sync::Arc::new(Store::open(&b.config, TIMEOUT).await.unwrap());
    let key = InstanceKey::new("127.0.0.1", 3306).unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, key) = (store.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            store
                .metadata()
                .update(&key, Timestamp(i), |m| {
                    let n: u32 = m.tags.get("n").and_then(|v| v.parse().ok()).unwrap_or(0);
                    m.tags.insert("n".into(), (n + 1).to_string());
                    m.tags.insert(format!("writer-{i}"), String::new());
                })
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let m = store.metadata().get(&key).await.unwrap();
    assert_eq!(m.tags["n"], "8", "no update lost: {m:?}");
    assert_eq!(m.tags.len(), 9);
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite { use super::*; $(#[tokio::test] async fn $case() { super::$case(sqlite().await).await; })* }
        mod on_mysql { use super::*; $(#[tokio::test] async fn $case() { super::$case(mysql().await).await; })* }
    };
}

both!(
    states_round_trip_and_update,
    many_are_read_by_key_across_statements,
    deletes_report_what_existed,
    readers_fetch_only_what_changed,
    a_follower_misses_no_concurrent_write,
    migrations_apply_once_and_survive_reopening,
    recoveries_block_until_acknowledged,
    detections_register_once_and_switches_persist,
    concurrent_metadata_updates_all_land,
);

#[tokio::test]
async fn wrong_backend_credentials_are_a_clear_open_error() {
    let b = mysql().await;
    let BackendConfig::Mysql {
        host,
        port,
        database,
        ..
    } = b.config.clone()
    else {
        unreachable!()
    };
    let bad = BackendConfig::Mysql {
        host,
        port,
        database,
        user: "nobody".into(),
        password: "wrong".into(),
        tls: None,
    };
    let err = Store::open(&bad, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("Access denied"), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "passwords never appear: {err}"
    );
}

#[tokio::test]
async fn an_unwritable_sqlite_path_is_a_clear_open_error() {
    let bad = BackendConfig::Sqlite {
        path: "/proc/orchestrator/x.sqlite3".into(),
    };
    let err = Store::open(&bad, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("/proc/orchestrator"), "{err}");
}

async fn processes_opening_together_migrate_once(b: Backend) {
    let mut handles = Vec::new();
    for _ in 0..4 {
        let config = b.config.clone();
        handles.push(tokio::spawn(
            async move { Store::open(&config, TIMEOUT).await },
        ));
    }
    for h in handles {
        let store = h.await.unwrap().expect("every concurrent open succeeds");
        let latest = migrations::MIGRATIONS.last().unwrap().version;
        assert_eq!(migrations::current_version(&store).await.unwrap(), latest);
    }
}

mod concurrent {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        processes_opening_together_migrate_once(sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_mysql() {
        processes_opening_together_migrate_once(mysql().await).await;
    }
}
