//! Replacing a dead master: read the replicas as they are now, let their
//! SQL threads apply what they received, choose (every veto decided before
//! anything changes), then promote and repoint everyone at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use orc_model::{InstanceKey, InstanceMetadata, PromotionRule, Timestamp};
use orc_mysql::{ChangeSource, StartPosition};
use orc_promotion::{NoCandidate, PromotionDecision, PromotionRequest, ReplicaFacts};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::config::RecoveryConfig;
use crate::journal::Stepper;
use crate::lease::LeaseKeeper;
use crate::servers::{Server, connect_all, refresh_all, wait_relay_logs};

/// The replicas of a failed master, read and ready.
#[derive(Debug)]
pub struct Gathered {
    /// The failed master.
    pub failed: InstanceKey,
    /// Where it was reached.
    pub failed_address: InstanceKey,
    /// Its last known facts.
    pub failed_data: Option<orc_model::InstanceData>,
    /// Its replicas.
    pub replicas: Vec<Server>,
    /// Promotion rules in force.
    pub rules: BTreeMap<InstanceKey, PromotionRule>,
    /// Replicas whose SQL thread had not caught up when the wait ended.
    pub behind: Vec<InstanceKey>,
    /// Replicas under a maintenance lock: left untouched, never promoted.
    pub in_maintenance: Vec<InstanceKey>,
}

/// What a dry run or a real one tells about its choice.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The failed master.
    pub failed: InstanceKey,
    /// The promotion decision with reasons, or why none was possible.
    pub decision: Option<PromotionDecision>,
    /// Why nothing can be promoted.
    pub refused: Option<NoCandidate>,
    /// Replicas still applying relay logs when the choice was made.
    pub sql_thread_behind: Vec<InstanceKey>,
    /// What would be done, in words.
    pub actions: Vec<String>,
}

/// The rule of each instance: registered (and not expired), else detected.
pub fn rules(
    metadata: &BTreeMap<InstanceKey, InstanceMetadata>,
    servers: &[Server],
    now: Timestamp,
) -> BTreeMap<InstanceKey, PromotionRule> {
    servers
        .iter()
        .map(|s| {
            let registered = metadata
                .get(&s.key)
                .or_else(|| metadata.get(&s.address))
                .and_then(|m| m.candidate.filter(|c| now < c.expires_at).map(|c| c.rule));
            let detected = s.data.as_ref().and_then(|d| d.promotion_rule_hint);
            (
                s.key.clone(),
                registered.or(detected).unwrap_or(PromotionRule::Neutral),
            )
        })
        .collect()
}

/// Reads the replicas and waits (changing nothing) for their relay logs.
pub async fn gather(
    cfg: &RecoveryConfig,
    failed: InstanceKey,
    failed_address: InstanceKey,
    failed_data: Option<orc_model::InstanceData>,
    mut replicas: Vec<Server>,
    metadata: &BTreeMap<InstanceKey, InstanceMetadata>,
    now: Timestamp,
) -> Gathered {
    refresh_all(cfg, &mut replicas).await;
    let behind = wait_relay_logs(cfg, &mut replicas, cfg.bulk_wait).await;
    let rules = rules(metadata, &replicas, now);
    let in_maintenance = replicas
        .iter()
        .filter(|s| {
            metadata
                .get(&s.key)
                .or_else(|| metadata.get(&s.address))
                .is_some_and(|m| m.in_maintenance(now))
        })
        .map(|s| s.key.clone())
        .collect();
    Gathered {
        failed,
        failed_address,
        failed_data,
        replicas,
        rules,
        behind,
        in_maintenance,
    }
}

/// Chooses.
pub fn decide(
    cfg: &RecoveryConfig,
    g: &Gathered,
    designated: Option<&InstanceKey>,
) -> Result<PromotionDecision, NoCandidate> {
    let replicas: Vec<ReplicaFacts<'_>> = g
        .replicas
        .iter()
        .filter(|s| !g.in_maintenance.contains(&s.key))
        .filter_map(|s| {
            s.data.as_ref().map(|data| ReplicaFacts {
                key: &s.key,
                data,
                reachable: true,
                rule: g.rules.get(&s.key).copied().unwrap_or_default(),
            })
        })
        .collect();
    let unreachable: Vec<(InstanceKey, orc_model::InstanceData)> = g
        .replicas
        .iter()
        .filter(|s| !s.reachable() && !g.in_maintenance.contains(&s.key))
        .map(|s| (s.key.clone(), orc_model::InstanceData::default()))
        .collect();
    let mut all = replicas;
    all.extend(unreachable.iter().map(|(k, d)| ReplicaFacts {
        key: k,
        data: d,
        reachable: false,
        rule: PromotionRule::Neutral,
    }));
    let req = PromotionRequest {
        failed_master: &g.failed,
        failed_master_data: g.failed_data.as_ref(),
        replicas: all,
        designated,
    };
    orc_promotion::select_candidate(&req, &cfg.promotion)
}

