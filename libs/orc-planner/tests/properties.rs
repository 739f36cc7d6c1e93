//! Property tests: on random clusters and random intents, every plan the
//! planner makes (a refusal is fine) passes `support::check_invariants`:
//! it simulates without a critical step failing (no CHANGE MASTER while
//! replication runs, nothing used before it is captured, every expectation
//! met), leaves no new replication loop (unless it makes co-masters), no
//! orphan, no replica below a server it cannot replicate from, and the lanes
//! of one phase change distinct servers. On top of those: a plan does not
//! split a cluster, makes no server writable but its successor (or the one
//! asked), and leaves running every replica that ran (its source up), unless
//! stopping it is the point or it is reported lost.
//!
//! Clusters: `m:3306` and 1..7 replicas `rN:3306` in a random tree, each
//! with random GTID on/off, log_slave_updates, read_only, MariaDB version
//! (10.6, 10.11, 11.4), binlog_format, promotion rule, position and lag;
//! sometimes one unreachable or detached replica, a co-master pair, or the
//! whole cluster on MySQL. The tree is repaired to start healthy (every
//! replica can replicate from its source). Intents: every refactoring and
//! recovery over random servers.
//!
//! `survey` (ignored) counts every violation kind with an example, for
//! debugging a change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use orc_model::InstanceKey;
use orc_planner::{Intent, Method, Policy, Topology, plan};
use proptest::prelude::*;
use proptest::sample::Index;

use support::{ServerSpec, check_invariants, topology};

/// MariaDB versions, oldest first (mapped to MySQL 5.7, 8.0, 8.4 in the
/// same order for MySQL clusters).
const VERSIONS: [&str; 3] = [
    "10.6.16-MariaDB-log",
    "10.11.6-MariaDB-log",
    "11.4.2-MariaDB-log",
];
const MYSQL_VERSIONS: [&str; 3] = ["5.7.44-log", "8.0.36", "8.4.0"];
const FORMATS: [&str; 3] = ["STATEMENT", "MIXED", "ROW"];
const RULES: [&str; 5] = ["must", "prefer", "neutral", "prefer_not", "must_not"];
const M: &str = "m:3306";

fn key(s: &str) -> InstanceKey {
    InstanceKey::parse(s).unwrap()
}

/// One server of a random cluster, before it is placed in the tree.
#[derive(Debug, Clone)]
struct Gen {
    parent: Index,
    gtid: bool,
    log_slave_updates: bool,
    read_only: bool,
    version: usize,
    format: usize,
    replicating: bool,
    rule: usize,
    seq: u64,
    pos: u64,
    lag: i64,
}

fn server() -> impl Strategy<Value = Gen> {
    (
        (
            any::<Index>(),
            prop::bool::weighted(0.7),
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.85),
            0..VERSIONS.len(),
            0..FORMATS.len(),
        ),
        (
            prop::bool::weighted(0.9),
            // Mostly neutral.
            prop::sample::select(vec![2usize, 2, 2, 2, 0, 1, 3, 4]),
            95u64..=100,
            prop::sample::select(vec![400u64, 500, 500]),
            prop::sample::select(vec![0i64, 0, 0, 5, 100]),
        ),
    )
        .prop_map(
            |(
                (parent, gtid, log_slave_updates, read_only, version, format),
                (replicating, rule, seq, pos, lag),
            )| Gen {
                parent,
                gtid,
                log_slave_updates,
                read_only,
                version,
                format,
                replicating,
                rule,
                seq,
                pos,
                lag,
            },
        )
}

/// Options of a random cluster.
#[derive(Debug, Clone)]
struct Shape {
    unreachable: Option<Index>,
    detached: Option<Index>,
    co_master: bool,
    mysql: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::option::weighted(0.3, any::<Index>()),
        prop::option::weighted(0.1, any::<Index>()),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(unreachable, detached, co_master, mysql)| Shape {
            unreachable,
            detached,
            co_master,
            mysql,
        })
}

/// A random cluster: the specs of `m:3306` and its replicas `rN:3306`.
fn cluster() -> impl Strategy<Value = Vec<ServerSpec>> {
    (server(), prop::collection::vec(server(), 1..=7), shape())
        .prop_map(|(master, replicas, shape)| build(&master, &replicas, &shape))
}

