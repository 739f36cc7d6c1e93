//! Leadership among gateways, for what orchestrator's raft routes and
//! `leader-check` tell proxies and `orchestrator-client`.
//!
//! Every gateway serves every call (state lives in the backend database
//! and on the bus), so leadership decides no correctness; it gives load
//! balancers and scripts one address to prefer, as orchestrator's raft
//! leader did. It is one lease on the bus
//! ([`orc_bus::subjects::GATEWAY_LEADERSHIP`], 3 s): the holder renews it
//! every second; when it stops, another gateway takes it within the lease
//! time. Gateways announce themselves every second
//! ([`orc_bus::subjects::GATEWAY_HEARTBEAT`]), which is how each knows its
//! peers. `raft-yield`, `grab-election` and `reelect` move the leadership
//! by asking the others to hold back for a while
//! ([`orc_bus::subjects::GATEWAY_YIELD`]).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use orc_bus::{Bus, Lease, subjects};
use orc_proto::v1 as wire;
use tokio_util::sync::CancellationToken;

/// How often the lease is renewed or tried, and peers announced.
const TICK: Duration = Duration::from_secs(1);
/// A peer not heard from for this long is gone.
const PEER_TTL: Duration = Duration::from_secs(3);
/// How long gateways asked to hold back do not try to lead.
const HOLD_BACK: Duration = Duration::from_secs(4);

/// What this gateway knows about leadership now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// This gateway's advertised address.
    pub me: String,
    /// Whether this gateway leads.
    pub is_leader: bool,
    /// The leader's advertised address, when there is one.
    pub leader: Option<String>,
    /// Gateways heard from recently (this one included), sorted.
    pub peers: Vec<String>,
    /// Whether the bus answered the last leadership round.
    pub healthy: bool,
}

impl View {
    /// orchestrator's raft state names.
    pub fn state(&self) -> &'static str {
        match (self.is_leader, &self.leader) {
            (true, _) => "Leader",
            (false, Some(_)) => "Follower",
            (false, None) => "Candidate",
        }
    }
}

/// The leadership of this gateway, kept up to date by [`Leadership::run`].
#[derive(Debug, Clone)]
pub struct Leadership {
    me: String,
    view: Arc<RwLock<View>>,
    hold_back_until: Arc<RwLock<Option<Instant>>>,
}

impl Leadership {
    /// Leadership for the gateway advertised as `me`.
    pub fn new(me: String) -> Self {
        let view = View {
            me: me.clone(),
            ..View::default()
        };
        Self {
            me,
            view: Arc::new(RwLock::new(view)),
            hold_back_until: Arc::new(RwLock::new(None)),
        }
    }

    /// The view now.
    pub fn view(&self) -> View {
        self.view
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn set(&self, f: impl FnOnce(&mut View)) {
        let mut v = self.view.write().unwrap_or_else(|e| e.into_inner());
        f(&mut v);
    }

    fn holding_back(&self) -> bool {
        self.hold_back_until
            .read()
            .ok()
            .and_then(|t| *t)
            .is_some_and(|t| Instant::now() < t)
    }

    fn hold_back(&self, on: bool) {
        if let Ok(mut t) = self.hold_back_until.write() {
            *t = on.then(|| Instant::now() + HOLD_BACK);
        }
    }

    /// Asks the gateways whose name contains `to` (empty: any but the
    /// leader) to take the leadership.
    pub async fn ask_to_move(&self, bus: &dyn Bus, to: &str) -> Result<(), orc_bus::Error> {
        bus.publish(
            subjects::GATEWAY_YIELD,
            orc_bus::encode(&wire::LeadershipYield { to: to.to_string() }),
        )
        .await?;
        bus.flush().await
    }

    /// Keeps the lease and the peer list until `shutdown`; gives the lease
    /// up on the way out so another gateway leads at once.
    pub async fn run(self, bus: Arc<dyn Bus>, shutdown: CancellationToken) {
        let spec = subjects::GATEWAY_LEADERSHIP;
        let mut heartbeats = bus.subscribe(subjects::GATEWAY_HEARTBEAT).await.ok();
        let mut yields = bus.subscribe(subjects::GATEWAY_YIELD).await.ok();
        let mut peers: BTreeMap<String, Instant> = BTreeMap::new();
        let mut lease: Option<Lease> = None;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(m) = next(&mut heartbeats) => {
                    if let Ok(hb) = orc_bus::decode::<wire::GatewayHeartbeat>(&m.subject, &m.payload) {
                        peers.insert(hb.node, Instant::now());
                    }
                    continue;
                }
                Some(m) = next(&mut yields) => {
                    if let Ok(y) = orc_bus::decode::<wire::LeadershipYield>(&m.subject, &m.payload) {
                        let chosen = !y.to.is_empty() && self.me.contains(&y.to);
                        self.hold_back(!chosen);
                        if !chosen && let Some(held) = lease.take() {
                            let _ = bus.lease_release(&spec, &held).await;
                            tracing::info!(to = %y.to, "gave the leadership up on request");
                        }
                    }
                    continue;
                }
                _ = tick.tick() => {}
            }
            lease = self.round(&*bus, lease).await;
            peers.insert(self.me.clone(), Instant::now());
            peers.retain(|_, seen| seen.elapsed() < PEER_TTL);
            let is_leader = lease.is_some();
            let _ = bus
                .publish(
                    subjects::GATEWAY_HEARTBEAT,
                    orc_bus::encode(&wire::GatewayHeartbeat {
                        node: self.me.clone(),
                        leader: is_leader,
                    }),
                )
                .await;
            self.set(|v| v.peers = peers.keys().cloned().collect());
        }
        if let Some(held) = lease {
            let _ = bus.lease_release(&spec, &held).await;
        }
        self.set(|v| {
            v.is_leader = false;
            v.leader = None;
        });
    }

    /// One round: renew or try the lease, then learn who leads.
    async fn round(&self, bus: &dyn Bus, lease: Option<Lease>) -> Option<Lease> {
        let spec = subjects::GATEWAY_LEADERSHIP;
        let (lease, healthy) = match lease {
            Some(held) => match bus.lease_renew(&spec, &held).await {
                Ok(renewed) => (Some(renewed), true),
                Err(e) => {
                    tracing::warn!(error = %e, "leadership lost");
                    (None, !matches!(e, orc_bus::Error::Lease { .. }))
                }
            },
            None if self.holding_back() => (None, true),
            None => match bus.lease_acquire(&spec, "leader", &self.me).await {
                Ok(Some(taken)) => {
                    tracing::info!(me = %self.me, "this gateway leads");
                    (Some(taken), true)
                }
                Ok(None) => (None, true),
                Err(_) => (None, false),
            },
        };
        let leader = match &lease {
            Some(_) => Some(self.me.clone()),
            None => bus.lease_holder(&spec, "leader").await.ok().flatten(),
        };
        let healthy = healthy && leader.is_some();
        self.set(|v| {
            v.is_leader = lease.is_some();
            v.leader = leader;
            v.healthy = healthy;
        });
        lease
    }
}

async fn next(sub: &mut Option<orc_bus::Subscription>) -> Option<orc_bus::Message> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}
