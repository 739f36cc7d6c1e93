//! Compact descriptions of servers for planner tests, and the checks every
//! plan must pass whatever it is for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::BTreeMap;

use orc_model::{
    BinlogCoordinates, Flavor, InstanceData, InstanceKey, PromotionRule, ReplicationStatus,
    SemiSync, ThreadState,
};
use orc_planner::{Action, Intent, Plan, Server, Topology, replication::can_replicate_from};
use serde::Deserialize;

/// One server, as a scenario writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSpec {
    pub key: String,
    pub source: Option<String>,
    pub flavor: String,
    pub version: String,
    pub gtid: bool,
    pub gtid_mode: Option<String>,
    pub read_only: Option<bool>,
    pub log_bin: bool,
    pub log_slave_updates: bool,
    pub binlog_format: String,
    pub replicating: bool,
    pub reachable: bool,
    pub rule: String,
    pub maintenance: Option<String>,
    pub server_id: u32,
    pub server_uuid: String,
    pub gtid_executed: String,
    pub gtid_slave_pos: String,
    pub exec: Option<String>,
    pub self_coordinates: Option<String>,
    pub lag: Option<i64>,
    pub detached: bool,
    pub semi_sync: bool,
    pub data_center: String,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            key: String::new(),
            source: None,
            flavor: "mariadb".into(),
            version: String::new(),
            gtid: true,
            gtid_mode: None,
            read_only: None,
            log_bin: true,
            log_slave_updates: true,
            binlog_format: "ROW".into(),
            replicating: true,
            reachable: true,
            rule: "neutral".into(),
            maintenance: None,
            server_id: 0,
            server_uuid: String::new(),
            gtid_executed: String::new(),
            gtid_slave_pos: String::new(),
            exec: None,
            self_coordinates: None,
            lag: None,
            detached: false,
            semi_sync: false,
            data_center: String::new(),
        }
    }
}

fn key(s: &str) -> InstanceKey {
    InstanceKey::parse(s).unwrap_or_else(|e| panic!("bad key {s}: {e}"))
}

impl ServerSpec {
    /// The server, numbered `index` (its default server_id).
    pub fn build(&self, index: usize) -> Server {
        let mysql = self.flavor.eq_ignore_ascii_case("mysql");
        let flavor = if mysql {
            Flavor::Mysql
        } else {
            Flavor::Mariadb
        };
        let version = if !self.version.is_empty() {
            self.version.clone()
        } else if mysql {
            "8.0.36".into()
        } else {
            "10.11.6-MariaDB-log".into()
        };
        let running = if self.replicating {
            ThreadState::Running
        } else {
            ThreadState::Stopped
        };
        let replication = self.source.as_ref().map(|s| {
            let src = key(s);
            ReplicationStatus {
                master_host: if self.detached {
                    format!("//{}", src.hostname())
                } else {
                    src.hostname().to_string()
                },
                master_port: src.port(),
                master_user: "repl".into(),
                io_thread: running,
                sql_thread: running,
                using_gtid: if mysql {
                    String::new()
                } else if self.gtid {
                    "Slave_Pos".into()
                } else {
                    "No".into()
                },
                auto_position: mysql && self.gtid,
                exec_coordinates: self
                    .exec
                    .as_deref()
                    .map(|c| BinlogCoordinates::parse(c).unwrap())
                    .unwrap_or_else(|| BinlogCoordinates::binary("mysql-bin.000001", 1000)),
                read_coordinates: self
                    .exec
                    .as_deref()
                    .map(|c| BinlogCoordinates::parse(c).unwrap())
                    .unwrap_or_else(|| BinlogCoordinates::binary("mysql-bin.000001", 1000)),
                seconds_behind_master: Some(self.lag.unwrap_or(0)),
                ..Default::default()
            }
        });
        let data = InstanceData {
            server_id: if self.server_id == 0 {
                u32::try_from(index + 1).unwrap()
            } else {
                self.server_id
            },
            server_uuid: self.server_uuid.clone(),
            version,
            flavor,
            read_only: self.read_only.unwrap_or(self.source.is_some()),
            log_bin: self.log_bin,
            log_replica_updates: self.log_slave_updates,
            binlog_format: self.binlog_format.clone(),
            gtid_mode: self.gtid_mode.clone().unwrap_or_else(|| {
                if mysql && self.gtid {
                    "ON".into()
                } else {
                    String::new()
                }
            }),
            gtid_executed: self.gtid_executed.clone(),
            gtid_slave_pos: self.gtid_slave_pos.clone(),
            self_coordinates: self.log_bin.then(|| {
                self.self_coordinates
                    .as_deref()
                    .map(|c| BinlogCoordinates::parse(c).unwrap())
                    .unwrap_or_else(|| BinlogCoordinates::binary("mysql-bin.000001", 2000))
            }),
            replication,
            replication_lag_seconds: self.lag,
            semi_sync: SemiSync {
                available: self.semi_sync,
                ..Default::default()
            },
            data_center: self.data_center.clone(),
            ..Default::default()
        };
        let mut s = Server::new(key(&self.key), data);
        s.reachable = self.reachable;
        if !self.reachable {
            s.error = Some("connection refused".into());
        }
        s.rule = self.rule.parse::<PromotionRule>().unwrap();
        s.maintenance = self.maintenance.clone();
        s
    }
}