fn build(master: &Gen, replicas: &[Gen], shape: &Shape) -> Vec<ServerSpec> {
    let mut specs = vec![ServerSpec {
        key: M.into(),
        gtid: master.gtid,
        log_slave_updates: master.log_slave_updates,
        read_only: Some(!master.read_only),
        version: VERSIONS[master.version].into(),
        binlog_format: FORMATS[master.format].into(),
        server_id: 1,
        ..ServerSpec::default()
    }];
    for (i, g) in replicas.iter().enumerate() {
        let n = i + 1;
        // Replica n replicates from the master or from an earlier replica.
        let parent = g.parent.index(n);
        specs.push(ServerSpec {
            key: format!("r{n}:3306"),
            source: Some(if parent == 0 {
                M.to_string()
            } else {
                format!("r{parent}:3306")
            }),
            gtid: g.gtid,
            log_slave_updates: g.log_slave_updates,
            read_only: Some(g.read_only),
            version: VERSIONS[g.version].into(),
            binlog_format: FORMATS[g.format].into(),
            replicating: g.replicating,
            rule: RULES[g.rule].into(),
            server_id: u32::try_from(n + 1).unwrap(),
            gtid_slave_pos: format!("0-1-{}", g.seq),
            exec: Some(format!("mysql-bin.000001:{}", g.pos)),
            lag: Some(g.lag),
            ..ServerSpec::default()
        });
    }
    make_valid(&mut specs);
    if shape.co_master && specs[1].source.as_deref() == Some(M) {
        // m and r1 replicate from each other; r1 takes m's version and
        // format so that both directions are healthy.
        specs[0].source = Some("r1:3306".into());
        specs[0].gtid_slave_pos = specs[1].gtid_slave_pos.clone();
        specs[0].exec = Some("mysql-bin.000001:2000".into());
        specs[0].log_slave_updates = true;
        specs[1].version = specs[0].version.clone();
        specs[1].binlog_format = specs[0].binlog_format.clone();
        specs[1].log_slave_updates = true;
    }
    if shape.mysql {
        for (i, s) in specs.iter_mut().enumerate() {
            let v = VERSIONS.iter().position(|v| *v == s.version).unwrap();
            let seq = s
                .gtid_slave_pos
                .rsplit('-')
                .next()
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(100);
            s.flavor = "mysql".into();
            s.version = MYSQL_VERSIONS[v].into();
            s.server_uuid = format!("00000000-0000-0000-0000-{:012}", i + 1);
            s.gtid_executed = format!("00000000-0000-0000-0000-000000000001:1-{seq}");
            s.gtid_slave_pos.clear();
        }
    }
    let n = specs.len() - 1;
    if let Some(u) = &shape.unreachable {
        specs[1 + u.index(n)].reachable = false;
    }
    if let Some(d) = &shape.detached {
        let i = 1 + d.index(n);
        // (Not a co-master: reattaching it would rightly restore the loop.)
        if i != 1 || specs[0].source.is_none() {
            specs[i].detached = true;
            specs[i].replicating = false;
        }
    }
    specs
}

/// Repairs a random tree so that every replica can replicate from its
/// source (the starting point is a healthy cluster; plans must keep it so):
/// a replica runs at least its source's major version and logs at least its
/// source's binlog format, and a source that is itself a replica logs its
/// replicas' updates (servers without log_slave_updates stay leaves).
fn make_valid(specs: &mut [ServerSpec]) {
    let rank = |f: &str| FORMATS.iter().position(|x| *x == f).unwrap();
    let version = |v: &str| VERSIONS.iter().position(|x| *x == v).unwrap();
    for i in 1..specs.len() {
        let source = specs[i].source.clone().unwrap();
        let j = specs.iter().position(|s| s.key == source).unwrap();
        if version(&specs[i].version) < version(&specs[j].version) {
            specs[i].version = specs[j].version.clone();
        }
        if rank(&specs[i].binlog_format) < rank(&specs[j].binlog_format) {
            specs[i].binlog_format = specs[j].binlog_format.clone();
        }
        if j != 0 {
            specs[j].log_slave_updates = true;
        }
    }
}

