//! The fleet simulator, read by the real probe over the MySQL wire protocol:
//! every dialect the probe speaks, and every fault the simulator takes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use fleet_sim::{Command, Dialect, FleetSpec, Simulator, Thread};
use orc_model::{Flavor, InstanceKey, ProbeErrorKind, ThreadState};
use orc_mysql::{
    ChangeSource, ConnectOptions, InstanceProbe, Operator, ProbeResult, ProbeSettings,
    StartPosition,
};

async fn fleet(dialect: Dialect) -> Simulator {
    let port = integration_tests::process::free_port();
    Simulator::start(FleetSpec {
        instances: 8,
        cluster_size: 4,
        port,
        dialects: vec![dialect],
        writes_per_second: 100,
        first: 0,
    })
    .await
    .unwrap()
}

fn probe(sim: &Simulator, index: usize) -> InstanceProbe {
    let key = InstanceKey::parse(&sim.with(|f| f.key(index)).unwrap()).unwrap();
    let mut opts = ConnectOptions::tcp(key.hostname(), key.port(), "orchestrator", "secret");
    opts.connect_timeout = Duration::from_millis(500);
    opts.read_timeout = Duration::from_millis(500);
    InstanceProbe::new(key, opts)
}

async fn ok(p: &mut InstanceProbe) -> orc_model::InstanceData {
    match p.probe(&ProbeSettings::default()).await {
        ProbeResult::Ok(d) => d,
        other => panic!("{}: {other:?}", p.key()),
    }
}

#[tokio::test]
async fn the_probe_reads_every_dialect_as_from_a_real_server() {
    for dialect in Dialect::ALL {
        let sim = fleet(dialect).await;
        let m = ok(&mut probe(&sim, 0)).await;
        let r = ok(&mut probe(&sim, 1)).await;
        let want_flavor = if dialect == Dialect::MariaDb {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        };
        assert_eq!(m.flavor, want_flavor, "{dialect:?}");
        assert_eq!(m.version, dialect.version());
        assert!(!m.read_only && r.read_only, "{dialect:?}");
        assert!(m.replication.is_none());
        assert_eq!(m.replicas.len(), 3, "{dialect:?}: {:?}", m.replicas);
        assert!(m.self_coordinates.is_some());
        assert_eq!(
            r.master_key().unwrap().to_string(),
            sim.with(|f| f.key(0)).unwrap()
        );
        let repl = r.replication.as_ref().unwrap();
        assert_eq!(repl.io_thread, ThreadState::Running, "{dialect:?}");
        assert_eq!(repl.sql_thread, ThreadState::Running, "{dialect:?}");
        assert_eq!(repl.master_server_id, 1);
        assert_eq!(r.replication_lag_seconds, Some(0));
        assert!(!r.gtid_executed.is_empty(), "{dialect:?}");
        if dialect == Dialect::MariaDb {
            assert_eq!(repl.using_gtid, "Slave_Pos");
        } else {
            assert!(repl.auto_position, "{dialect:?}");
            assert!(!r.server_uuid.is_empty());
        }
    }
}

