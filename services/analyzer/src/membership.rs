//! Who the live sharded analyzers are, learnt in a task of its own: its
//! heartbeats go out, and its peers' are read, whatever the analyzer's loop
//! is busy with (taking thousands of instances over, say), so a busy
//! analyzer neither looks dead to its peers nor sees them dead because
//! their heartbeats wait behind its work.

use std::sync::Arc;
use std::time::Instant;

use orc_bus::membership::Membership;
use orc_bus::{Bus, subjects};
use orc_proto::v1 as wire;
use orc_runtime::wall_clock;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::shards::{HEARTBEAT_EVERY, LIVENESS_EVERY, MEMBERSHIP_TTL};

/// The membership task's subscriptions, made before the analyzer announces
/// anything.
pub(crate) struct Peers {
    id: String,
    replicas: u32,
    heartbeats: orc_bus::Subscription,
    alive: orc_bus::Subscription,
}

impl Peers {
    /// Subscribes to peers' heartbeats and to this analyzer's liveness
    /// subject.
    pub(crate) async fn start(
        bus: &dyn Bus,
        id: &str,
        replicas: usize,
    ) -> Result<Self, orc_bus::Error> {
        Ok(Self {
            id: id.to_string(),
            replicas: u32::try_from(replicas).unwrap_or(u32::MAX),
            heartbeats: bus.subscribe(subjects::ANALYZER_HEARTBEAT).await?,
            alive: bus.subscribe(&subjects::analyzer_alive(id)).await?,
        })
    }

    /// Heartbeats, answers liveness requests, asks peers whether they
    /// live, and sends the live set (this analyzer included, sorted) on
    /// every change — the first once a TTL has passed, so that a starting
    /// analyzer has heard its peers before it claims buckets. Says it
    /// leaves when stopped.
    pub(crate) async fn run(
        mut self,
        bus: Arc<dyn Bus>,
        live_tx: watch::Sender<Option<Vec<String>>>,
        stop: CancellationToken,
    ) {
        let mut membership = Membership::new(&self.id);
        let started = Instant::now();
        let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
        let mut liveness = tokio::time::interval(LIVENESS_EVERY);
        let (gone_tx, mut gone_rx) = mpsc::unbounded_channel::<String>();
        let mut sent: Option<Vec<String>> = None;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = heartbeat.tick() => {
                    announce(&*bus, &self.id, self.replicas, false).await;
                    membership.expire(Instant::now());
                }
                _ = liveness.tick() => {
                    for peer in membership.answering_peers() {
                        let (bus, gone) = (bus.clone(), gone_tx.clone());
                        tokio::spawn(async move {
                            if let Err(orc_bus::Error::NoResponders { .. }) = bus
                                .request(&subjects::analyzer_alive(&peer), bytes::Bytes::new(), LIVENESS_EVERY)
                                .await
                            {
                                let _ = gone.send(peer);
                            }
                        });
                    }
                }
                Some(peer) = gone_rx.recv() => {
                    if membership.depart(&peer, HEARTBEAT_EVERY, Instant::now()) {
                        tracing::info!(analyzer = %self.id, peer = %peer, "peer analyzer gone from the bus; taking its shard buckets over");
                    }
                }
                m = self.alive.next() => match m {
                    Some(m) => {
                        let _ = bus.respond(&m, bytes::Bytes::new()).await;
                    }
                    None => break,
                },
                m = self.heartbeats.next() => match m {
                    Some(msg) => {
                        if let Ok(hb) = orc_bus::decode::<wire::AnalyzerHeartbeat>(&msg.subject, &msg.payload) {
                            let ttl = std::time::Duration::from_millis(u64::from(hb.ttl_ms)).max(HEARTBEAT_EVERY);
                            membership.observe(&hb.analyzer_id, ttl, hb.leaving, Instant::now());
                            membership.set_answering(&hb.analyzer_id, !hb.leaving);
                        }
                    }
                    None => break,
                },
            }
            if started.elapsed() < MEMBERSHIP_TTL {
                continue;
            }
            let live: Vec<String> = membership.live().into_iter().map(str::to_string).collect();
            if sent.as_ref() != Some(&live) {
                sent = Some(live.clone());
                if live_tx.send(Some(live)).is_err() {
                    break;
                }
            }
        }
        announce(&*bus, &self.id, self.replicas, true).await;
        let _ = bus.flush().await;
    }
}

async fn announce(bus: &dyn Bus, id: &str, replicas: u32, leaving: bool) {
    let hb = wire::AnalyzerHeartbeat {
        analyzer_id: id.to_string(),
        ttl_ms: u32::try_from(MEMBERSHIP_TTL.as_millis()).unwrap_or(u32::MAX),
        leaving,
        shard_replicas: replicas,
        sent_at_ms: wall_clock().as_millis(),
    };
    if let Err(e) = bus
        .publish(subjects::ANALYZER_HEARTBEAT, orc_bus::encode(&hb))
        .await
    {
        tracing::warn!(error = %e, "analyzer heartbeat not published");
    }
}