/// What is asked, over servers picked by index.
#[derive(Debug, Clone)]
struct Ask {
    kind: usize,
    a: Index,
    b: Index,
    flag: bool,
    variant: usize,
}

const KINDS: usize = 28;

fn ask() -> impl Strategy<Value = Ask> {
    (
        0..KINDS,
        any::<Index>(),
        any::<Index>(),
        any::<bool>(),
        0usize..6,
    )
        .prop_map(|(kind, a, b, flag, variant)| Ask {
            kind,
            a,
            b,
            flag,
            variant,
        })
}

/// The intent, and the cluster as it must be for it (a failover's failed
/// server unreachable).
fn intent(specs: &[ServerSpec], ask: &Ask) -> (Vec<ServerSpec>, Intent) {
    let mut specs = specs.to_vec();
    let keys: Vec<InstanceKey> = specs.iter().map(|s| key(&s.key)).collect();
    let a = keys[ask.a.index(keys.len())].clone();
    let b = keys[ask.b.index(keys.len())].clone();
    let m = key(M);
    let only = match ask.variant {
        0 => Some(Method::Gtid),
        1 => Some(Method::BinlogFile),
        2 => Some(Method::PseudoGtid),
        _ => None,
    };
    // Mostly the master; sometimes any server (then the planner must refuse,
    // or at least not split the cluster).
    let master = if ask.variant < 4 {
        m.clone()
    } else {
        a.clone()
    };
    let intent = match ask.kind {
        0 => Intent::Relocate {
            instance: a,
            below: b,
            only,
        },
        1 => Intent::RelocateReplicas {
            instance: a,
            below: b,
            pattern: None,
            only,
        },
        2 => Intent::MoveUp { instance: a },
        3 => Intent::MoveUpReplicas {
            instance: a,
            pattern: None,
        },
        4 => Intent::MoveBelow {
            instance: a,
            sibling: b,
        },
        5 => Intent::MoveEquivalent {
            instance: a,
            below: b,
        },
        6 => Intent::Repoint {
            instance: a,
            below: ask.flag.then_some(b),
        },
        7 => Intent::RepointReplicas {
            instance: a,
            pattern: None,
        },
        8 => Intent::TakeMaster { instance: a },
        9 => Intent::TakeSiblings { instance: a },
        10 => Intent::RegroupReplicas { instance: a, only },
        11 => Intent::MakeCoMaster { instance: a },
        12 => Intent::DetachReplicaMasterHost { instance: a },
        13 => Intent::ReattachReplicaMasterHost { instance: a },
        14 => Intent::StopReplica { instance: a },
        15 => Intent::StopReplicaNice { instance: a },
        16 => Intent::StartReplica { instance: a },
        17 => Intent::RestartReplica { instance: a },
        18 => Intent::ResetReplica { instance: a },
        19 => Intent::EnableGtid { instance: a },
        20 => Intent::DisableGtid { instance: a },
        21 => Intent::SetReadOnly {
            instance: a,
            read_only: ask.flag,
        },
        22 => Intent::DelayReplication {
            instance: a,
            seconds: 60,
        },
        23 => {
            specs[0].reachable = false;
            let co_master = specs[0].source.is_some();
            Intent::MasterFailover {
                failed: m,
                designated: (ask.variant == 0).then_some(b),
                co_master,
                lite: ask.flag,
            }
        }
        24 => {
            if let Some(s) = specs.iter_mut().find(|s| key(&s.key) == a) {
                s.reachable = false;
            }
            Intent::IntermediateMasterFailover {
                failed: a,
                lite: ask.flag,
            }
        }
        25 => Intent::GracefulTakeover {
            master,
            designated: (!ask.flag).then_some(b),
            auto: ask.flag,
        },
        26 => Intent::HandOver {
            from: master,
            to: b,
        },
        _ => Intent::MakeWritable { instance: a },
    };
    (specs, intent)
}

/// Policy switches: Pseudo-GTID, replication credentials known,
/// CoMasterRecoveryMustPromoteOtherCoMaster.
type Flags = (bool, bool, bool);

