//! Probing one server over a persistent connection.
//!
//! A probe runs the core queries as one multi-statement round trip (identity
//! variables, status, semi-sync variables, binary log status, replica status,
//! replica hosts, processlist), in the spelling the server's version needs
//! ([`Dialect`]), then the configured one-value queries. The identity query
//! decides the outcome: if it fails the probe failed; if a later statement
//! fails the probe partly succeeded. A configured one-value query that fails
//! (`Detect*Query` without a grant on the meta schema, ...) leaves its value
//! unset and is logged as a warning naming the key, the instance and the
//! error when it starts failing or its error changes, and once more when it
//! answers again ([`QueryFailures`]).

mod dialect;
mod failures;
mod parse;
mod settings;

use std::time::Instant;

use orc_model::{InstanceData, InstanceKey, ProbeError};

pub use dialect::Dialect;
pub use failures::{QueryFailures, QueryTransition};
pub use parse::{DetectedValues, instance_data, replica_keys, replication_status};
pub use settings::{DetectQueries, HostPatterns, ProbeSettings};

use crate::{ConnectOptions, Error, Session};

/// What a probe produced.
#[derive(Debug, Clone)]
pub enum ProbeResult {
    /// Everything answered.
    Ok(InstanceData),
    /// The identity query answered, a later one failed.
    Partial(InstanceData, ProbeError),
    /// The server could not be reached or its identity query failed.
    Failed(ProbeError),
}

/// A server probed over one persistent connection, reconnecting after errors.
#[derive(Debug)]
pub struct InstanceProbe {
    key: InstanceKey,
    opts: ConnectOptions,
    session: Option<Connected>,
    polls: u32,
    /// The slow-changing result sets of the last full probe: semi-sync
    /// variables, replica hosts, processlist.
    slow: Option<[Vec<crate::Row>; 3]>,
    /// Optional queries failing on this server.
    failures: QueryFailures,
}

#[derive(Debug)]
struct Connected {
    session: Session,
    dialect: Dialect,
    full: String,
    fast: String,
}

/// Every how many probes the slow-changing facts (semi-sync configuration,
/// registered replicas, replication connections) are read again; the
/// others reuse the last answer. Status, binary log position and
/// replication state are read on every probe.
pub const FULL_PROBE_EVERY: u32 = 10;

fn probe_error(e: &Error) -> ProbeError {
    ProbeError {
        kind: e.kind(),
        message: e.to_string(),
    }
}

impl InstanceProbe {
    /// A probe of `key` using `opts` (its host and port are the key's).
    pub fn new(key: InstanceKey, opts: ConnectOptions) -> Self {
        Self {
            key,
            opts,
            session: None,
            polls: 0,
            slow: None,
            failures: QueryFailures::default(),
        }
    }

    /// The server probed.
    pub fn key(&self) -> &InstanceKey {
        &self.key
    }

    /// Whether a connection is currently open.
    pub fn is_connected(&self) -> bool {
        self.session.is_some()
    }

    /// Hands the probe's open connection over for changing the server
    /// (saves a connection set-up when a read is followed by changes).
    pub fn into_operator(self) -> Option<crate::Operator> {
        let c = self.session?;
        Some(crate::Operator::from_session(
            self.key, c.session, c.dialect,
        ))
    }

    /// Opens the connection now unless one is open, so that the next probe
    /// costs no connection set-up (a standby prober keeps one ready).
    pub async fn connect(&mut self) -> Result<(), ProbeError> {
        self.ensure_session().await.map_err(|e| probe_error(&e))
    }

    /// Drops the connection; the next probe reconnects.
    pub fn disconnect(&mut self) {
        self.session = None;
    }

    async fn ensure_session(&mut self) -> Result<(), Error> {
        if self.session.is_some() {
            return Ok(());
        }
        let mut s = Session::connect(&self.opts).await?;
        let rows = s
            .query(
                "SELECT @@global.version AS version, @@global.version_comment AS version_comment",
            )
            .await?;
        let row = rows.first();
        let dialect = Dialect::detect(
            row.and_then(|r| r.get("version")).unwrap_or_default(),
            row.and_then(|r| r.get("version_comment"))
                .unwrap_or_default(),
        );
        let full = [
            dialect.identity_query(),
            dialect.status_query().to_string(),
            dialect.semi_sync_variables_query().to_string(),
            dialect.binlog_status().to_string(),
            dialect.replica_status().to_string(),
            dialect.replica_hosts().to_string(),
            dialect.processlist_replicas_query().to_string(),
        ]
        .join("; ");
        let fast = [
            dialect.identity_query(),
            dialect.status_query().to_string(),
            dialect.binlog_status().to_string(),
            dialect.replica_status().to_string(),
        ]
        .join("; ");
        self.session = Some(Connected {
            session: s,
            dialect,
            full,
            fast,
        });
        // A new connection may be a new server: read everything.
        self.slow = None;
        Ok(())
    }

