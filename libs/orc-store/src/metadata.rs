//! Operator metadata per instance: downtime, maintenance, promotion rules, tags.

use std::collections::BTreeMap;

use orc_model::{InstanceKey, InstanceMetadata, Timestamp};

use crate::{Error, Store};

/// Operator metadata.
#[derive(Debug)]
pub struct MetadataRepo<'a> {
    pub(crate) store: &'a Store,
}

impl MetadataRepo<'_> {
    /// Every instance's metadata.
    pub async fn all(&self) -> Result<BTreeMap<InstanceKey, InstanceMetadata>, Error> {
        let store = self.store;
        let rows: Vec<(String, i64, String)> = crate::on_pool!(store, pool => store
            .bounded(
                "reading metadata",
                sqlx::query_as("SELECT hostname, port, metadata_json FROM instance_metadata").fetch_all(pool),
            )
            .await?);
        let mut out = BTreeMap::new();
        for (host, port, j) in rows {
            let key = u16::try_from(port)
                .ok()
                .and_then(|p| InstanceKey::new(&host, p).ok())
                .ok_or_else(|| Error::Corrupt {
                    key: format!("{host}:{port}"),
                    reason: "bad key".into(),
                })?;
            let m: InstanceMetadata = serde_json::from_str(&j).map_err(|e| Error::Corrupt {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
            out.insert(key, m);
        }
        Ok(out)
    }

    /// One instance's metadata (default when none).
    pub async fn get(&self, key: &InstanceKey) -> Result<InstanceMetadata, Error> {
        match self.raw(key).await? {
            Some(j) => parse(key, &j),
            None => Ok(InstanceMetadata::default()),
        }
    }

    async fn raw(&self, key: &InstanceKey) -> Result<Option<String>, Error> {
        let store = self.store;
        let rows: Vec<(String,)> = crate::on_pool!(store, pool => store
            .bounded(
                "reading metadata",
                sqlx::query_as("SELECT metadata_json FROM instance_metadata WHERE hostname = ? AND port = ?")
                    .bind(key.hostname())
                    .bind(i64::from(key.port()))
                    .fetch_all(pool),
            )
            .await?);
        Ok(rows.into_iter().next().map(|(j,)| j))
    }

    /// Replaces one instance's metadata.
    pub async fn put(
        &self,
        key: &InstanceKey,
        m: &InstanceMetadata,
        now: Timestamp,
    ) -> Result<(), Error> {
        let store = self.store;
        let body = serde_json::to_string(m).map_err(|e| Error::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        crate::on_pool!(store, pool => store
            .bounded(
                "writing metadata",
                async {
                    sqlx::query("REPLACE INTO instance_metadata (hostname, port, metadata_json, updated_at_ms) VALUES (?, ?, ?, ?)")
                        .bind(key.hostname())
                        .bind(i64::from(key.port()))
                        .bind(&body)
                        .bind(now.as_millis())
                        .execute(pool)
                        .await
                        .map(|_| ())
                },
            )
            .await)
    }

    /// Reads, changes and writes one instance's metadata, atomically: the
    /// write only lands if nobody changed the row since it was read (else
    /// `change` runs again on the fresh row), so concurrent operators (two
    /// `begin-maintenance`, say) cannot both win.
    pub async fn update(
        &self,
        key: &InstanceKey,
        now: Timestamp,
        mut change: impl FnMut(&mut InstanceMetadata),
    ) -> Result<InstanceMetadata, Error> {
        for _ in 0..50 {
            let old = self.raw(key).await?;
            let mut m = match &old {
                Some(j) => parse(key, j)?,
                None => InstanceMetadata::default(),
            };
            change(&mut m);
            let body = serde_json::to_string(&m).map_err(|e| Error::Corrupt {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
            if self.swap(key, old.as_deref(), &body, now).await? {
                return Ok(m);
            }
        }
        Err(Error::Query {
            operation: format!("updating metadata of {key}"),
            reason: "too many concurrent changes".into(),
        })
    }

    /// Writes `body` if the row still holds `old` (or, for `None`, does not exist).
    async fn swap(
        &self,
        key: &InstanceKey,
        old: Option<&str>,
        body: &str,
        now: Timestamp,
    ) -> Result<bool, Error> {
        let store = self.store;
        let host = key.hostname();
        let port = i64::from(key.port());
        let done = match (&store.pool, old) {
            (crate::Pool::Sqlite(pool), None) => store
                .bounded(
                    "writing metadata",
                    sqlx::query("INSERT OR IGNORE INTO instance_metadata (hostname, port, metadata_json, updated_at_ms) VALUES (?, ?, ?, ?)")
                        .bind(host)
                        .bind(port)
                        .bind(body)
                        .bind(now.as_millis())
                        .execute(pool),
                )
                .await?
                .rows_affected(),
            (crate::Pool::Mysql(pool), None) => store
                .bounded(
                    "writing metadata",
                    sqlx::query("INSERT IGNORE INTO instance_metadata (hostname, port, metadata_json, updated_at_ms) VALUES (?, ?, ?, ?)")
                        .bind(host)
                        .bind(port)
                        .bind(body)
                        .bind(now.as_millis())
                        .execute(pool),
                )
                .await?
                .rows_affected(),
            (crate::Pool::Sqlite(pool), Some(old)) => store
                .bounded(
                    "writing metadata",
                    sqlx::query("UPDATE instance_metadata SET metadata_json = ?, updated_at_ms = ? WHERE hostname = ? AND port = ? AND metadata_json = ?")
                        .bind(body)
                        .bind(now.as_millis())
                        .bind(host)
                        .bind(port)
                        .bind(old)
                        .execute(pool),
                )
                .await?
                .rows_affected(),
            (crate::Pool::Mysql(pool), Some(old)) => store
                .bounded(
                    "writing metadata",
                    // MySQL counts only changed rows: an unchanged body
                    // matches with 0 affected, so compare the body too.
                    sqlx::query("UPDATE instance_metadata SET metadata_json = ?, updated_at_ms = ? WHERE hostname = ? AND port = ? AND metadata_json = ?")
                        .bind(body)
                        .bind(now.as_millis())
                        .bind(host)
                        .bind(port)
                        .bind(old)
                        .execute(pool),
                )
                .await?
                .rows_affected(),
        };
        Ok(done == 1 || (old == Some(body) && self.raw(key).await?.as_deref() == Some(body)))
    }
}

fn parse(key: &InstanceKey, j: &str) -> Result<InstanceMetadata, Error> {
    serde_json::from_str(j).map_err(|e| Error::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}
