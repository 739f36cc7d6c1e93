//! Planned switches of mastership between two live servers: graceful
//! takeover, and the hand-over from the replica promoted in an emergency to
//! the ideal one. Only with GTID: every replica's place on the new master
//! follows from what it executed.
//!
//! The order keeps writes safe: the master turns read-only, everyone
//! (designated replica and siblings) catches up to its last transaction,
//! the siblings move under the designated replica, the designated replica
//! is promoted, and the old master replicates from it.

use std::time::Duration;

use futures_util::future::join_all;
use orc_model::{InstanceKey, PromotionRule};
use orc_mysql::{ChangeSource, StartPosition};

use crate::config::RecoveryConfig;
use crate::failover::repoint;
use crate::journal::Stepper;
use crate::servers::{Server, refresh_all};

/// The servers of a switch.
#[derive(Debug)]
pub struct Switch {
    /// The current master.
    pub master: Server,
    /// The replica taking over.
    pub designated: Server,
    /// The master's other direct replicas.
    pub siblings: Vec<Server>,
}

fn uses_gtid(s: &Server) -> bool {
    s.data.as_ref().is_some_and(|d| {
        d.replication.as_ref().is_some_and(|r| {
            r.auto_position || (r.uses_mariadb_gtid() && d.flavor == orc_model::Flavor::Mariadb)
        })
    })
}

fn position(s: &Server, former_master: bool) -> StartPosition {
    let mariadb = s
        .data
        .as_ref()
        .is_some_and(|d| d.flavor == orc_model::Flavor::Mariadb);
    match (mariadb, former_master) {
        (true, true) => StartPosition::MariadbCurrentPos,
        (true, false) => StartPosition::MariadbSlavePos,
        (false, _) => StartPosition::AutoPosition,
    }
}

impl Switch {
    /// Reads every server.
    pub async fn refresh(&mut self, cfg: &RecoveryConfig) {
        let mut all: Vec<&mut Server> = vec![&mut self.master, &mut self.designated];
        all.extend(self.siblings.iter_mut());
        join_all(all.into_iter().map(|s| s.refresh(cfg))).await;
    }

    /// Refuses a switch that cannot be done safely.
    pub fn check(&self, cfg: &RecoveryConfig, rule: PromotionRule) -> Result<(), String> {
        let m = &self.master;
        let d = &self.designated;
        if !m.reachable() {
            return Err(format!(
                "master {} cannot be reached: {}",
                m.key,
                m.error.clone().unwrap_or_default()
            ));
        }
        let Some(data) = d.data.as_ref() else {
            return Err(format!(
                "designated instance {} cannot be reached: {}",
                d.key,
                d.error.clone().unwrap_or_default()
            ));
        };
        let Some(r) = data.replication.as_ref() else {
            return Err(format!("designated instance {} does not replicate", d.key));
        };
        if r.master_port != m.address.port() {
            return Err(format!(
                "designated instance {} does not replicate from {}",
                d.key, m.key
            ));
        }
        if rule == PromotionRule::MustNot {
            return Err(format!(
                "designated instance {} has promotion rule must_not",
                d.key
            ));
        }
        if cfg.promotion.ignores_hostname(d.key.hostname()) {
            return Err(format!(
                "designated instance {} matches PromotionIgnoreHostnameFilters",
                d.key
            ));
        }
        if !data.log_bin || !data.log_replica_updates {
            return Err(format!(
                "designated instance {} needs log_bin and log_slave_updates to serve the others",
                d.key
            ));
        }
        if !uses_gtid(d) || self.siblings.iter().any(|s| s.reachable() && !uses_gtid(s)) {
            return Err(
                "planned switches need GTID replication (MariaDB GTID or MySQL auto-position) on the designated instance and its siblings".into(),
            );
        }
        let lag = r.seconds_behind_master.unwrap_or(0);
        if lag > i64::try_from(cfg.maintenance_lag.as_secs()).unwrap_or(i64::MAX) {
            return Err(format!(
                "designated instance {} lags {lag}s, more than ReasonableMaintenanceReplicationLagSeconds ({}s)",
                d.key,
                cfg.maintenance_lag.as_secs()
            ));
        }
        Ok(())
    }

