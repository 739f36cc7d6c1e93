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
        Ok(self.all().await?.remove(key).unwrap_or_default())
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

    /// Reads, changes and writes one instance's metadata.
    pub async fn update(
        &self,
        key: &InstanceKey,
        now: Timestamp,
        change: impl FnOnce(&mut InstanceMetadata),
    ) -> Result<InstanceMetadata, Error> {
        let mut m = self.get(key).await?;
        change(&mut m);
        self.put(key, &m, now).await?;
        Ok(m)
    }
}
