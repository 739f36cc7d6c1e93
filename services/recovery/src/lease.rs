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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use orc_bus::LocalBus;

    #[tokio::test]
    async fn a_renewed_lease_stays_fenced_in_and_a_lost_one_fences_out() {
        let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
        let spec = spec(Duration::from_millis(600));
        let lease = bus.lease_acquire(&spec, "c1", "a").await.unwrap().unwrap();
        let token = lease.revision;
        let keeper = LeaseKeeper::start(bus.clone(), spec, lease.clone());
        assert_eq!(keeper.token(), token);
        // Renewed every 200 ms: still ours after several TTLs.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        keeper.fence().unwrap();
        assert!(
            bus.lease_acquire(&spec, "c1", "b").await.unwrap().is_none(),
            "nobody else gets it while it is renewed"
        );
        keeper.release(&*bus).await;
        assert!(bus.lease_acquire(&spec, "c1", "b").await.unwrap().is_some());

        // Taken away (expired and re-acquired by another holder): the next
        // renewal fails and every later step is refused.
        let lease = bus.lease_acquire(&spec, "c2", "a").await.unwrap().unwrap();
        let keeper = LeaseKeeper::start(bus.clone(), spec, lease.clone());
        bus.lease_release(&spec, &lease).await.unwrap();
        let other = bus.lease_acquire(&spec, "c2", "b").await.unwrap();
        assert!(other.is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        let lost = keeper.fence().unwrap_err();
        assert!(lost.to_string().contains("c2"), "{lost}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_not_renewed_for_a_ttl_fences_out_even_without_an_answer() {
        // A bus that never answers renewals (cut off): simulated by a
        // paused clock advanced past the TTL before any renewal completes.
        let bus: Arc<dyn Bus> = Arc::new(LocalBus::new());
        let spec = spec(Duration::from_millis(600));
        let lease = bus.lease_acquire(&spec, "c3", "a").await.unwrap().unwrap();
        let keeper = LeaseKeeper::start(bus.clone(), spec, lease);
        keeper.fence().unwrap();
        // Stop renewing, then let a TTL pass.
        keeper.stop.cancel();
        tokio::time::advance(Duration::from_millis(600)).await;
        assert!(keeper.fence().is_err());
    }
}
