//! Holding a cluster's lease while acting on it.
//!
//! A [`LeaseKeeper`] renews the lease in the background (every third of its
//! TTL) and knows when it can no longer be sure to hold it: a failed
//! renewal, or no successful renewal for a whole TTL (cut off from the bus).
//! Every step that changes a server asks [`LeaseKeeper::fence`] first; the
//! token written beside each step is the revision the lease was granted at.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use orc_bus::{Bus, Lease, LeaseSpec};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct Held {
    lease: Lease,
    confirmed_at: Instant,
    lost: Option<String>,
}

/// A held lease, renewed until released.
#[derive(Debug, Clone)]
pub struct LeaseKeeper {
    spec: LeaseSpec,
    token: u64,
    held: Arc<Mutex<Held>>,
    stop: CancellationToken,
}

/// The lease can no longer be relied on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("lost the lease of {cluster}: {reason}")]
pub struct LeaseLost {
    /// Cluster.
    pub cluster: String,
    /// Why.
    pub reason: String,
}

impl LeaseKeeper {
    /// Starts renewing `lease` (just acquired) on `bus`.
    pub fn start(bus: Arc<dyn Bus>, spec: LeaseSpec, lease: Lease) -> Self {
        let token = lease.revision;
        let held = Arc::new(Mutex::new(Held {
            lease,
            confirmed_at: Instant::now(),
            lost: None,
        }));
        let stop = CancellationToken::new();
        let keeper = Self {
            spec,
            token,
            held: held.clone(),
            stop: stop.clone(),
        };
        let every = spec.ttl / 3;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let current = match held.lock() {
                    Ok(h) => h.lease.clone(),
                    Err(_) => return,
                };
                let renewed = bus.lease_renew(&spec, &current).await;
                let Ok(mut h) = held.lock() else { return };
                match renewed {
                    Ok(l) => {
                        h.lease = l;
                        h.confirmed_at = Instant::now();
                    }
                    Err(e) => {
                        tracing::error!(lease = %current.name, error = %e, "cluster lease lost");
                        h.lost = Some(e.to_string());
                        return;
                    }
                }
            }
        });
        keeper
    }

    /// The fencing token: the revision the lease was granted at.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Whether the lease is still ours: no failed renewal, and one
    /// confirmed within the TTL (minus a margin for clock drift).
    pub fn fence(&self) -> Result<(), LeaseLost> {
        let h = self.held.lock().map_err(|_| LeaseLost {
            cluster: String::new(),
            reason: "lease state poisoned".into(),
        })?;
        if let Some(reason) = &h.lost {
            return Err(LeaseLost {
                cluster: h.lease.name.clone(),
                reason: reason.clone(),
            });
        }
        let margin = self.spec.ttl / 10;
        if h.confirmed_at.elapsed() + margin >= self.spec.ttl {
            return Err(LeaseLost {
                cluster: h.lease.name.clone(),
                reason: format!(
                    "not renewed for {:?} (TTL {:?})",
                    h.confirmed_at.elapsed(),
                    self.spec.ttl
                ),
            });
        }
        Ok(())
    }

    /// Stops renewing and gives the lease back.
    pub async fn release(self, bus: &dyn Bus) {
        self.stop.cancel();
        let lease = match self.held.lock() {
            Ok(h) if h.lost.is_none() => Some(h.lease.clone()),
            _ => None,
        };
        if let Some(lease) = lease
            && let Err(e) = bus.lease_release(&self.spec, &lease).await
        {
            tracing::warn!(lease = %lease.name, error = %e, "cluster lease not released (it will expire)");
        }
    }
}

/// The lease spec for clusters with a TTL.
pub fn spec(ttl: Duration) -> LeaseSpec {
    LeaseSpec {
        bucket: orc_bus::subjects::CLUSTER_LEASES,
        ttl,
    }
}
