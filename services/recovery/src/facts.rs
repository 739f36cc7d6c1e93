//! The facts a plan is made from: every server of the cluster read fresh
//! (the analyzer's view may be a poll old), the operator's metadata from the
//! store, and the replication credentials. A store that cannot be read is
//! an error, never an empty set of rules (fail closed).

use std::collections::BTreeMap;

use futures_util::future::join_all;
use orc_model::{InstanceKey, InstanceMetadata, PromotionRule, Timestamp};
use orc_planner::{Policy, Server as Planned, Topology};

use crate::brief::Brief;
use crate::config::RecoveryConfig;
use crate::servers::{Server, wait_relay_logs};

/// Why the facts could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FactsError {
    /// The store did not answer: promotion rules, downtime and maintenance
    /// are unknown.
    #[error("operator metadata cannot be read from the store: {0}")]
    Metadata(String),
}

/// What was read.
#[derive(Debug)]
pub struct Facts {
    /// The servers, for planning.
    pub topology: Topology,
    /// Replicas whose SQL threads had not applied their relay logs when the
    /// wait ended.
    pub behind: Vec<InstanceKey>,
    /// Replication credentials, when known (never written anywhere).
    pub credentials: Option<(String, String)>,
    /// The connections the reads opened, for the executor to reuse.
    pub connections: std::sync::Mutex<Vec<(InstanceKey, orc_mysql::Operator)>>,
}

impl Facts {
    /// Takes the open connections (once).
    pub fn take_connections(&self) -> Vec<(InstanceKey, orc_mysql::Operator)> {
        self.connections
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

/// Which servers to wait for before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Read and go.
    No,
    /// The replicas of a dead server first apply what they received
    /// (`InstanceBulkOperationsWaitTimeoutSeconds`; longer with
    /// `DelayMasterPromotionIfSQLThreadNotUpToDate`).
    RelayLogs,
}

/// The rule of a server: registered (and not expired), else detected,
/// else neutral.
fn rule(
    meta: Option<&InstanceMetadata>,
    detected: Option<PromotionRule>,
    now: Timestamp,
) -> PromotionRule {
    meta.and_then(|m| m.candidate.filter(|c| now < c.expires_at).map(|c| c.rule))
        .or(detected)
        .unwrap_or(PromotionRule::Neutral)
}

/// Reads the cluster of `brief`. `dead` is not read (it failed; its last
/// known data is kept) — reading a hung server would only cost time.
pub async fn read(
    cfg: &RecoveryConfig,
    store: &orc_store::Store,
    brief: &Brief,
    dead: Option<&InstanceKey>,
    wait: Wait,
    now: Timestamp,
) -> Result<Facts, FactsError> {
    let metadata = store
        .metadata()
        .all()
        .await
        .map_err(|e| FactsError::Metadata(e.to_string()))?;
    let mut servers: Vec<Server> = brief
        .states
        .iter()
        .filter(|s| Some(&s.key) != dead)
        .map(|s| Server::of_state(cfg, s))
        .collect();
    join_all(servers.iter_mut().map(|s| s.refresh(cfg))).await;
    let mut behind = Vec::new();
    if wait == Wait::RelayLogs {
        let (mut below, mut others): (Vec<Server>, Vec<Server>) =
            servers.into_iter().partition(|s| {
                dead.is_some_and(|d| {
                    s.data
                        .as_ref()
                        .and_then(|x| x.master_key())
                        .is_some_and(|m| {
                            &m == d || brief.state(d).is_some_and(|st| st.probe_address() == &m)
                        })
                })
            });
        behind = wait_relay_logs(cfg, &mut below, cfg.bulk_wait).await;
        if cfg.delay_until_sql_thread_up_to_date && !behind.is_empty() {
            behind = wait_relay_logs(cfg, &mut below, cfg.replication_lag * 6).await;
        }
        below.append(&mut others);
        servers = below;
    }
    let mut connections = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    for s in servers {
        planned.push(planned_server(&s, &metadata, brief, now));
        let key = s.key.clone();
        if let Some(op) = s.into_operator(cfg) {
            connections.push((key, op));
        }
    }
    if let Some(d) = dead
        && let Some(state) = brief.state(d)
    {
        let mut p = Planned::unreachable(d.clone(), state.data.clone(), "failed");
        p.address = state.probe_address().clone();
        let meta = metadata.get(d);
        p.rule = rule(
            meta,
            state.data.as_ref().and_then(|x| x.promotion_rule_hint),
            now,
        );
        p.downtimed = meta.is_some_and(|m| m.is_downtimed(now));
        planned.push(p);
    }
    let topology = Topology::new(planned);
    let credentials = credentials(cfg, &topology).await;
    Ok(Facts {
        topology,
        behind,
        credentials,
        connections: std::sync::Mutex::new(connections),
    })
}

fn planned_server(
    s: &Server,
    metadata: &BTreeMap<InstanceKey, InstanceMetadata>,
    brief: &Brief,
    now: Timestamp,
) -> Planned {
    let meta = metadata.get(&s.key).or_else(|| metadata.get(&s.address));
    let last = brief.state(&s.key).and_then(|st| st.data.clone());
    let reachable = s.reachable();
    let detected = s
        .data
        .as_ref()
        .or(last.as_ref())
        .and_then(|d| d.promotion_rule_hint);
    Planned {
        key: s.key.clone(),
        address: s.address.clone(),
        reachable,
        data: s.data.clone().or(last),
        error: s.error.clone(),
        rule: rule(meta, detected, now),
        maintenance: meta
            .filter(|m| m.in_maintenance(now))
            .and_then(|m| m.maintenance.as_ref())
            .map(|m| m.reason.clone()),
        downtimed: meta.is_some_and(|m| m.is_downtimed(now)),
        errant_gtid: String::new(),
    }
}

/// `ReplicationCredentialsQuery` on the cluster's master (else any
/// reachable member), else `ReplicationUser`/`ReplicationPassword`.
async fn credentials(cfg: &RecoveryConfig, t: &Topology) -> Option<(String, String)> {
    if !cfg.credentials_query.trim().is_empty() {
        let mut order: Vec<&Planned> = t.servers().filter(|s| s.reachable).collect();
        order.sort_by_key(|s| t.source_of(&s.key).is_some());
        for s in order {
            let Ok(mut op) =
                orc_mysql::Operator::connect(s.address.clone(), &cfg.connect_options(&s.address))
                    .await
            else {
                continue;
            };
            let rows = op.rows(&cfg.credentials_query).await;
            op.close().await;
            match rows {
                Ok(rows) => {
                    if let Some(row) = rows.first()
                        && let (Some(user), Some(password)) = (row.at(0), row.at(1))
                        && !user.is_empty()
                    {
                        return Some((user.to_string(), password.to_string()));
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(instance = %s.key, error = %e, "ReplicationCredentialsQuery failed");
                }
            }
        }
    }
    cfg.replication_credentials.clone()
}

/// The planner's switches from the configuration and what was read.
pub fn policy(cfg: &RecoveryConfig, facts: &Facts) -> Policy {
    Policy {
        promotion: cfg.promotion.clone(),
        apply_promotion: cfg.apply_promotion,
        detach_lost_replicas: cfg.detach_lost_replicas,
        detach_promoted_master_host: cfg.detach_promoted_master_host,
        co_master_must_promote_other: cfg.co_master_must_promote_other,
        credentials_known: facts.credentials.is_some(),
        pseudo_gtid: cfg.pseudo_gtid.is_some(),
        maintenance_lag_seconds: i64::try_from(cfg.maintenance_lag.as_secs()).unwrap_or(i64::MAX),
    }
}
