//! Preconditions checked on fresh reads of the servers they name.

use std::collections::BTreeMap;

use orc_model::{InstanceKey, ThreadState};
use orc_mysql::ServerState;
use orc_planner::Condition;

use super::{Captured, Conns, Executor, StepError};

fn fails(c: &Condition, why: impl Into<String>) -> StepError {
    StepError::Precondition {
        condition: c.to_string(),
        why: why.into(),
    }
}

fn stopped(s: &ServerState) -> bool {
    s.replication
        .as_ref()
        .is_none_or(|r| r.io_thread == ThreadState::Stopped && r.sql_thread == ThreadState::Stopped)
}

impl Executor {
    /// Reads every server the conditions name once, then checks each.
    pub(crate) async fn check_all(
        &self,
        conns: &mut Conns,
        conditions: &[Condition],
    ) -> Result<(), StepError> {
        if conditions.is_empty() {
            return Ok(());
        }
        let mut states: BTreeMap<InstanceKey, Result<ServerState, StepError>> = BTreeMap::new();
        for c in conditions {
            for k in c.servers() {
                if states.contains_key(k) {
                    continue;
                }
                let state = match self.conn(conns, k).await {
                    Ok(op) => op
                        .state()
                        .await
                        .map_err(|e| StepError::Failed(e.to_string())),
                    Err(e) => Err(e),
                };
                if state.is_err() {
                    Self::drop_conn(conns, k);
                }
                states.insert(k.clone(), state);
            }
        }
        for c in conditions {
            self.check(c, &states)?;
        }
        Ok(())
    }

    fn check(
        &self,
        c: &Condition,
        states: &BTreeMap<InstanceKey, Result<ServerState, StepError>>,
    ) -> Result<(), StepError> {
        let state = |k: &InstanceKey| -> Result<&ServerState, StepError> {
            match states.get(k) {
                Some(Ok(s)) => Ok(s),
                Some(Err(e)) => Err(fails(c, format!("{k} cannot be read: {e}"))),
                None => Err(fails(c, format!("{k} was not read"))),
            }
        };
        match c {
            Condition::Reachable(k) => state(k).map(|_| ()),
            Condition::ReplicatesFrom { replica, source } => {
                let s = state(replica)?;
                let address = self.address(source);
                let configured = s.replication.as_ref().and_then(|r| r.master_key());
                if configured.as_ref() == Some(&address) || configured.as_ref() == Some(source) {
                    Ok(())
                } else {
                    Err(fails(
                        c,
                        format!(
                            "{replica} replicates from {}",
                            configured.map_or_else(|| "nothing".to_string(), |k| k.to_string())
                        ),
                    ))
                }
            }
            Condition::NoSource(k) => {
                let s = state(k)?;
                match s.replication.as_ref() {
                    Some(r) if r.master_key().is_some() || r.is_detached() => Err(fails(
                        c,
                        format!("{k} replicates from {}:{}", r.master_host, r.master_port),
                    )),
                    _ => Ok(()),
                }
            }
            Condition::ReplicationStopped(k) => {
                let s = state(k)?;
                if stopped(s) {
                    Ok(())
                } else {
                    Err(fails(c, format!("replication runs on {k}")))
                }
            }
            Condition::ReplicationRunning(k) => {
                let s = state(k)?;
                match s.replication.as_ref() {
                    Some(r) if r.is_replicating() => Ok(()),
                    Some(r) => Err(fails(
                        c,
                        format!(
                            "io {:?} {} / sql {:?} {}",
                            r.io_thread, r.last_io_error, r.sql_thread, r.last_sql_error
                        ),
                    )),
                    None => Err(fails(c, format!("{k} does not replicate"))),
                }
            }
            Condition::ReadOnly(k) => {
                if state(k)?.read_only {
                    Ok(())
                } else {
                    Err(fails(c, format!("{k} is writable")))
                }
            }
            Condition::Writable(k) => {
                if state(k)?.read_only {
                    Err(fails(c, format!("{k} is read-only")))
                } else {
                    Ok(())
                }
            }
            Condition::LogsReplicaUpdates(k) => {
                let s = state(k)?;
                if s.log_bin && s.log_replica_updates {
                    Ok(())
                } else {
                    Err(fails(c, format!("{k} lacks log_bin or log_slave_updates")))
                }
            }
            Condition::Detached(k) => {
                if state(k)?
                    .replication
                    .as_ref()
                    .is_some_and(|r| r.is_detached())
                {
                    Ok(())
                } else {
                    Err(fails(c, format!("{k} is not detached")))
                }
            }
            Condition::SameExecPosition(a, b) => {
                let ea = state(a)?
                    .replication
                    .as_ref()
                    .map(|r| r.exec_coordinates.clone());
                let eb = state(b)?
                    .replication
                    .as_ref()
                    .map(|r| r.exec_coordinates.clone());
                if ea.is_some() && ea == eb {
                    Ok(())
                } else {
                    Err(fails(c, format!("{a} at {ea:?}, {b} at {eb:?}")))
                }
            }
            Condition::ExecutedUpTo { on, capture } => {
                let Captured::Coordinates(want) = self.capture_value(capture)? else {
                    return Err(fails(c, format!("{capture} is not a binary log position")));
                };
                let at = state(on)?
                    .replication
                    .as_ref()
                    .map(|r| r.exec_coordinates.clone());
                match at {
                    Some(e) if e >= want => Ok(()),
                    other => Err(fails(
                        c,
                        format!("{on} executed up to {other:?}, not {want}"),
                    )),
                }
            }
        }
    }
}
