use super::*;

fn fleet(dialect: Dialect) -> Fleet {
    Fleet::new(&FleetSpec {
        instances: 8,
        cluster_size: 4,
        port: 13306,
        dialects: vec![dialect],
        writes_per_second: 1000,
        first: 0,
    })
}

fn rows(reply: Reply) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    match reply {
        Reply::Rows { columns, rows } => (columns, rows),
        other => panic!("expected rows, got {other:?}"),
    }
}

fn cell(reply: Reply, column: &str) -> Option<String> {
    let (columns, rows) = rows(reply);
    let at = columns
        .iter()
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("no column {column} in {columns:?}"));
    rows.first().and_then(|r| r[at].clone())
}

#[test]
fn clusters_are_a_writable_master_and_read_only_replicas() {
    let mut f = fleet(Dialect::MariaDb);
    let mut s = SessionVars::default();
    assert_eq!(f.masters(), vec![0, 4]);
    let ro = |f: &mut Fleet, s: &mut SessionVars, i| {
        cell(f.execute(i, s, "SELECT @@global.read_only AS ro"), "ro")
    };
    assert_eq!(ro(&mut f, &mut s, 0).as_deref(), Some("0"));
    assert_eq!(ro(&mut f, &mut s, 1).as_deref(), Some("1"));
    let (_, hosts) = rows(f.execute(0, &mut s, "SHOW SLAVE HOSTS"));
    assert_eq!(hosts.len(), 3);
    assert_eq!(hosts[0][1].as_deref(), Some("127.1.0.2"));
    let status = f.execute(1, &mut s, "SHOW ALL SLAVES STATUS");
    assert_eq!(
        cell(status.clone(), "Master_Host").as_deref(),
        Some("127.1.0.1")
    );
    assert_eq!(cell(status, "Slave_IO_Running").as_deref(), Some("Yes"));
}

#[test]
fn each_dialect_answers_its_own_statements_and_refuses_the_others() {
    let mut s = SessionVars::default();
    let mut maria = fleet(Dialect::MariaDb);
    assert!(matches!(
        maria.execute(1, &mut s, "SHOW REPLICA STATUS"),
        Reply::Rows { .. }
    ));
    assert!(matches!(
        maria.execute(1, &mut s, "SELECT @@global.gtid_mode"),
        Reply::Error(1193, _)
    ));
    let mut my57 = fleet(Dialect::MySql57);
    assert!(matches!(
        my57.execute(1, &mut s, "SHOW ALL SLAVES STATUS"),
        Reply::Error(1064, _)
    ));
    assert!(matches!(
        my57.execute(1, &mut s, "SHOW REPLICA STATUS"),
        Reply::Error(1064, _)
    ));
    let r = my57.execute(1, &mut s, "SHOW SLAVE STATUS");
    assert!(cell(r.clone(), "Executed_Gtid_Set").is_some_and(|g| g.contains(":1-")));
    assert_eq!(
        cell(r, "Master_UUID").as_deref(),
        Some("00000000-0000-4000-8000-000000000001")
    );
    let mut my84 = fleet(Dialect::MySql84);
    assert!(matches!(
        my84.execute(1, &mut s, "SHOW SLAVE STATUS"),
        Reply::Error(1064, _)
    ));
    let r = my84.execute(1, &mut s, "SHOW REPLICA STATUS");
    assert_eq!(
        cell(r.clone(), "Replica_IO_Running").as_deref(),
        Some("Yes")
    );
    assert_eq!(cell(r, "Source_Port").as_deref(), Some("13306"));
    assert!(matches!(
        my84.execute(0, &mut s, "SHOW BINARY LOG STATUS"),
        Reply::Rows { .. }
    ));
    let mut my80 = fleet(Dialect::MySql80);
    assert!(matches!(
        my80.execute(0, &mut s, "SHOW BINARY LOG STATUS"),
        Reply::Error(1064, _)
    ));
    let (cols, _) = rows(my80.execute(0, &mut s, "SHOW REPLICAS"));
    assert_eq!(cols[3], "Source_Id");
}

