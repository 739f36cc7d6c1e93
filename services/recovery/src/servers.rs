//! The servers a plan is made from: fresh facts read directly (not from
//! the analyzer's view, which may be a poll old).

use std::time::Duration;

use futures_util::future::join_all;
use orc_model::{InstanceData, InstanceKey, InstanceState};
use orc_mysql::{InstanceProbe, ProbeResult};

use crate::config::RecoveryConfig;

/// One server: who it is, where to reach it, what it looks like now.
#[derive(Debug)]
pub struct Server {
    /// Its identity (the key the analysis uses).
    pub key: InstanceKey,
    /// Where to connect.
    pub address: InstanceKey,
    /// The latest facts, when it answered.
    pub data: Option<InstanceData>,
    /// Why it did not answer.
    pub error: Option<String>,
    probe: InstanceProbe,
}

impl Server {
    /// A server to be read.
    pub fn new(cfg: &RecoveryConfig, key: InstanceKey, address: InstanceKey) -> Self {
        let probe = InstanceProbe::new(address.clone(), cfg.probe_options(&address));
        Self {
            key,
            address,
            data: None,
            error: None,
            probe,
        }
    }

    /// A server known from the analyzer's view.
    pub fn of_state(cfg: &RecoveryConfig, state: &InstanceState) -> Self {
        Self::new(cfg, state.key.clone(), state.probe_address().clone())
    }

    /// Its open connection, for the executor: from now on its statements
    /// are bounded by `MySQLTopologyReadTimeoutSeconds`.
    pub fn into_operator(self, cfg: &RecoveryConfig) -> Option<orc_mysql::Operator> {
        let mut op = self.probe.into_operator()?;
        op.set_read_timeout(cfg.statement_timeout);
        Some(op)
    }

    /// Whether it answered the last read.
    pub fn reachable(&self) -> bool {
        self.data.is_some()
    }

    /// Reads its facts again.
    pub async fn refresh(&mut self, cfg: &RecoveryConfig) {
        match self.probe.probe(&cfg.probe).await {
            ProbeResult::Ok(d) | ProbeResult::Partial(d, _) => {
                self.data = Some(d);
                self.error = None;
            }
            ProbeResult::Failed(e) => {
                self.data = None;
                self.error = Some(e.message);
            }
        }
    }

    /// Whether its SQL thread applied what it received (or it does not replicate).
    pub fn relay_log_applied(&self) -> bool {
        self.data.as_ref().is_none_or(|d| {
            orc_promotion::sql_thread_up_to_date(d)
                || d.replication
                    .as_ref()
                    .is_none_or(|r| r.sql_thread != orc_model::ThreadState::Running)
        })
    }
}

/// Waits, without changing anything, until every reachable server's SQL
/// thread has applied its relay log (a dead master sends nothing more), or
/// `limit` passes. Returns the servers still behind.
pub async fn wait_relay_logs(
    cfg: &RecoveryConfig,
    servers: &mut [Server],
    limit: Duration,
) -> Vec<InstanceKey> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let behind: Vec<usize> = servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.reachable() && !s.relay_log_applied())
            .map(|(i, _)| i)
            .collect();
        if behind.is_empty() || tokio::time::Instant::now() >= deadline {
            return behind.iter().map(|i| servers[*i].key.clone()).collect();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        join_all(
            servers
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| behind.contains(i))
                .map(|(_, s)| s.refresh(cfg)),
        )
        .await;
    }
}