/// The topology of a list of specs.
pub fn topology(specs: &[ServerSpec]) -> Topology {
    Topology::new(specs.iter().enumerate().map(|(i, s)| s.build(i)))
}

/// Checks what every plan must satisfy: it simulates (no step's
/// precondition fails in a critical lane — in particular no CHANGE MASTER
/// while replication threads run), leaves no replication loop (unless it
/// makes co-masters), no orphan, and no replica of a server it cannot
/// replicate from. Returns the simulated topology.
pub fn check_invariants(t: &Topology, plan: &Plan) -> Topology {
    let sim = orc_planner::simulate(t, plan).unwrap_or_else(|e| {
        panic!(
            "plan {} does not simulate: {e}\n{:#?}",
            plan.intent,
            plan.describe()
        )
    });
    let after = sim.topology;
    let co_master = matches!(plan.intent, Intent::MakeCoMaster { .. });
    let before_cycles = t.cycles().len();
    if !co_master {
        assert!(
            after.cycles().len() <= before_cycles,
            "plan {} leaves a replication loop: {:?}",
            plan.intent,
            after.cycles()
        );
    }
    let changed: Vec<&InstanceKey> = plan
        .steps()
        .filter_map(|s| match &s.action {
            Action::ChangeSource { on, .. } => Some(on),
            _ => None,
        })
        .collect();
    for k in changed {
        let source = after
            .source_of(k)
            .unwrap_or_else(|| panic!("{k} has no source after {}", plan.intent));
        assert!(
            after.get(&source).is_some(),
            "{k} replicates from {source}, which is not known (an orphan)"
        );
        if let Err(e) = can_replicate_from(&after, k, &source) {
            panic!("{k} ends below {source}, which it cannot replicate from: {e}");
        }
    }
    for step in plan.steps() {
        if let Action::ChangeSource { on, .. } = &step.action {
            assert!(
                step.preconditions
                    .contains(&orc_planner::Condition::ReplicationStopped(on.clone())),
                "CHANGE MASTER on {on} without the stopped-replication precondition"
            );
        }
    }
    for phase in &plan.phases {
        let mut seen: BTreeMap<&InstanceKey, &str> = BTreeMap::new();
        for lane in &phase.lanes {
            for k in lane
                .steps
                .iter()
                .filter(|s| s.action.changes_a_server())
                .flat_map(|s| s.action.servers())
            {
                if let Some(other) = seen.insert(k, &lane.label)
                    && other != lane.label
                {
                    panic!(
                        "phase {:?}: lanes {other:?} and {:?} both change {k}",
                        phase.label, lane.label
                    );
                }
            }
        }
    }
    after
}