#[test]
fn a_dead_master_breaks_its_replicas_io_threads_and_leaves_the_list() {
    let mut f = fleet(Dialect::MariaDb);
    let mut s = SessionVars::default();
    f.apply(&Command::Die(0)).unwrap_or_else(|e| panic!("{e}"));
    let r = f.execute(1, &mut s, "SHOW ALL SLAVES STATUS");
    assert_eq!(
        cell(r.clone(), "Slave_IO_Running").as_deref(),
        Some("Connecting")
    );
    assert_eq!(cell(r.clone(), "Last_IO_Errno").as_deref(), Some("2003"));
    assert_eq!(cell(r, "Seconds_Behind_Master"), None);
    let (_, hosts) = rows(f.execute(0, &mut s, "SHOW SLAVE HOSTS"));
    assert!(hosts.is_empty());
}

#[test]
fn a_failover_done_with_sql_moves_the_replicas() {
    let mut f = fleet(Dialect::MariaDb);
    let mut s = SessionVars::default();
    f.apply(&Command::Die(0)).unwrap_or_else(|e| panic!("{e}"));
    // Changing the source of a running replica is refused, as by MySQL.
    assert!(matches!(
        f.execute(
            2,
            &mut s,
            "CHANGE MASTER TO MASTER_HOST = '127.1.0.2', MASTER_PORT = 13306"
        ),
        Reply::Error(1198, _)
    ));
    for stmt in ["STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"] {
        assert_eq!(f.execute(1, &mut s, stmt), Reply::Ok, "{stmt}");
    }
    for r in [2, 3] {
        for stmt in [
            "STOP SLAVE",
            "CHANGE MASTER TO MASTER_HOST = '127.1.0.2', MASTER_PORT = 13306, MASTER_USE_GTID = slave_pos",
            "START SLAVE",
        ] {
            assert_eq!(f.execute(r, &mut s, stmt), Reply::Ok, "{stmt}");
        }
    }
    assert_eq!(
        f.masters(),
        vec![0, 1, 4],
        "the dead one replicates from nobody"
    );
    assert!(f.is_writable(1));
    assert_eq!(f.source_of(3), Some(1));
    let (_, hosts) = rows(f.execute(1, &mut s, "SHOW SLAVE HOSTS"));
    assert_eq!(hosts.len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(20));
    f.tick();
    let new_master = cell(
        f.execute(1, &mut s, "SELECT @@global.gtid_binlog_pos AS g"),
        "g",
    );
    let replica = cell(
        f.execute(3, &mut s, "SELECT @@global.gtid_binlog_pos AS g"),
        "g",
    );
    assert_eq!(
        new_master, replica,
        "the moved replica applies the new master's writes"
    );
}

#[test]
fn lag_errors_and_errant_transactions_show_where_the_probe_reads_them() {
    let mut f = fleet(Dialect::MySql80);
    let mut s = SessionVars::default();
    for c in [
        Command::Lag(1, 30),
        Command::Break(2, Thread::Sql),
        Command::Errant(3, 2),
    ] {
        f.apply(&c).unwrap_or_else(|e| panic!("{e}"));
    }
    f.tick();
    let r = f.execute(1, &mut s, "SHOW REPLICA STATUS");
    assert_eq!(cell(r, "Seconds_Behind_Source").as_deref(), Some("30"));
    let r = f.execute(2, &mut s, "SHOW REPLICA STATUS");
    assert_eq!(
        cell(r.clone(), "Replica_SQL_Running").as_deref(),
        Some("No")
    );
    assert_eq!(cell(r, "Last_SQL_Errno").as_deref(), Some("1062"));
    let g = cell(
        f.execute(3, &mut s, "SELECT @@global.gtid_executed AS g"),
        "g",
    )
    .unwrap_or_default();
    assert!(
        g.contains("00000000-0000-4000-8000-000000000004:1-2"),
        "{g}"
    );
    assert!(
        f.apply(&Command::Break(0, Thread::Io)).is_err(),
        "a master has no replication to break"
    );
}

