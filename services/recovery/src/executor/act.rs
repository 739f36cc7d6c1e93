//! What each action does to a server (or to the store, or hooks).

use std::time::Duration;

use orc_bus::subjects;
use orc_model::{BinlogCoordinates, Downtime, InstanceKey, MysqlGtidSet, ThreadState};
use orc_mysql::{ChangeSource, Operator, StartPosition};
use orc_planner::{Action, Capture, Credentials, Position, SemiSyncRole};
use orc_proto::v1 as wire;
use orc_runtime::wall_clock;

use super::{Captured, Conns, Executor, StepError};

/// How long a started replica gets to show both threads running.
const START_PATIENCE: Duration = Duration::from_secs(5);
/// At most this many empty transactions are injected by one step.
const MAX_INJECTED: u64 = 10_000;

fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> StepError {
    StepError::Failed(format!("{what}: {e}"))
}

fn mysql_gtid(gtids: &str) -> Result<MysqlGtidSet, StepError> {
    MysqlGtidSet::parse(gtids).map_err(|e| failed("GTID set", e))
}

/// Every single GTID of a MySQL set, in order (bounded).
fn each_gtid(set: &MysqlGtidSet) -> Result<Vec<String>, StepError> {
    if set.count() > MAX_INJECTED {
        return Err(StepError::Failed(format!(
            "{} transactions is more than {MAX_INJECTED}: refusing to inject them one by one",
            set.count()
        )));
    }
    let mut out = Vec::new();
    for (source, intervals) in set.sources() {
        let prefix = if source.tag.is_empty() {
            source.uuid.clone()
        } else {
            format!("{}:{}", source.uuid, source.tag)
        };
        for (a, b) in intervals.ranges() {
            for n in *a..=*b {
                out.push(format!("{prefix}:{n}"));
            }
        }
    }
    Ok(out)
}

