//! orchestrator's recover and takeover routes: names resolved, a command
//! forwarded to a recovery service, its answer rendered as orchestrator's
//! (the promoted key for `recover`, the recovery for takeovers, the plan
//! for `?dry_run=true`, ours).

use std::collections::HashMap;
use std::sync::Arc;

use crate::access::Caller;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use orc_compat::KeyJson;

use super::request::{P2, P3, P4, Params, flag, key};
use super::{ApiResult, S, ok};
use crate::Gateway;
use crate::error::ApiError;
use crate::operations::recovery::{self, Intent};

/// Recover and takeover routes (relative to `/api`).
pub(super) fn routes() -> Router<Arc<Gateway>> {
    let router = graceful_routes::<false>(Router::new(), "/graceful-master-takeover");
    graceful_routes::<true>(router, "/graceful-master-takeover-auto")
        .route("/recover/{a}/{b}", get(recover))
        .route("/recover/{a}/{b}/{c}/{d}", get(recover_to))
        .route("/recover-lite/{a}/{b}", get(recover_lite))
        .route("/recover-lite/{a}/{b}/{c}/{d}", get(recover_lite_to))
        .route("/force-master-failover/{a}", get(force_failover))
        .route("/force-master-failover/{a}/{b}", get(force_failover_by_key))
        .route("/force-master-takeover/{a}/{b}/{c}", get(force_takeover))
        .route(
            "/force-master-takeover/{a}/{b}/{c}/{d}",
            get(force_takeover_by_key),
        )
}

/// The four graceful-takeover routes under `prefix`: by alias or by key,
/// with or without a designated replica.
fn graceful_routes<const AUTO: bool>(
    router: Router<Arc<Gateway>>,
    prefix: &str,
) -> Router<Arc<Gateway>> {
    router
        .route(&format!("{prefix}/{{a}}"), get(graceful::<AUTO>))
        .route(
            &format!("{prefix}/{{a}}/{{b}}"),
            get(graceful_by_key::<AUTO>),
        )
        .route(
            &format!("{prefix}/{{a}}/{{b}}/{{c}}"),
            get(graceful_to::<AUTO>),
        )
        .route(
            &format!("{prefix}/{{a}}/{{b}}/{{c}}/{{d}}"),
            get(graceful_by_key_to::<AUTO>),
        )
}

/// Runs `intent` and renders orchestrator's answer: the promoted key for
/// `recover`, the recovery for takeovers, the plan for dry runs.
async fn run(gw: &Gateway, intent: Intent, q: &HashMap<String, String>, h: &Caller) -> ApiResult {
    let dry_run = flag(q, "dry_run");
    let outcome = recovery::execute(gw, &intent, dry_run, &h.user).await?;
    let successor = outcome
        .successor
        .as_ref()
        .map_or_else(|| "nobody".to_string(), ToString::to_string);
    if outcome.dry_run {
        return ok(
            format!("{} (dry run): would promote {successor}", intent.name()),
            outcome.plan_details()?,
        );
    }
    match intent {
        Intent::Recover { .. } => ok(
            format!("Recovery executed on {}", outcome.subject),
            outcome.successor.as_ref().map(KeyJson::from_key),
        ),
        Intent::GracefulTakeover { .. } => ok(
            "graceful-master-takeover: successor promoted",
            outcome.recovery_json,
        ),
        Intent::ForceFailover { .. } | Intent::ForceTakeover { .. } => {
            ok("Master failed over", outcome.recovery_json)
        }
    }
}

fn recover_intent(
    gw: &Gateway,
    failed: (&str, &str),
    candidate: Option<(&str, &str)>,
    lite: bool,
) -> Result<Intent, ApiError> {
    Ok(Intent::Recover {
        failed: key(gw, failed.0, failed.1)?,
        candidate: candidate.map(|(h, p)| key(gw, h, p)).transpose()?,
        lite,
    })
}

async fn recover(State(gw): S, Path((h, p)): P2, Query(q): Params, hd: Caller) -> ApiResult {
    let intent = recover_intent(&gw, (&h, &p), None, false)?;
    run(&gw, intent, &q, &hd).await
}

async fn recover_to(
    State(gw): S,
    Path((h, p, ch, cp)): P4,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let intent = recover_intent(&gw, (&h, &p), Some((&ch, &cp)), false)?;
    run(&gw, intent, &q, &hd).await
}

async fn recover_lite(State(gw): S, Path((h, p)): P2, Query(q): Params, hd: Caller) -> ApiResult {
    let intent = recover_intent(&gw, (&h, &p), None, true)?;
    run(&gw, intent, &q, &hd).await
}

async fn recover_lite_to(
    State(gw): S,
    Path((h, p, ch, cp)): P4,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let intent = recover_intent(&gw, (&h, &p), Some((&ch, &cp)), true)?;
    run(&gw, intent, &q, &hd).await
}

/// A cluster hint given as `host/port`.
fn hint_of(gw: &Gateway, host: &str, port: &str) -> Result<String, ApiError> {
    key(gw, host, port).map(|k| k.to_string())
}

async fn takeover(
    gw: &Gateway,
    hint: String,
    designated: Option<(&str, &str)>,
    auto: bool,
    q: &HashMap<String, String>,
    hd: &Caller,
) -> ApiResult {
    let designated = designated.map(|(h, p)| key(gw, h, p)).transpose()?;
    let intent = Intent::GracefulTakeover {
        hint,
        designated,
        auto,
    };
    run(gw, intent, q, hd).await
}

// `AUTO`: the `-auto` routes, which let orchestrator choose the successor
// when none is designated.
async fn graceful<const AUTO: bool>(
    State(gw): S,
    Path(a): Path<String>,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    takeover(&gw, a, None, AUTO, &q, &hd).await
}

async fn graceful_by_key<const AUTO: bool>(
    State(gw): S,
    Path((h, p)): P2,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let hint = hint_of(&gw, &h, &p)?;
    takeover(&gw, hint, None, AUTO, &q, &hd).await
}

async fn graceful_to<const AUTO: bool>(
    State(gw): S,
    Path((a, dh, dp)): P3,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    takeover(&gw, a, Some((&dh, &dp)), AUTO, &q, &hd).await
}

async fn graceful_by_key_to<const AUTO: bool>(
    State(gw): S,
    Path((h, p, dh, dp)): P4,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let hint = hint_of(&gw, &h, &p)?;
    takeover(&gw, hint, Some((&dh, &dp)), AUTO, &q, &hd).await
}

async fn force_failover(
    State(gw): S,
    Path(a): Path<String>,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    run(&gw, Intent::ForceFailover { hint: a }, &q, &hd).await
}

async fn force_failover_by_key(
    State(gw): S,
    Path((h, p)): P2,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let hint = hint_of(&gw, &h, &p)?;
    run(&gw, Intent::ForceFailover { hint }, &q, &hd).await
}

async fn force_takeover(
    State(gw): S,
    Path((a, dh, dp)): P3,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let designated = key(&gw, &dh, &dp)?;
    run(
        &gw,
        Intent::ForceTakeover {
            hint: a,
            designated,
        },
        &q,
        &hd,
    )
    .await
}

async fn force_takeover_by_key(
    State(gw): S,
    Path((h, p, dh, dp)): P4,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let hint = hint_of(&gw, &h, &p)?;
    let designated = key(&gw, &dh, &dp)?;
    run(&gw, Intent::ForceTakeover { hint, designated }, &q, &hd).await
}
