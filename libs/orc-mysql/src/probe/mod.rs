//! Probing one server over a persistent connection.
//!
//! A probe runs the core queries as one multi-statement round trip (identity
//! variables, status, semi-sync variables, binary log status, replica status,
//! replica hosts, processlist), in the spelling the server's version needs
//! ([`Dialect`]), then the configured one-value queries. The identity query
//! decides the outcome: if it fails the probe failed; if a later statement
//! fails the probe partly succeeded.

mod dialect;
mod parse;
mod settings;

use std::time::Instant;

use orc_model::{InstanceData, InstanceKey, ProbeError};

pub use dialect::Dialect;
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
    session: Option<(Session, Dialect, String)>,
}

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
        let batch = [
            dialect.identity_query(),
            dialect.status_query().to_string(),
            dialect.semi_sync_variables_query().to_string(),
            dialect.binlog_status().to_string(),
            dialect.replica_status().to_string(),
            dialect.replica_hosts().to_string(),
            dialect.processlist_replicas_query().to_string(),
        ]
        .join("; ");
        self.session = Some((s, dialect, batch));
        Ok(())
    }

    /// Probes once.
    pub async fn probe(&mut self, settings: &ProbeSettings) -> ProbeResult {
        if let Err(e) = self.ensure_session().await {
            return ProbeResult::Failed(probe_error(&e));
        }
        let Some((session, _, batch)) = self.session.as_mut() else {
            return ProbeResult::Failed(ProbeError {
                kind: orc_model::ProbeErrorKind::Other,
                message: "no session".into(),
            });
        };
        let (sets, error) = session.query_multi_partial(batch).await;
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
        let detected = self.detect(settings).await;
        let Some(data) = instance_data(&self.key, &sets, &detected, settings) else {
            return ProbeResult::Failed(ProbeError {
                kind: orc_model::ProbeErrorKind::Query,
                message: format!("{}: identity query returned no row", self.key),
            });
        };
        match error {
            None if sets.len() >= parse::set::COUNT => ProbeResult::Ok(data),
            None => ProbeResult::Partial(
                data,
                ProbeError {
                    kind: orc_model::ProbeErrorKind::Query,
                    message: format!(
                        "{}: probe returned {} of {} result sets",
                        self.key,
                        sets.len(),
                        parse::set::COUNT
                    ),
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
        let Some((session, _, _)) = self.session.as_mut() else {
            return out;
        };
        let slots: [(&Option<String>, &mut Option<String>); 9] = [
            (&q.replication_lag, &mut out.replication_lag),
            (&q.data_center, &mut out.data_center),
            (&q.region, &mut out.region),
            (&q.physical_environment, &mut out.physical_environment),
            (&q.instance_alias, &mut out.instance_alias),
            (&q.cluster_alias, &mut out.cluster_alias),
            (&q.cluster_domain, &mut out.cluster_domain),
            (&q.promotion_rule, &mut out.promotion_rule),
            (&q.semi_sync_enforced, &mut out.semi_sync_enforced),
        ];
        for (query, slot) in slots {
            let Some(sql) = query.as_deref().filter(|s| !s.trim().is_empty()) else {
                continue;
            };
            match session.query_value(sql).await {
                Ok(v) => *slot = v,
                Err(e) => tracing::debug!(instance = %self.key, error = %e, "detect query failed"),
            }
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