    /// Makes the master read-only and waits until the designated replica
    /// and the siblings executed everything it wrote.
    pub async fn quiesce(&mut self, cfg: &RecoveryConfig, steps: &Stepper) -> Result<(), String> {
        let op = self.master.op(cfg).await?;
        op.set_read_only(true, cfg.use_super_read_only)
            .await
            .map_err(|e| e.to_string())?;
        let position = op.own_gtid_position().await.map_err(|e| e.to_string())?;
        steps.step(format!(
            "{} is read-only at {position}; waiting for its replicas",
            self.master.key
        ));
        let limit = cfg.maintenance_lag;
        let mut waiting: Vec<&mut Server> = vec![&mut self.designated];
        waiting.extend(self.siblings.iter_mut().filter(|s| s.reachable()));
        let waits = waiting.into_iter().map(|s| {
            let position = position.clone();
            async move {
                let key = s.key.clone();
                let op = s.op(cfg).await?;
                match op.wait_for_gtid(&position, limit).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(format!("{key} did not reach {position} within {limit:?}")),
                    Err(e) => Err(format!("{key}: {e}")),
                }
            }
        });
        let errors: Vec<String> = join_all(waits)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Undoes [`Switch::quiesce`]: the master takes writes again.
    pub async fn revert(&mut self, cfg: &RecoveryConfig) -> Result<(), String> {
        let op = self.master.op(cfg).await?;
        op.set_read_only(false, cfg.use_super_read_only)
            .await
            .map_err(|e| e.to_string())
    }

    /// Moves the siblings under the designated replica.
    pub async fn relocate_siblings(
        &mut self,
        cfg: &RecoveryConfig,
        steps: &Stepper,
    ) -> Result<Vec<InstanceKey>, String> {
        let target = self.designated.address.clone();
        let designated = self.designated.key.clone();
        let moves = self.siblings.iter_mut().filter(|s| s.reachable()).map(|s| {
            let target = target.clone();
            async move {
                let pos = position(s, false);
                let r = repoint(cfg, s, &target, pos, None).await;
                (s.key.clone(), r)
            }
        });
        let mut moved = Vec::new();
        let mut errors = Vec::new();
        for (key, r) in join_all(moves).await {
            match r {
                Ok(()) => {
                    steps.step(format!("{key} now replicates from {designated}"));
                    moved.push(key);
                }
                Err(e) => errors.push(format!("moving {key} under {designated}: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(moved)
        } else {
            Err(errors.join("; "))
        }
    }

    /// Makes the designated replica the master.
    pub async fn promote(&mut self, cfg: &RecoveryConfig) -> Result<String, String> {
        let op = self.designated.op(cfg).await?;
        op.stop_replica().await.map_err(|e| e.to_string())?;
        op.reset_replica_all().await.map_err(|e| e.to_string())?;
        op.set_read_only(false, cfg.use_super_read_only)
            .await
            .map_err(|e| e.to_string())?;
        Ok(op
            .binlog_coordinates()
            .await
            .ok()
            .flatten()
            .map(|(f, p)| format!("{f}:{p}"))
            .unwrap_or_default())
    }

    /// Replication credentials for the old master: `ReplicationCredentialsQuery`
    /// on the designated replica, else `ReplicationUser`/`ReplicationPassword`.
    pub async fn credentials(&mut self, cfg: &RecoveryConfig) -> Option<(String, String)> {
        if !cfg.credentials_query.trim().is_empty()
            && let Ok(op) = self.designated.op(cfg).await
            && let Ok(rows) = op.rows(&cfg.credentials_query).await
            && let Some(row) = rows.first()
            && let (Some(user), Some(password)) = (row.at(0), row.at(1))
        {
            return Some((user.to_string(), password.to_string()));
        }
        cfg.replication_credentials.clone()
    }

    /// Points the old master at the new one and starts replication.
    pub async fn demote(
        &mut self,
        cfg: &RecoveryConfig,
        credentials: Option<(String, String)>,
    ) -> Result<(), String> {
        let target = self.designated.address.clone();
        let pos = position(&self.master, true);
        let op = self.master.op(cfg).await?;
        op.stop_replica().await.map_err(|e| e.to_string())?;
        op.change_source(&ChangeSource {
            host: target.hostname().to_string(),
            port: target.port(),
            position: pos,
            credentials,
        })
        .await
        .map_err(|e| e.to_string())?;
        op.start_replica().await.map_err(|e| e.to_string())
    }

    /// Waits until the old master replicates from the new one.
    pub async fn verify_demoted(
        &mut self,
        cfg: &RecoveryConfig,
        limit: Duration,
    ) -> Result<(), String> {
        let target = self.designated.address.clone();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let op = self.master.op(cfg).await?;
            let r = op.replication().await.map_err(|e| e.to_string())?;
            if let Some(r) = &r {
                if r.master_port == target.port()
                    && r.io_thread == orc_model::ThreadState::Running
                    && r.sql_thread == orc_model::ThreadState::Running
                {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(format!(
                        "{} does not replicate from {}: io {:?} {} / sql {:?} {}",
                        self.master.key,
                        self.designated.key,
                        r.io_thread,
                        r.last_io_error,
                        r.sql_thread,
                        r.last_sql_error
                    ));
                }
            } else if tokio::time::Instant::now() >= deadline {
                return Err(format!("{} does not replicate", self.master.key));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every server of the switch, for reading them all.
    pub async fn refresh_siblings(&mut self, cfg: &RecoveryConfig) {
        refresh_all(cfg, &mut self.siblings).await;
    }
}
