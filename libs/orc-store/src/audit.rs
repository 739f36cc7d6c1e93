//! The general audit: one row per operation on the topology or on operator
//! facts (orchestrator's `audit` table, `/api/audit`).

use orc_model::{InstanceKey, Timestamp};

use crate::{Error, Store};

/// One audited operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Row id (0 before it is written).
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// The operation (`relocate`, `begin-downtime`, ...).
    pub kind: String,
    /// The instance it was about, if any.
    pub instance: Option<InstanceKey>,
    /// Its cluster, if known.
    pub cluster: String,
    /// What happened.
    pub message: String,
}

/// Audit rows.
#[derive(Debug, Clone, Copy)]
pub struct AuditRepo<'a> {
    pub(crate) store: &'a Store,
}

type Row = (i64, i64, String, String, i64, String, String);

fn entry(r: Row) -> AuditEntry {
    let (id, at, kind, host, port, cluster, message) = r;
    AuditEntry {
        id,
        at: Timestamp::from_millis(at),
        kind,
        instance: u16::try_from(port)
            .ok()
            .filter(|p| *p != 0 && !host.is_empty())
            .and_then(|p| InstanceKey::new(&host, p).ok()),
        cluster,
        message,
    }
}

impl AuditRepo<'_> {
    /// Writes one entry.
    pub async fn write(&self, e: &AuditEntry) -> Result<(), Error> {
        let store = self.store;
        let (host, port) = e.instance.as_ref().map_or((String::new(), 0), |k| {
            (k.hostname().to_string(), i64::from(k.port()))
        });
        crate::on_pool!(store, pool => store
            .bounded("writing audit", async {
                sqlx::query("INSERT INTO audit (audit_timestamp_ms, audit_type, hostname, port, cluster_name, message) VALUES (?, ?, ?, ?, ?, ?)")
                    .bind(e.at.as_millis())
                    .bind(&e.kind)
                    .bind(&host)
                    .bind(port)
                    .bind(&e.cluster)
                    .bind(&e.message)
                    .execute(pool)
                    .await
                    .map(|_| ())
            })
            .await)
    }

    /// A page of entries (of one instance, or all), newest first.
    pub async fn page(
        &self,
        instance: Option<&InstanceKey>,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<AuditEntry>, Error> {
        let store = self.store;
        let offset = i64::from(page) * i64::from(per_page);
        let limit = i64::from(per_page);
        let rows: Vec<Row> = match instance {
            Some(k) => crate::on_pool!(store, pool => store
                .bounded("reading audit", sqlx::query_as(
                    "SELECT audit_id, audit_timestamp_ms, audit_type, hostname, port, cluster_name, message FROM audit WHERE hostname = ? AND port = ? ORDER BY audit_id DESC LIMIT ? OFFSET ?")
                    .bind(k.hostname())
                    .bind(i64::from(k.port()))
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(pool))
                .await?),
            None => crate::on_pool!(store, pool => store
                .bounded("reading audit", sqlx::query_as(
                    "SELECT audit_id, audit_timestamp_ms, audit_type, hostname, port, cluster_name, message FROM audit ORDER BY audit_id DESC LIMIT ? OFFSET ?")
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(pool))
                .await?),
        };
        Ok(rows.into_iter().map(entry).collect())
    }
}
