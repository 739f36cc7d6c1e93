//! `locate-gtid-errant`: which binary logs of a server hold its errant
//! transactions. Each binary log starts with the GTID state at its start
//! (MySQL `Previous_gtids`, MariaDB `Gtid_list`); a transaction is in the
//! file whose starting state lacks it and whose successor's has it (or, for
//! the last file, the server's executed set).

use std::sync::Arc;

use orc_model::{GtidSet, InstanceKey};
use orc_mysql::Operator;
use orc_planner::replication::errant_gtids;
use orc_proto::v1 as wire;

use crate::Ctx;

fn fail(kind: &str, e: impl Into<String>) -> wire::OperationResult {
    wire::OperationResult {
        error: e.into(),
        error_kind: kind.into(),
        ..Default::default()
    }
}

/// The GTID state a file starts with, from its first events.
async fn start_state(
    op: &mut Operator,
    file: &str,
    flavor: orc_model::GtidFlavor,
) -> Option<GtidSet> {
    let rows = op.binlog_events(file, 4, 4).await.ok()?;
    let text = rows
        .iter()
        .find(|r| r.event_type == "Previous_gtids" || r.event_type == "Gtid_list")
        .map(|r| {
            r.info
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        })
        .unwrap_or_default();
    GtidSet::parse(flavor, &text).ok()
}

/// Whether a file whose state goes from `before` to `after` holds any of
/// `errant`. MariaDB positions keep one sequence number per domain, so a
/// transaction `d-s-n` is in it when `before[d] < n <= after[d]`.
fn holds(before: &GtidSet, after: &GtidSet, errant: &GtidSet) -> bool {
    match (before, after, errant) {
        (GtidSet::Mariadb(b), GtidSet::Mariadb(a), GtidSet::Mariadb(e)) => e.gtids().any(|g| {
            let was = b.domain(g.domain).map_or(0, |x| x.seq);
            let is = a.domain(g.domain).map_or(0, |x| x.seq);
            was < g.seq && g.seq <= is
        }),
        _ => after
            .difference(before)
            .and_then(|added| added.intersection(errant))
            .is_some_and(|x| !x.is_empty()),
    }
}

/// Answers `locate-gtid-errant` for `instance`.
pub(crate) async fn locate(
    ctx: &Arc<Ctx>,
    t: &orc_planner::Topology,
    instance: &InstanceKey,
) -> wire::OperationResult {
    let Some(server) = t.get(instance) else {
        return fail("not_found", format!("{instance} is not known"));
    };
    let Some(data) = server.live() else {
        return fail("unavailable", format!("{instance} cannot be read now"));
    };
    let Some(errant) = errant_gtids(t, instance) else {
        return wire::OperationResult {
            subject: Some(instance.into()),
            ..Default::default()
        };
    };
    let flavor = data.flavor.gtid_flavor();
    let executed = data
        .executed_gtids()
        .unwrap_or_else(|| GtidSet::empty(flavor));
    let mut op = match Operator::connect(
        server.address.clone(),
        &ctx.cfg.connect_options(&server.address),
    )
    .await
    {
        Ok(op) => op,
        Err(e) => return fail("unavailable", e.to_string()),
    };
    let logs = match op.binary_logs().await {
        Ok(l) => l,
        Err(e) => {
            op.close().await;
            return fail("failed", e.to_string());
        }
    };
    let mut states = Vec::new();
    for (file, _) in &logs {
        states.push(start_state(&mut op, file, flavor).await);
    }
    op.close().await;
    if let Some(Some(first)) = states.first()
        && holds(&GtidSet::empty(flavor), first, &errant)
    {
        return fail(
            "refused",
            format!("errant GTID {errant} of {instance} is purged from its binary logs"),
        );
    }
    let mut files = Vec::new();
    for (i, (file, _)) in logs.iter().enumerate() {
        let before = states[i].clone().unwrap_or_else(|| GtidSet::empty(flavor));
        let after = match states.get(i + 1) {
            Some(Some(next)) => next.clone(),
            Some(None) => continue,
            None => executed.clone(),
        };
        if holds(&before, &after, &errant) {
            files.push(file.clone());
        }
    }
    wire::OperationResult {
        answer: errant.to_string(),
        answers: files,
        subject: Some(instance.into()),
        ..Default::default()
    }
}