impl Executor {
    pub(crate) async fn act(&self, conns: &mut Conns, action: &Action) -> Result<(), StepError> {
        match action {
            Action::StopReplica(k) => {
                let op = self.conn(conns, k).await?;
                op.stop_replica().await.map_err(|e| failed(k, e))
            }
            Action::StopIoThread(k) => {
                let op = self.conn(conns, k).await?;
                op.stop_io_thread().await.map_err(|e| failed(k, e))
            }
            Action::StartSqlThread(k) => {
                let op = self.conn(conns, k).await?;
                op.start_sql_thread().await.map_err(|e| failed(k, e))
            }
            Action::StartReplica(k) => {
                let op = self.conn(conns, k).await?;
                op.start_replica().await.map_err(|e| failed(k, e))?;
                wait_running(op, k).await
            }
            Action::WaitRelayLogApplied(k) => {
                let limit = self.cfg.maintenance_lag;
                let op = self.conn(conns, k).await?;
                wait_applied(op, k, limit).await
            }
            Action::RunUntil { on, until } => {
                let Captured::Coordinates(target) = self.capture_value(until)? else {
                    return Err(StepError::Failed(format!(
                        "{until} is not a binary log position"
                    )));
                };
                let limit = self.cfg.maintenance_lag;
                let op = self.conn(conns, on).await?;
                run_until(op, on, &target, limit).await
            }
            Action::SyncSiblings { a, b } => self.sync_siblings(conns, a, b).await,
            Action::WaitForGtid { on, position } => {
                let Captured::Gtid(pos) = self.capture_value(position)? else {
                    return Err(StepError::Failed(format!(
                        "{position} is not a GTID position"
                    )));
                };
                let limit = self.cfg.maintenance_lag;
                let op = self.conn(conns, on).await?;
                match op.wait_for_gtid(&pos, limit).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(StepError::Failed(format!(
                        "{on} did not apply {pos} within {limit:?}"
                    ))),
                    Err(e) => Err(failed(on, e)),
                }
            }
            Action::ChangeSource {
                on,
                source,
                position,
                credentials,
            } => {
                let address = self.address(source);
                let position = match position {
                    Position::MariadbSlavePos => StartPosition::MariadbSlavePos,
                    Position::MariadbCurrentPos => StartPosition::MariadbCurrentPos,
                    Position::AutoPosition => StartPosition::AutoPosition,
                    Position::Captured(name) => match self.capture_value(name)? {
                        Captured::Coordinates(c) => StartPosition::File {
                            file: c.log_file,
                            pos: c.log_pos,
                        },
                        Captured::Gtid(_) => {
                            return Err(StepError::Failed(format!(
                                "{name} is not a binary log position"
                            )));
                        }
                    },
                };
                let credentials = match credentials {
                    Credentials::Keep => None,
                    Credentials::Configured => Some(self.credentials.clone().ok_or_else(|| {
                        StepError::Failed(
                            "replication credentials are unknown (ReplicationCredentialsQuery, ReplicationUser)"
                                .into(),
                        )
                    })?),
                };
                let op = self.conn(conns, on).await?;
                op.change_source(&ChangeSource {
                    host: address.hostname().to_string(),
                    port: address.port(),
                    position,
                    credentials,
                })
                .await
                .map_err(|e| failed(on, e))
            }
            Action::DetachSource(k) => self.set_host(conns, k, true).await,
            Action::ReattachSource(k) => self.set_host(conns, k, false).await,
            Action::ResetReplica(k) => {
                let op = self.conn(conns, k).await?;
                op.reset_replica_all().await.map_err(|e| failed(k, e))
            }
            Action::SetReadOnly { on, read_only } => {
                let use_super = self.cfg.use_super_read_only;
                let op = self.conn(conns, on).await?;
                op.set_read_only(*read_only, use_super)
                    .await
                    .map_err(|e| failed(on, e))
            }
            Action::Capture { name, what } => {
                let value = self.read_capture(conns, what).await?;
                self.note(format!("{name} = {}", describe(&value)));
                if name.starts_with("successor")
                    && let Captured::Coordinates(c) = &value
                {
                    let text = c.to_string();
                    self.update_hook(|h| h.successor_binlog_coordinates = text);
                }
                self.store_capture(name, value);
                Ok(())
            }
            Action::SkipQuery(k) => self.skip_query(conns, k).await,
            Action::FlushBinaryLogs(k) => {
                let op = self.conn(conns, k).await?;
                op.exec("FLUSH BINARY LOGS").await.map_err(|e| failed(k, e))
            }
            Action::PurgeBinaryLogs { on, to } => {
                let op = self.conn(conns, on).await?;
                op.exec(&orc_mysql::ops::purge_binary_logs(to))
                    .await
                    .map_err(|e| failed(on, e))
            }
            Action::SetSemiSync { on, role, enabled } => {
                let op = self.conn(conns, on).await?;
                op.set_semi_sync(*role == SemiSyncRole::Master, *enabled)
                    .await
                    .map_err(|e| failed(on, e))
            }
            Action::DelayReplication { on, seconds } => {
                let op = self.conn(conns, on).await?;
                op.change_delay(*seconds).await.map_err(|e| failed(on, e))
            }
            Action::KillQuery { on, process } => {
                let op = self.conn(conns, on).await?;
                op.exec(&format!("KILL QUERY {process}"))
                    .await
                    .map_err(|e| failed(on, e))
            }
            Action::InjectEmptyTransactions { on, gtids } => {
                let all = each_gtid(&mysql_gtid(gtids)?)?;
                let op = self.conn(conns, on).await?;
                for g in all {
                    op.exec(&orc_mysql::ops::empty_transaction(&g))
                        .await
                        .map_err(|e| failed(on, e))?;
                }
                Ok(())
            }
            Action::ResetMasterKeeping { on, errant } => {
                let errant = mysql_gtid(errant)?;
                let op = self.conn(conns, on).await?;
                let executed =
                    mysql_gtid(&op.own_gtid_position().await.map_err(|e| failed(on, e))?)?;
                let keep = executed.difference(&errant);
                op.exec("RESET MASTER").await.map_err(|e| failed(on, e))?;
                op.exec(&format!(
                    "SET GLOBAL gtid_purged = {}",
                    orc_mysql::ops::quote(&keep.to_string())
                ))
                .await
                .map_err(|e| failed(on, e))
            }
            Action::Downtime { on, reason } => {
                let until = wall_clock().plus(self.cfg.lost_downtime);
                self.downtime(on, Some((reason.clone(), until))).await
            }
            Action::EndDowntime(k) => self.downtime(k, None).await,
            Action::PublishMaster(k) => self.publish_master(k).await,
            Action::Hooks(stage) => {
                let ctx = self.hook_context();
                crate::hooks::run(&self.cfg, *stage, &ctx, Some(&*self.notes))
                    .await
                    .map_err(|e| StepError::Failed(e.to_string()))
            }
        }
    }

    /// Publishes `master` in every KV store with the plan's fencing token;
    /// each store's answer is a note. Fails when a store failed; a store
    /// that holds a newer token (a later recovery published already) is
    /// not a failure: nothing was overwritten, as it should be.
    async fn publish_master(&self, master: &InstanceKey) -> Result<(), StepError> {
        if self.cfg.kv.is_empty() {
            self.note("no KV store configured (EtcdAddress): master not published".into());
            return Ok(());
        }
        let alias = self.hook_context().cluster_alias;
        let token = self.lease.token();
        let mut failed = Vec::new();
        for r in self.cfg.kv.publish(&alias, master, token).await {
            match r.result {
                Ok(orc_kv::Published::Written) => self.note(format!(
                    "{}: {}{alias} = {master} (fencing token {token})",
                    r.store,
                    self.cfg.kv.prefix()
                )),
                Ok(orc_kv::Published::Stale { stored }) => self.note(format!(
                    "{}: {}{alias} not written: it holds fencing token {stored}, newer than ours ({token})",
                    r.store,
                    self.cfg.kv.prefix()
                )),
                Err(e) => failed.push(e.to_string()),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(StepError::Failed(failed.join("; ")))
        }
    }

    async fn read_capture(&self, conns: &mut Conns, what: &Capture) -> Result<Captured, StepError> {
        match what {
            Capture::SelfCoordinates(k) => {
                let op = self.conn(conns, k).await?;
                let (file, pos) = op
                    .binlog_coordinates()
                    .await
                    .map_err(|e| failed(k, e))?
                    .ok_or_else(|| {
                        StepError::Failed(format!("{k} reports no binary log position"))
                    })?;
                Ok(Captured::Coordinates(BinlogCoordinates::binary(file, pos)))
            }
            Capture::ExecCoordinates(k) => {
                let op = self.conn(conns, k).await?;
                let r = op
                    .replication()
                    .await
                    .map_err(|e| failed(k, e))?
                    .ok_or_else(|| StepError::Failed(format!("{k} does not replicate")))?;
                Ok(Captured::Coordinates(known_exec(k, r.exec_coordinates)?))
            }
            Capture::GtidExecuted(k) => {
                let op = self.conn(conns, k).await?;
                Ok(Captured::Gtid(
                    op.own_gtid_position().await.map_err(|e| failed(k, e))?,
                ))
            }
            Capture::GtidApplied(k) => {
                let op = self.conn(conns, k).await?;
                Ok(Captured::Gtid(
                    op.applied_gtid_position().await.map_err(|e| failed(k, e))?,
                ))
            }
            Capture::PseudoGtidMatch { replica, target } => {
                self.pseudo_gtid_match(conns, replica, target).await
            }
        }
    }

    async fn sync_siblings(
        &self,
        conns: &mut Conns,
        a: &InstanceKey,
        b: &InstanceKey,
    ) -> Result<(), StepError> {
        let exec = |r: Option<orc_model::ReplicationStatus>, k: &InstanceKey| {
            r.map(|r| r.exec_coordinates)
                .ok_or_else(|| StepError::Failed(format!("{k} does not replicate")))
                .and_then(|c| known_exec(k, c))
        };
        let ea = exec(
            self.conn(conns, a)
                .await?
                .replication()
                .await
                .map_err(|e| failed(a, e))?,
            a,
        )?;
        let eb = exec(
            self.conn(conns, b)
                .await?
                .replication()
                .await
                .map_err(|e| failed(b, e))?,
            b,
        )?;
        let (behind, target) = match ea.cmp(&eb) {
            std::cmp::Ordering::Equal => return Ok(()),
            std::cmp::Ordering::Less => (a, eb),
            std::cmp::Ordering::Greater => (b, ea),
        };
        self.note(format!("{behind} runs until {target}"));
        let limit = self.cfg.maintenance_lag;
        let op = self.conn(conns, behind).await?;
        run_until(op, behind, &target, limit).await
    }

    /// Points a replica at `//host` (detach) or back at `host` (reattach),
    /// keeping its executed position when it does not use GTID.
    async fn set_host(
        &self,
        conns: &mut Conns,
        k: &InstanceKey,
        detach: bool,
    ) -> Result<(), StepError> {
        let op = self.conn(conns, k).await?;
        let r = op
            .replication()
            .await
            .map_err(|e| failed(k, e))?
            .ok_or_else(|| StepError::Failed(format!("{k} does not replicate")))?;
        let host = if detach {
            if r.is_detached() {
                return Ok(());
            }
            format!("//{}", r.master_host)
        } else {
            r.master_host.trim_start_matches('/').to_string()
        };
        let gtid = r.auto_position || r.uses_mariadb_gtid();
        let exec = r.exec_coordinates.clone();
        let keep =
            (!gtid && !exec.log_file.is_empty()).then_some((exec.log_file.as_str(), exec.log_pos));
        op.change_host(&host, keep).await.map_err(|e| failed(k, e))
    }

    async fn skip_query(&self, conns: &mut Conns, k: &InstanceKey) -> Result<(), StepError> {
        let op = self.conn(conns, k).await?;
        let r = op
            .replication()
            .await
            .map_err(|e| failed(k, e))?
            .ok_or_else(|| StepError::Failed(format!("{k} does not replicate")))?;
        if !r.auto_position || op.is_mariadb() {
            return op.skip_one().await.map_err(|e| failed(k, e));
        }
        // MySQL GTID: the next transaction of the source is committed empty.
        let executed = mysql_gtid(&r.executed_gtid_set)?;
        let retrieved = mysql_gtid(&r.retrieved_gtid_set)?;
        let pending = retrieved.difference(&executed);
        let next = each_gtid(&pending)?
            .into_iter()
            .find(|g| r.master_uuid.is_empty() || g.starts_with(&r.master_uuid))
            .ok_or_else(|| {
                StepError::Failed(format!("{k} has no retrieved transaction to skip"))
            })?;
        self.note(format!("{k}: skipping {next}"));
        op.exec(&orc_mysql::ops::empty_transaction(&next))
            .await
            .map_err(|e| failed(k, e))
    }

    async fn downtime(
        &self,
        k: &InstanceKey,
        until: Option<(String, orc_model::Timestamp)>,
    ) -> Result<(), StepError> {
        let now = wall_clock();
        self.store
            .metadata()
            .update(k, now, |m| {
                m.downtime = until.clone().map(|(reason, ends_at)| Downtime {
                    owner: "orchestrator-rs".into(),
                    reason,
                    begins_at: now,
                    ends_at,
                });
            })
            .await
            .map_err(|e| failed(format!("downtime of {k}"), e))?;
        let ev = wire::MetadataChanged {
            keys: vec![k.into()],
        };
        let _ = self
            .bus
            .publish(subjects::METADATA_CHANGED, orc_bus::encode(&ev))
            .await;
        Ok(())
    }
}