fn flags() -> impl Strategy<Value = Flags> {
    (
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.5),
    )
}

fn policy(flags: Flags) -> Policy {
    Policy {
        pseudo_gtid: flags.0,
        credentials_known: flags.1,
        co_master_must_promote_other: flags.2,
        ..Policy::default()
    }
}

/// How many trees: servers without a source (detached ones aside), and
/// replication loops (co-masters have no top).
fn trees(t: &Topology) -> usize {
    let tops = t
        .servers()
        .filter(|s| s.data.as_ref().is_some_and(|d| !d.is_detached()))
        .filter(|s| t.source_of(&s.key).is_none())
        .count();
    tops + t.cycles().len()
}

fn writable(t: &Topology) -> Vec<InstanceKey> {
    t.servers()
        .filter(|s| s.data.is_some() && !s.read_only())
        .map(|s| s.key.clone())
        .collect()
}

fn message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_default()
}

/// Plans `intent`; when a plan is made, checks it. A refusal passes.
/// Returns the violation, if any.
fn check(t: &Topology, intent: &Intent, policy: &Policy) -> Result<(), String> {
    let Ok(p) = plan(t, intent.clone(), policy) else {
        return Ok(());
    };
    let after =
        std::panic::catch_unwind(|| check_invariants(t, &p)).map_err(|e| message(e.as_ref()))?;
    let steps = || format!("{:#?}", p.describe());

    // No split: no new tree, except a failover's promoted replica, a
    // server reset or detached on request, an old master that cannot
    // replicate from its successor (left out, read-only and downtimed),
    // and a takeover from a promoted replica that kept its stopped link to
    // a dead source, or from a detached replica (`detach-replica-master-host`)
    // with replicas of its own: either tree is already apart in all but a
    // dead or detached link.
    let left_out = p
        .notes
        .iter()
        .any(|n| n.contains("without a source, and downtimed"));
    let dead_link_takeover = match intent {
        Intent::GracefulTakeover { master, .. } => {
            t.source_of(master).is_some()
                || t.get(master)
                    .and_then(|s| s.data.as_ref())
                    .is_some_and(|d| d.is_detached())
        }
        _ => false,
    };
    let allowed = usize::from(
        matches!(
            intent,
            Intent::MasterFailover { .. }
                | Intent::ResetReplica { .. }
                | Intent::DetachReplicaMasterHost { .. }
        ) || left_out
            || dead_link_takeover,
    );
    let (before, now) = (trees(t), trees(&after));
    if now > before + allowed {
        return Err(format!(
            "plan {intent} splits the cluster: {before} trees become {now}\n{}",
            steps()
        ));
    }

    // Nothing turns writable but the successor, or the server made so.
    let asked = match intent {
        Intent::SetReadOnly {
            instance,
            read_only: false,
        }
        | Intent::MakeWritable { instance } => Some(instance),
        _ => None,
    };
    let was = writable(t);
    for k in writable(&after) {
        if !was.contains(&k) && p.successor.as_ref() != Some(&k) && asked != Some(&k) {
            return Err(format!("plan {intent} makes {k} writable\n{}", steps()));
        }
    }

    // Replication that ran still runs where its source answers, unless
    // stopping it is the point or the replica is reported lost.
    let stops = matches!(
        intent,
        Intent::StopReplica { .. }
            | Intent::StopReplicaNice { .. }
            | Intent::DetachReplicaMasterHost { .. }
            | Intent::ResetReplica { .. }
    );
    for s in t.servers().filter(|s| s.reachable && s.is_replicating()) {
        let lost = p.lost.iter().any(|(k, _)| k == &s.key);
        let source_up = after
            .source_of(&s.key)
            .and_then(|m| after.get(&m))
            .is_some_and(|m| m.reachable);
        let running = after.get(&s.key).is_some_and(|x| x.is_replicating());
        if !stops && !lost && source_up && !running {
            return Err(format!(
                "plan {intent} leaves {} stopped\n{}",
                s.key,
                steps()
            ));
        }
    }
    Ok(())
}