/// The plan in words.
pub fn describe(cfg: &RecoveryConfig, g: &Gathered, decision: &PromotionDecision) -> Vec<String> {
    let mut out = Vec::new();
    let p = &decision.promote;
    out.push(if cfg.apply_promotion {
        format!("promote {p}: stop replication, RESET SLAVE ALL, read_only=0")
    } else {
        format!("promote {p}: stop replication (ApplyMySQLPromotionAfterMasterFailover is off)")
    });
    for s in &g.replicas {
        if &s.key == p {
            continue;
        }
        if g.in_maintenance.contains(&s.key) {
            out.push(format!("leave {} alone: it is under maintenance", s.key));
        } else if let Some(l) = decision.lost.iter().find(|l| l.key == s.key) {
            let mut line = format!("lose {}: {}", s.key, l.reason);
            if !l.given_up.is_empty() {
                line.push_str(&format!(" (gives up {})", l.given_up));
            }
            if cfg.detach_lost_replicas && s.reachable() {
                line.push_str("; detach it from the failed master");
            }
            out.push(line);
        } else {
            let how = if decision.gtid {
                "GTID"
            } else {
                "binlog coordinates"
            };
            out.push(format!("repoint {} to replicate from {p} ({how})", s.key));
        }
    }
    out.push(format!("make {} read-only if it can be reached", g.failed));
    if let Some(ideal) = &decision.ideal {
        out.push(format!(
            "then hand mastership from {p} to {ideal} once it has caught up"
        ));
    }
    out
}

/// What the promotion did.
#[derive(Debug, Default)]
pub struct Executed {
    /// The promoted server, when promotion happened.
    pub promoted: Option<InstanceKey>,
    /// Its address.
    pub promoted_address: Option<InstanceKey>,
    /// Its binary log position after promotion (`file:pos`).
    pub coordinates: String,
    /// Servers changed.
    pub participating: Vec<InstanceKey>,
    /// Replicas left behind.
    pub lost: Vec<InstanceKey>,
    /// Errors that did not stop the promotion.
    pub errors: Vec<String>,
}

fn position_for(s: &Server, gtid: bool, file: Option<&(String, u64)>) -> StartPosition {
    match (gtid, file) {
        (false, Some((f, p))) => StartPosition::File {
            file: f.clone(),
            pos: *p,
        },
        _ => {
            if s.data
                .as_ref()
                .is_some_and(|d| d.flavor == orc_model::Flavor::Mariadb)
            {
                StartPosition::MariadbSlavePos
            } else {
                StartPosition::AutoPosition
            }
        }
    }
}

/// Repoints one replica at `target`.
pub async fn repoint(
    cfg: &RecoveryConfig,
    s: &mut Server,
    target: &InstanceKey,
    position: StartPosition,
    credentials: Option<(String, String)>,
) -> Result<(), String> {
    let op = s.op(cfg).await?;
    op.stop_replica().await.map_err(|e| e.to_string())?;
    op.change_source(&ChangeSource {
        host: target.hostname().to_string(),
        port: target.port(),
        position,
        credentials,
    })
    .await
    .map_err(|e| e.to_string())?;
    op.start_replica().await.map_err(|e| e.to_string())
}

