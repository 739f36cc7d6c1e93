//! The store against a real SQLite file and a real MySQL-protocol server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orc_model::{
    InstanceData, InstanceKey, InstanceSnapshot, InstanceState, ProbeOutcome, ReplicationStatus,
    Timestamp,
};
use orc_store::{BackendConfig, Error, Store, StoredInstance, migrations};
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

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite { use super::*; $(#[tokio::test] async fn $case() { super::$case(sqlite().await).await; })* }
        mod on_mysql { use super::*; $(#[tokio::test] async fn $case() { super::$case(mysql().await).await; })* }
    };
}

both!(
    states_round_trip_and_update,
    deletes_report_what_existed,
    migrations_apply_once_and_survive_reopening,
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