fn random_case() -> impl Strategy<Value = (Vec<ServerSpec>, Ask, Flags)> {
    (cluster(), ask(), flags())
}

fn run(specs: &[ServerSpec], a: &Ask, flags: Flags) -> Result<(), String> {
    let (specs, intent) = intent(specs, a);
    let t = topology(&specs);
    match check(&t, &intent, &policy(flags)) {
        Ok(()) => Ok(()),
        Err(v) => Err(format!(
            "{v}\nintent: {intent:?}\npolicy flags (pseudo_gtid, credentials_known, co_master_must_promote_other): {flags:?}\nservers: {specs:#?}"
        )),
    }
}

/// An automatic graceful takeover from `master` is planned, promotes
/// `successor`, and its plan passes the invariants.
fn hands_over_within_the_invariants(specs: &[ServerSpec], master: &str, successor: &str) {
    let t = topology(specs);
    let intent = Intent::GracefulTakeover {
        master: key(master),
        designated: None,
        auto: true,
    };
    let policy = policy((false, false, false));
    let p = plan(&t, intent.clone(), &policy).expect("the hand-over is planned");
    assert_eq!(p.successor, Some(key(successor)));
    check(&t, &intent, &policy).unwrap();
}

/// Found by the property below (CI, 2026-12-01): a replica whose source
/// died and whose replication is stopped (a promoted replica that kept its
/// link) hands mastership over to its own replica; the result stands apart
/// from the dead source's tree, as the taker already did.
#[test]
fn a_takeover_from_a_replica_with_a_dead_stopped_link_passes_the_invariants() {
    let server = |k: &str, source: Option<&str>| ServerSpec {
        key: k.into(),
        source: source.map(Into::into),
        read_only: Some(true),
        ..ServerSpec::default()
    };
    let specs = vec![
        server("m:3306", None),
        ServerSpec {
            reachable: false,
            ..server("r1:3306", Some("m:3306"))
        },
        ServerSpec {
            replicating: false,
            read_only: Some(false),
            ..server("r2:3306", Some("r1:3306"))
        },
        server("r3:3306", Some("m:3306")),
        server("r6:3306", Some("r2:3306")),
    ];
    hands_over_within_the_invariants(&specs, "r2:3306", "r6:3306");
}

/// Found by the property below too: a detached replica with a replica of
/// its own hands mastership over within its own tree.
#[test]
fn a_takeover_from_a_detached_replica_passes_the_invariants() {
    let server = |k: &str, source: Option<&str>| ServerSpec {
        key: k.into(),
        source: source.map(Into::into),
        read_only: Some(true),
        ..ServerSpec::default()
    };
    let specs = vec![
        server("m:3306", None),
        server("r1:3306", Some("m:3306")),
        ServerSpec {
            replicating: false,
            detached: true,
            read_only: Some(false),
            ..server("r3:3306", Some("m:3306"))
        },
        server("r5:3306", Some("r3:3306")),
    ];
    hands_over_within_the_invariants(&specs, "r3:3306", "r5:3306");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_plan_made_passes_the_invariants((specs, a, flags) in random_case()) {
        if let Err(e) = run(&specs, &a, flags) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Counts the violations of 20 000 random cases by intent and kind, with
/// one example each:
/// `cargo test -p orc-planner --test properties -- --ignored --nocapture survey`.
#[test]
#[ignore = "a survey for debugging, not a test"]
fn survey() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;
    let mut runner = TestRunner::deterministic();
    let strategy = random_case();
    let servers = regex::Regex::new(r"\b(m|r\d):3306").unwrap();
    let mut found: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..20_000 {
        let (specs, a, flags) = strategy.new_tree(&mut runner).unwrap().current();
        if let Err(e) = run(&specs, &a, flags) {
            let (_, intent) = intent(&specs, &a);
            let first = e.lines().next().unwrap_or_default();
            let kind = format!("{}: {}", intent.name(), servers.replace_all(first, "X"));
            found.entry(kind).or_insert((0, e)).0 += 1;
        }
    }
    std::panic::set_hook(hook);
    for (kind, (n, example)) in &found {
        println!("=== {n} x {kind}\n{example}\n");
    }
}