#[tokio::test]
async fn faults_show_as_a_real_server_shows_them() {
    let sim = fleet(Dialect::MariaDb).await;
    let (mut m, mut r1, mut r2, mut r3) = (
        probe(&sim, 0),
        probe(&sim, 1),
        probe(&sim, 2),
        probe(&sim, 3),
    );
    ok(&mut m).await;

    sim.command(&Command::Lag(1, 42)).unwrap();
    sim.command(&Command::Break(2, Thread::Sql)).unwrap();
    sim.command(&Command::Errant(3, 2)).unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(ok(&mut r1).await.replication_lag_seconds, Some(42));
    let broken = ok(&mut r2).await.replication.unwrap();
    assert_eq!(broken.sql_thread, ThreadState::Stopped);
    assert_eq!(broken.last_sql_errno, 1062);
    let errant = ok(&mut r3).await;
    assert!(
        errant.gtid_executed.contains(",1-4-2"),
        "{}",
        errant.gtid_executed
    );

    // Hung: the connection stays open and nothing answers.
    sim.command(&Command::Hang(0)).unwrap();
    match m.probe(&ProbeSettings::default()).await {
        ProbeResult::Failed(e) => assert_eq!(e.kind, ProbeErrorKind::Timeout, "{e:?}"),
        other => panic!("a hung server answered: {other:?}"),
    }
    sim.command(&Command::Up(0)).unwrap();
    ok(&mut m).await;

    // Dead, as after kill -9: the open connection is lost, new ones are
    // refused, and its replicas' I/O threads reconnect in vain.
    sim.command(&Command::Die(0)).unwrap();
    match m.probe(&ProbeSettings::default()).await {
        ProbeResult::Failed(e) => assert_eq!(e.kind, ProbeErrorKind::ConnectionLost, "{e:?}"),
        other => panic!("a dead server answered: {other:?}"),
    }
    match m.probe(&ProbeSettings::default()).await {
        ProbeResult::Failed(e) => assert_eq!(e.kind, ProbeErrorKind::Refused, "{e:?}"),
        other => panic!("a dead server answered: {other:?}"),
    }
    let r = ok(&mut r1).await.replication.unwrap();
    assert_eq!(r.io_thread, ThreadState::Connecting);
    assert_eq!(r.last_io_errno, 2003);

    // Change master by command: 5 (cluster two) now replicates from 1.
    sim.command(&Command::Master(5, 1)).unwrap();
    let moved = ok(&mut probe(&sim, 5)).await;
    assert_eq!(
        moved.master_key().unwrap().to_string(),
        sim.with(|f| f.key(1)).unwrap()
    );

    // A dead server comes back (its listener is bound again at once).
    sim.command(&Command::Up(0)).unwrap();
    let mut answered = false;
    for _ in 0..100 {
        if let ProbeResult::Ok(_) = m.probe(&ProbeSettings::default()).await {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered, "a revived server does not answer");
}

#[tokio::test]
async fn the_operator_changes_simulated_servers_with_the_statements_a_failover_runs() {
    let sim = fleet(Dialect::MySql80).await;
    let key = |i| InstanceKey::parse(&sim.with(|f| f.key(i)).unwrap()).unwrap();
    let opts =
        |k: &InstanceKey| ConnectOptions::tcp(k.hostname(), k.port(), "orchestrator", "secret");
    sim.command(&Command::Die(0)).unwrap();
    let new_master = key(1);
    let mut op = Operator::connect(new_master.clone(), &opts(&new_master))
        .await
        .unwrap();
    op.stop_replica().await.unwrap();
    op.reset_replica_all().await.unwrap();
    op.set_read_only(false, true).await.unwrap();
    for i in [2, 3] {
        let k = key(i);
        let mut op = Operator::connect(k.clone(), &opts(&k)).await.unwrap();
        op.stop_replica().await.unwrap();
        op.change_source(&ChangeSource {
            host: new_master.hostname().to_string(),
            port: new_master.port(),
            position: StartPosition::AutoPosition,
            credentials: None,
        })
        .await
        .unwrap();
        op.start_replica().await.unwrap();
    }
    assert!(sim.with(|f| f.is_writable(1)));
    assert_eq!(
        sim.with(|f| (f.source_of(2), f.source_of(3))),
        (Some(1), Some(1))
    );
    let m = ok(&mut probe(&sim, 1)).await;
    assert_eq!(m.replicas.len(), 2);
    assert!(m.replication.is_none());
}

#[tokio::test]
async fn bad_commands_and_taken_addresses_are_refused_clearly() {
    let sim = fleet(Dialect::MariaDb).await;
    let e = sim.with(|f| Command::parse("die 99", f)).unwrap_err();
    assert!(e.contains("no such server"), "{e}");
    let e = sim.command(&Command::Break(0, Thread::Io)).unwrap_err();
    assert!(e.contains("not a replica"), "{e}");
    // A second fleet on the same addresses and port cannot start.
    let again = Simulator::start(FleetSpec {
        instances: 8,
        port: sim.port(),
        ..FleetSpec::default()
    })
    .await;
    assert!(again.is_err());
}