    /// Probes once.
    pub async fn probe(&mut self, settings: &ProbeSettings) -> ProbeResult {
        if let Err(e) = self.ensure_session().await {
            return ProbeResult::Failed(probe_error(&e));
        }
        let full = self.slow.is_none() || self.polls.is_multiple_of(FULL_PROBE_EVERY);
        self.polls = self.polls.wrapping_add(1);
        let Some(connected) = self.session.as_mut() else {
            return ProbeResult::Failed(ProbeError {
                kind: orc_model::ProbeErrorKind::Other,
                message: "no session".into(),
            });
        };
        let batch = if full {
            &connected.full
        } else {
            &connected.fast
        };
        let (sets, error) = connected.session.query_multi_partial(batch).await;
        if sets.is_empty() || sets[0].is_empty() {
            self.session = None;
            let err = error.map_or_else(
                || ProbeError {
                    kind: orc_model::ProbeErrorKind::Query,
                    message: format!("{}: identity query returned no row", self.key),
                },
                |e| probe_error(&e),
            );
            return ProbeResult::Failed(err);
        }
        let expected = if full { parse::set::COUNT } else { 4 };
        let complete = sets.len() >= expected;
        let sets = if full {
            if complete {
                self.slow = Some([
                    sets[parse::set::SEMI_SYNC_VARIABLES].clone(),
                    sets[parse::set::REPLICA_HOSTS].clone(),
                    sets[parse::set::PROCESSLIST].clone(),
                ]);
            }
            sets
        } else {
            let mut fast = sets.into_iter();
            let slow = self.slow.clone().unwrap_or_default();
            let [semi, hosts, processlist] = slow;
            let mut merged = Vec::with_capacity(parse::set::COUNT);
            merged.push(fast.next().unwrap_or_default());
            merged.push(fast.next().unwrap_or_default());
            merged.push(semi);
            merged.extend(fast.by_ref().take(2));
            if complete {
                merged.push(hosts);
                merged.push(processlist);
            }
            merged
        };
        let detected = self.detect(settings).await;
        let Some(data) = instance_data(&self.key, &sets, &detected, settings) else {
            return ProbeResult::Failed(ProbeError {
                kind: orc_model::ProbeErrorKind::Query,
                message: format!("{}: identity query returned no row", self.key),
            });
        };
        match error {
            None if complete => ProbeResult::Ok(data),
            None => ProbeResult::Partial(
                data,
                ProbeError {
                    kind: orc_model::ProbeErrorKind::Query,
                    message: format!("{}: probe returned fewer result sets than asked", self.key),
                },
            ),
            Some(e) => {
                if matches!(e, Error::Timeout { .. }) {
                    self.session = None;
                }
                ProbeResult::Partial(data, probe_error(&e))
            }
        }
    }

    async fn detect(&mut self, settings: &ProbeSettings) -> DetectedValues {
        let q = &settings.queries;
        let mut out = DetectedValues::default();
        let Some(Connected { session, .. }) = self.session.as_mut() else {
            return out;
        };
        let slots: [(&'static str, &Option<String>, &mut Option<String>); 9] = [
            (
                "ReplicationLagQuery",
                &q.replication_lag,
                &mut out.replication_lag,
            ),
            (
                "DetectDataCenterQuery",
                &q.data_center,
                &mut out.data_center,
            ),
            ("DetectRegionQuery", &q.region, &mut out.region),
            (
                "DetectPhysicalEnvironmentQuery",
                &q.physical_environment,
                &mut out.physical_environment,
            ),
            (
                "DetectInstanceAliasQuery",
                &q.instance_alias,
                &mut out.instance_alias,
            ),
            (
                "DetectClusterAliasQuery",
                &q.cluster_alias,
                &mut out.cluster_alias,
            ),
            (
                "DetectClusterDomainQuery",
                &q.cluster_domain,
                &mut out.cluster_domain,
            ),
            (
                "DetectPromotionRuleQuery",
                &q.promotion_rule,
                &mut out.promotion_rule,
            ),
            (
                "DetectSemiSyncEnforcedQuery",
                &q.semi_sync_enforced,
                &mut out.semi_sync_enforced,
            ),
        ];
        for (key, query, slot) in slots {
            let Some(sql) = query.as_deref().filter(|s| !s.trim().is_empty()) else {
                continue;
            };
            let outcome = match session.query_value(sql).await {
                Ok(v) => {
                    *slot = v;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            };
            let change = self
                .failures
                .record(key, outcome.as_ref().map(|_| ()).map_err(String::as_str));
            log_transition(&self.key, change);
        }
        out
    }

    /// Times one probe: the result and its wall-clock duration.
    pub async fn probe_timed(
        &mut self,
        settings: &ProbeSettings,
    ) -> (ProbeResult, std::time::Duration) {
        let start = Instant::now();
        let r = self.probe(settings).await;
        (r, start.elapsed())
    }
}

/// Logs a change in an optional query's failures.
fn log_transition(instance: &InstanceKey, change: Option<QueryTransition>) {
    match change {
        None => {}
        Some(QueryTransition::Failing { key, error }) => tracing::warn!(
            key,
            %instance,
            %error,
            "configured query fails: its value is left unset until it answers"
        ),
        Some(QueryTransition::FailingDifferently {
            key,
            previous,
            error,
        }) => tracing::warn!(
            key,
            %instance,
            %error,
            %previous,
            "configured query fails with another error"
        ),
        Some(QueryTransition::Recovered { key, previous }) => tracing::info!(
            key,
            %instance,
            %previous,
            "configured query answers again"
        ),
    }
}