/// Promotes `decision.promote` and repoints the others. Stops before the
/// first change if the lease is no longer held.
pub async fn execute(
    cfg: &RecoveryConfig,
    steps: &Stepper,
    lease: &LeaseKeeper,
    g: &mut Gathered,
    decision: &PromotionDecision,
) -> Result<Executed, String> {
    connect_all(cfg, &mut g.replicas).await;
    lease.fence().map_err(|e| e.to_string())?;
    let mut done = Executed::default();
    let (mut cand, mut others): (Vec<&mut Server>, Vec<&mut Server>) = g
        .replicas
        .iter_mut()
        .partition(|s| s.key == decision.promote);
    let cand = cand
        .pop()
        .ok_or_else(|| format!("{} is not among the replicas", decision.promote))?;
    let target = cand.address.clone();
    let promoted_key = cand.key.clone();

    // Without GTID the others start at the candidate's own position, read
    // once its replication stopped and before it takes writes.
    let mut file_position: Option<(String, u64)> = None;
    if !decision.gtid {
        let op = cand.op(cfg).await?;
        op.stop_replica().await.map_err(|e| e.to_string())?;
        let (file, pos) = op
            .binlog_coordinates()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{promoted_key} has no binary log position"))?;
        steps.step(format!("{promoted_key} stopped at {file}:{pos}"));
        file_position = Some((file, pos));
    }

    let permits = Arc::new(Semaphore::new(cfg.max_concurrency));
    let promote = async {
        let op = cand.op(cfg).await?;
        op.stop_replica().await.map_err(|e| e.to_string())?;
        if cfg.apply_promotion {
            op.reset_replica_all().await.map_err(|e| e.to_string())?;
            op.set_read_only(false, cfg.use_super_read_only)
                .await
                .map_err(|e| e.to_string())?;
        }
        let coords = op
            .binlog_coordinates()
            .await
            .ok()
            .flatten()
            .map(|(f, p)| format!("{f}:{p}"))
            .unwrap_or_default();
        Ok::<String, String>(coords)
    };
    let failed_host = g.failed_address.hostname().to_string();
    let maintenance = g.in_maintenance.clone();
    let moves = others.iter_mut().map(|s| {
        let permits = permits.clone();
        let maintained = maintenance.contains(&s.key);
        let lost = decision.is_lost(&s.key);
        let position = position_for(s, decision.gtid, file_position.as_ref());
        let target = target.clone();
        let failed_host = failed_host.clone();
        async move {
            let _permit = permits.acquire().await;
            if !s.reachable() {
                let why = match &s.error {
                    Some(e) => format!("unreachable: {e}"),
                    None => "unreachable".to_string(),
                };
                return (s.key.clone(), true, Err(why));
            }
            if maintained {
                return (
                    s.key.clone(),
                    true,
                    Err("under maintenance: left alone".to_string()),
                );
            }
            if lost {
                if !cfg.detach_lost_replicas {
                    return (s.key.clone(), true, Ok(()));
                }
                let r = async {
                    let op = s.op(cfg).await?;
                    op.stop_replica().await.map_err(|e| e.to_string())?;
                    op.detach_source(&failed_host)
                        .await
                        .map_err(|e| e.to_string())
                }
                .await;
                return (s.key.clone(), true, r);
            }
            let r = repoint(cfg, s, &target, position, None).await;
            (s.key.clone(), false, r)
        }
    });
    let (promoted, moved) = tokio::join!(promote, join_all(moves));
    match promoted {
        Ok(coords) => {
            steps.step(format!("promoted {promoted_key} (at {coords})"));
            done.promoted = Some(promoted_key.clone());
            done.promoted_address = Some(target.clone());
            done.coordinates = coords;
            done.participating.push(promoted_key.clone());
        }
        Err(e) => {
            done.errors.push(format!("promoting {promoted_key}: {e}"));
        }
    }
    for (key, lost, r) in moved {
        match (lost, r) {
            (false, Ok(())) => {
                steps.step(format!("{key} now replicates from {promoted_key}"));
                done.participating.push(key);
            }
            (false, Err(e)) => {
                done.errors.push(format!("repointing {key}: {e}"));
                done.lost.push(key);
            }
            (true, Ok(())) => {
                steps.step(format!(
                    "{key} is lost (detached: {})",
                    cfg.detach_lost_replicas
                ));
                done.participating.push(key.clone());
                done.lost.push(key);
            }
            (true, Err(e)) => {
                steps.step(format!("{key} is lost ({e})"));
                done.lost.push(key);
            }
        }
    }
    done.lost.sort();
    Ok(done)
}

/// Waits until the repointed replicas replicate from the new master
/// (both threads running); returns the ones that did not within `limit`.
pub async fn verify(
    cfg: &RecoveryConfig,
    g: &mut Gathered,
    expected: &[InstanceKey],
    promoted: &InstanceKey,
    promoted_address: &InstanceKey,
    limit: Duration,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + limit;
    let checks = g
        .replicas
        .iter_mut()
        .filter(|s| expected.contains(&s.key))
        .map(|s| async move {
            loop {
                let state = match s.op(cfg).await {
                    Ok(op) => op.replication().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                let (ok, why) = match &state {
                    Ok(Some(r)) => (
                        r.master_port == promoted_address.port()
                            && r.master_host == promoted_address.hostname()
                            && r.io_thread == orc_model::ThreadState::Running
                            && r.sql_thread == orc_model::ThreadState::Running,
                        format!(
                            "replicates from {}:{} (io {:?}, sql {:?}) {} {}",
                            r.master_host,
                            r.master_port,
                            r.io_thread,
                            r.sql_thread,
                            r.last_io_error,
                            r.last_sql_error
                        ),
                    ),
                    Ok(None) => (false, "does not replicate".to_string()),
                    Err(e) => (false, e.clone()),
                };
                if ok {
                    return None;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Some(format!(
                        "{} does not replicate from {promoted}: {why}",
                        s.key
                    ));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    join_all(checks).await.into_iter().flatten().collect()
}
