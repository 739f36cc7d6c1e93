//! The web UI: one page served at `/` (HTML, CSS and JavaScript written by
//! hand, compiled into the binary: no build step, nothing fetched from the
//! internet), reading the same `/api` as `orchestrator-client`, plus two
//! routes of ours it needs:
//!
//! - `GET /api/ui/whoami`: who the caller is and whether they may change
//!   things (read-only users are shown no actions);
//! - `GET /api/ui/events`: server-sent events naming what changed — a
//!   cluster whose servers changed (`{"kind":"cluster","cluster":...}`) or
//!   a recovery (`{"kind":"recovery","cluster":...}`) — so the page
//!   re-reads one cluster instead of polling the fleet. One watcher per
//!   gateway compares each cluster's digest every half second, and only
//!   while a page listens.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use orc_bus::{Bus, subjects};
use orc_proto::v1 as wire;
use serde_json::json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::Gateway;
use crate::access::Caller;

const PAGE: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

/// How often a listened-to fleet is compared.
const EVERY: Duration = Duration::from_millis(500);

/// `GET /`.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /ui/app.js`.
pub async fn script() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        SCRIPT,
    )
        .into_response()
}

/// `GET /ui/style.css`.
pub async fn style() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE,
    )
        .into_response()
}

/// `GET /api/ui/whoami`.
pub async fn whoami(caller: Caller) -> axum::Json<serde_json::Value> {
    axum::Json(json!({"User": caller.user, "CanChange": caller.can_change}))
}

/// `GET /api/ui/events`: the change feed.
pub async fn events(State(gw): State<Arc<Gateway>>) -> Response {
    let rx = gw.ui_feed.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let data = match rx.recv().await {
            Ok(data) => data,
            // A slow page missed some: tell it to re-read everything.
            Err(broadcast::error::RecvError::Lagged(_)) => json!({"kind": "all"}).to_string(),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((
            Ok::<_, std::convert::Infallible>(Event::default().data(data)),
            rx,
        ))
    });
    // The feed ends when the gateway stops (an open stream would hold its
    // graceful shutdown for ever).
    use futures_util::StreamExt as _;
    let stream = stream.take_until(gw.shutdown.clone().cancelled_owned());
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Feeds [`events`] until `shutdown`: cluster digests compared while a
/// page listens, recovery events as they come.
pub(crate) async fn watch(gw: Arc<Gateway>, bus: Arc<dyn Bus>, shutdown: CancellationToken) {
    let mut recoveries = match bus.subscribe(subjects::RECOVERY_EVENTS).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "web UI: no recovery events");
            None
        }
    };
    let mut digests: BTreeMap<String, u64> = BTreeMap::new();
    // Clusters a recovery or operation touched: named again at the next
    // passes whatever their digest (the store may show the change only
    // after the event, and a change undone within one pass leaves the
    // digest as it was).
    let mut touched: BTreeMap<String, u8> = BTreeMap::new();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            Some(msg) = async {
                match recoveries.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Ok(ev) = orc_bus::decode::<wire::RecoveryEvent>(&msg.subject, &msg.payload) {
                    let _ = gw.ui_feed.send(json!({"kind": "recovery", "cluster": ev.cluster, "phase": ev.phase}).to_string());
                    touched.insert(ev.cluster, 3);
                }
            }
            _ = tick.tick() => {
                if gw.ui_feed.receiver_count() == 0 {
                    digests.clear();
                    continue;
                }
                let cat = match gw.catalog().await {
                    Ok(cat) => cat,
                    Err(e) => {
                        tracing::debug!(error = %e, "web UI: fleet not read");
                        continue;
                    }
                };
                let now = cluster_digests(&cat);
                // The first pass after a page connects only learns: the
                // page has just read what there is.
                let first = digests.is_empty();
                for (cluster, d) in now.iter().filter(|_| !first) {
                    let again = touched.get(cluster).is_some_and(|n| *n > 0);
                    if again || digests.get(cluster) != Some(d) {
                        let _ = gw.ui_feed.send(json!({"kind": "cluster", "cluster": cluster}).to_string());
                    }
                }
                for cluster in digests.keys().filter(|c| !first && !now.contains_key(*c)) {
                    let _ = gw.ui_feed.send(json!({"kind": "cluster", "cluster": cluster, "gone": true}).to_string());
                }
                digests = now;
                touched.retain(|_, n| {
                    *n = n.saturating_sub(1);
                    *n > 0
                });
            }
        }
    }
}

/// A digest of what the page shows of each cluster's servers.
fn cluster_digests(cat: &crate::catalog::Catalog) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let problems: HashMap<String, String> = cat
        .analysis()
        .into_iter()
        .map(|a| (a.key.to_string(), a.code.as_str().to_string()))
        .collect();
    for cluster in cat.clusters() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for key in cat.members(&cluster) {
            let Some(j) = cat.instance_json(&key) else {
                continue;
            };
            // Through bytes: the JSON the API answers (some of its fields
            // serialize only as text).
            let v: serde_json::Value = serde_json::to_vec(&j)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            for field in [
                "Key",
                "MasterKey",
                "ReadOnly",
                "IsLastCheckValid",
                "ReplicationLagSeconds",
                "SecondsBehindMaster",
                "IsDowntimed",
                "PromotionRule",
                "ReplicationSQLThreadRuning",
                "ReplicationIOThreadRuning",
            ] {
                v[field].to_string().hash(&mut h);
            }
            problems.get(&key.to_string()).hash(&mut h);
        }
        out.insert(cluster.to_string(), h.finish());
    }
    out
}