#[test]
fn commands_parse_and_bad_ones_say_why() {
    let f = fleet(Dialect::MariaDb);
    assert_eq!(Command::parse("die 3", &f), Ok(Command::Die(3)));
    assert_eq!(
        Command::parse("die 127.1.0.4:13306", &f),
        Ok(Command::Die(3))
    );
    assert_eq!(Command::parse("lag 2 30", &f), Ok(Command::Lag(2, 30)));
    assert_eq!(
        Command::parse("break 2 io", &f),
        Ok(Command::Break(2, Thread::Io))
    );
    assert_eq!(Command::parse("master 5 1", &f), Ok(Command::Master(5, 1)));
    assert_eq!(Command::parse("errant 5", &f), Ok(Command::Errant(5, 1)));
    for bad in [
        "die",
        "die 99",
        "lag 2",
        "lag 2 x",
        "explode 1",
        "die 1 2",
        "break 1 both",
    ] {
        assert!(Command::parse(bad, &f).is_err(), "{bad}");
    }
}

#[test]
fn batches_split_outside_quotes() {
    assert_eq!(
        statements("SELECT 1; SET @a = 'x;y'; ;SHOW SLAVE HOSTS"),
        vec!["SELECT 1", "SET @a = 'x;y'", "SHOW SLAVE HOSTS"]
    );
}

#[test]
fn read_only_can_be_saved_and_restored_in_the_session() {
    let mut f = fleet(Dialect::MariaDb);
    let mut s = SessionVars::default();
    assert_eq!(
        f.execute(
            0,
            &mut s,
            "SET @orc_was_read_only = @@global.read_only, GLOBAL read_only = 1"
        ),
        Reply::Ok
    );
    assert!(!f.is_writable(0));
    assert_eq!(
        cell(
            f.execute(0, &mut s, "SELECT @orc_was_read_only"),
            "@orc_was_read_only"
        )
        .as_deref(),
        Some("0")
    );
}

/// Probe gaps are measured on the status read every probe makes: a server
/// probed regularly shows short gaps, one nobody reads any more a growing
/// one, and a dead server is not counted.
#[test]
fn probe_gaps_count_from_the_reset_and_include_the_open_gap() {
    use std::time::{Duration, Instant};
    let mut f = fleet(Dialect::MariaDb);
    let mut s = SessionVars::default();
    let status = "SHOW GLOBAL STATUS WHERE Variable_name IN ('Uptime')";
    for i in 0..f.len() {
        f.execute(i, &mut s, status);
    }
    std::thread::sleep(Duration::from_millis(60));
    let before_reset = Instant::now();
    f.reset_gaps();
    // Server 0 is probed every 10 ms; the others are not probed at all.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(10));
        f.execute(0, &mut s, status);
    }
    // Other statements are not probes.
    f.execute(1, &mut s, "SELECT 1");
    std::thread::sleep(Duration::from_millis(30));
    let gaps = f.probe_gaps();
    let since_reset = before_reset.elapsed();
    assert_eq!(gaps.len(), 8);
    // The open gap counts; time before the reset does not.
    assert!(gaps[0] >= Duration::from_millis(30), "{:?}", gaps[0]);
    assert!(gaps[0] < gaps[1], "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(80), "{:?}", gaps[1]);
    assert!(gaps[1] <= since_reset, "{:?} > {since_reset:?}", gaps[1]);
    let m0 = f.key(0).unwrap();
    let die = Command::parse(&format!("die {m0}"), &f).unwrap();
    f.apply(&die).unwrap();
    assert_eq!(f.probe_gaps().len(), 7, "a dead server is not counted");
}