fn describe(v: &Captured) -> String {
    match v {
        Captured::Coordinates(c) => c.to_string(),
        Captured::Gtid(g) if g.is_empty() => "(empty GTID set)".into(),
        Captured::Gtid(g) => g.clone(),
    }
}

/// Waits until both threads run, or says why not.
async fn wait_running(op: &mut Operator, k: &InstanceKey) -> Result<(), StepError> {
    let deadline = tokio::time::Instant::now() + START_PATIENCE;
    // Threads usually run within a millisecond or two: look often first.
    let mut pause = Duration::from_millis(1);
    loop {
        let r = op.replication().await.map_err(|e| failed(k, e))?;
        let Some(r) = r else {
            return Err(StepError::Failed(format!(
                "{k} has no replication configured"
            )));
        };
        if r.is_replicating() {
            return Ok(());
        }
        let sql_broken = r.sql_thread == ThreadState::Stopped && !r.last_sql_error.is_empty();
        let io_broken = r.io_thread == ThreadState::Stopped && !r.last_io_error.is_empty();
        if sql_broken || io_broken || tokio::time::Instant::now() >= deadline {
            return Err(StepError::Failed(format!(
                "{k} does not replicate: io {:?} {} / sql {:?} {}",
                r.io_thread, r.last_io_error, r.sql_thread, r.last_sql_error
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Waits until the SQL thread applied everything the IO thread read.
async fn wait_applied(
    op: &mut Operator,
    k: &InstanceKey,
    limit: Duration,
) -> Result<(), StepError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let r = op
            .replication()
            .await
            .map_err(|e| failed(k, e))?
            .ok_or_else(|| StepError::Failed(format!("{k} does not replicate")))?;
        if r.read_coordinates == r.exec_coordinates || r.sql_thread != ThreadState::Running {
            return if r.read_coordinates == r.exec_coordinates {
                Ok(())
            } else {
                Err(StepError::Failed(format!(
                    "{k}: SQL thread stopped at {} before reaching {}: {}",
                    r.exec_coordinates, r.read_coordinates, r.last_sql_error
                )))
            };
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StepError::Failed(format!(
                "{k} did not apply its relay logs within {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs a stopped replica until it executed `target` of its source, then
/// stops it.
async fn run_until(
    op: &mut Operator,
    k: &InstanceKey,
    target: &BinlogCoordinates,
    limit: Duration,
) -> Result<(), StepError> {
    let at = op
        .replication()
        .await
        .map_err(|e| failed(k, e))?
        .map(|r| r.exec_coordinates)
        .unwrap_or_default();
    if &at < target {
        op.start_replica_until(&target.log_file, target.log_pos)
            .await
            .map_err(|e| failed(k, e))?;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let r = op
                .replication()
                .await
                .map_err(|e| failed(k, e))?
                .ok_or_else(|| StepError::Failed(format!("{k} does not replicate")))?;
            if &r.exec_coordinates >= target {
                break;
            }
            if r.sql_thread == ThreadState::Stopped && !r.last_sql_error.is_empty() {
                return Err(StepError::Failed(format!(
                    "{k}: SQL thread stopped at {}: {}",
                    r.exec_coordinates, r.last_sql_error
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = op.stop_replica().await;
                return Err(StepError::Failed(format!(
                    "{k} did not reach {target} within {limit:?} (at {})",
                    r.exec_coordinates
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    } else if &at > target {
        return Err(StepError::Failed(format!(
            "{k} executed {at}, past {target}: it cannot be brought back"
        )));
    }
    op.stop_replica().await.map_err(|e| failed(k, e))
}

/// A replica's executed position in its source's logs, or a refusal when the
/// replica does not know it: right after its relay logs were reset (a
/// CHANGE MASTER, GTID switched on) and before the source's first event
/// arrived, the server answers an empty file at position 4, and pointing
/// anything there would replay the source's logs from their start.
fn known_exec(k: &InstanceKey, c: BinlogCoordinates) -> Result<BinlogCoordinates, StepError> {
    if c.log_file.is_empty() {
        return Err(StepError::Failed(format!(
            "{k} does not know its position in its source's binary logs yet (no event executed since its relay logs were reset); retry once it has replicated"
        )));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_executed_position_is_refused_not_used() {
        let k = InstanceKey::new("db1", 3306).unwrap();
        let err = known_exec(&k, BinlogCoordinates::binary("", 4)).unwrap_err();
        assert!(
            matches!(&err, StepError::Failed(m) if m.contains("does not know its position")),
            "{err:?}"
        );
        let c = BinlogCoordinates::binary("mysql-bin.000003", 1234);
        assert_eq!(known_exec(&k, c.clone()).unwrap(), c);
    }
}
