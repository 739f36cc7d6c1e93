//! The selection: vetoes, ranking, choice, ideal replica, lost replicas.

use orc_model::{InstanceKey, PromotionRule};

use crate::compat::{compare_versions, priority_binlog_format, priority_major_version};
use crate::decision::{LostReplica, NoCandidate, PromotionDecision, Ranked};
use crate::eligibility::Context;
use crate::entry::{Entry, annotate, ideal_order, ranking_order, tie_break};
use crate::policy::PromotionPolicy;
use crate::progress::{Mode, Relation, executed_set, given_up, uses_gtid};
use crate::request::{PromotionRequest, ReplicaFacts};
use crate::veto::Veto;

/// Chooses the replica to promote in place of `req.failed_master`.
///
/// Every veto is decided first; the most up to date eligible replica is
/// promoted (ties broken by promotion rule, geography, version, binlog
/// format, key). With a designated candidate, it is promoted or the request
/// is refused. Returns [`NoCandidate`] when no replica may be promoted.
pub fn select_candidate(
    req: &PromotionRequest<'_>,
    policy: &PromotionPolicy,
) -> Result<PromotionDecision, NoCandidate> {
    let failed = req.failed_master;
    let reachable: Vec<&ReplicaFacts<'_>> = req.replicas.iter().filter(|r| r.reachable).collect();
    let ctx = Context {
        policy,
        failed: req.failed_master_data,
        reachable: reachable.len(),
        priority_version: priority_major_version(reachable.iter().map(|r| r.data.major_version())),
        priority_format: priority_binlog_format(
            reachable
                .iter()
                .filter(|r| r.data.log_bin)
                .map(|r| r.data.binlog_format.clone()),
        ),
        designated: req.designated,
    };
    let (gtid, mode) = choose_mode(&reachable);
    let mut entries: Vec<Entry<'_, '_>> = req
        .replicas
        .iter()
        .map(|r| Entry::new(r, &ctx, mode))
        .collect();
    annotate(&mut entries, &ctx, mode);
    entries.sort_by(ranking_order);

    if let Some(designated) = req.designated {
        match entries.iter().find(|e| e.key() == designated) {
            None => {
                return Err(no_candidate(
                    format!(
                        "designated candidate {designated} is not a replica of failed master {failed}"
                    ),
                    &entries,
                ));
            }
            Some(e) if !e.eligible() => {
                return Err(no_candidate(
                    format!(
                        "designated candidate {designated} cannot be promoted: {}",
                        list(&e.vetoes)
                    ),
                    &entries,
                ));
            }
            Some(_) => {}
        }
    }
    let Some(promoted) = entries.first().filter(|e| e.eligible()) else {
        let reason = if entries.is_empty() {
            format!("failed master {failed} has no replicas")
        } else {
            let why: Vec<String> = entries
                .iter()
                .map(|e| format!("{}: {}", e.key(), list(&e.vetoes)))
                .collect();
            format!("no eligible replica of {failed}: {}", why.join("; "))
        };
        return Err(no_candidate(reason, &entries));
    };

    let lost = lost_replicas(&entries, promoted, gtid);
    let ideal = ideal_replica(&entries, promoted, &lost);
    let promote_key = promoted.key().clone();
    let runner_up = entries.iter().skip(1).find(|e| e.eligible());
    let mut promote_notes = vec!["promoted: most up to date eligible replica".to_string()];
    promote_notes.extend(runner_up.and_then(|r| tie_break(promoted, r)));
    let ideal_key = ideal.map(|i| i.key().clone());
    if let Some(k) = &ideal_key {
        promote_notes.push(format!("hands mastership to {k} once it has caught up"));
    }

    let mut ranking: Vec<Ranked> = entries.iter().map(Entry::ranked).collect();
    for r in &mut ranking {
        if r.key == promote_key {
            r.reasons.extend(promote_notes.iter().cloned());
        }
        if ideal_key.as_ref() == Some(&r.key) {
            r.reasons.push(format!(
                "ideal: takes over from {promote_key} once it has caught up"
            ));
        }
        if let Some(l) = lost.iter().find(|l| l.key == r.key) {
            r.reasons.push(format!("lost: {}", l.reason));
        }
    }
    Ok(PromotionDecision {
        promote: promote_key,
        ideal: ideal_key,
        ranking,
        lost,
        gtid,
    })
}

/// GTID when every reachable replica replicates with GTID of one flavour;
/// GTID ordering also needs every reachable replica's set to parse.
fn choose_mode(reachable: &[&ReplicaFacts<'_>]) -> (bool, Mode) {
    let Some(first) = reachable.first() else {
        return (false, Mode::Coordinates);
    };
    let flavor = first.data.flavor.gtid_flavor();
    let gtid = reachable
        .iter()
        .all(|r| uses_gtid(r.data) && r.data.flavor.gtid_flavor() == flavor);
    let parses = reachable.iter().all(|r| executed_set(r.data).is_ok());
    let mode = if gtid && parses {
        Mode::Gtid(flavor)
    } else {
        Mode::Coordinates
    };
    (gtid, mode)
}

fn list(vetoes: &[Veto]) -> String {
    vetoes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn no_candidate(reason: String, entries: &[Entry<'_, '_>]) -> NoCandidate {
    NoCandidate {
        reason,
        ranking: entries.iter().map(Entry::ranked).collect(),
    }
}

/// Replicas that cannot follow `promoted`: unreachable ones; ones with
/// transactions it lacks (or, without GTID, executed past it); ones on an
/// older major version; ones logging a smaller binlog format; without
/// GTID, ones behind it (their position in its binary logs is unknown).
/// Key order.
fn lost_replicas(
    entries: &[Entry<'_, '_>],
    promoted: &Entry<'_, '_>,
    gtid: bool,
) -> Vec<LostReplica> {
    let p = promoted.key();
    let mut lost: Vec<LostReplica> = Vec::new();
    for e in entries.iter().filter(|e| e.key() != p) {
        if !e.facts.reachable {
            lost.push(LostReplica {
                key: e.key().clone(),
                reason: "unreachable".to_string(),
                given_up: String::new(),
            });
            continue;
        }
        let mut why = Vec::new();
        let mut given = String::new();
        if matches!(
            e.progress.relation(&promoted.progress),
            Relation::Ahead | Relation::Incomparable
        ) {
            match (e.progress.gtid_set(), promoted.progress.gtid_set()) {
                (Some(mine), Some(theirs)) => {
                    let (words, text) = given_up(mine, theirs);
                    why.push(format!("has transactions {p} lacks: {words}"));
                    given = text;
                }
                _ => why.push(format!(
                    "executed past {p}: {} against {}",
                    e.progress, promoted.progress
                )),
            }
        }
        if !gtid && e.progress.relation(&promoted.progress) == Relation::Behind {
            why.push(format!(
                "behind {p} without GTID: its position in {p}'s binary logs cannot be computed"
            ));
        }
        if !e.version.is_empty()
            && !promoted.version.is_empty()
            && compare_versions(&e.version, &promoted.version).is_lt()
        {
            why.push(format!(
                "runs {}, older than {} on {p}",
                e.version, promoted.version
            ));
        }
        let d = e.facts.data;
        if d.is_logging_replica_updates()
            && let (Some(mine), Some(theirs)) = (e.format_rank, promoted.format_rank)
            && mine < theirs
        {
            why.push(format!(
                "logs binlog_format {} and cannot apply {} events from {p}",
                d.binlog_format.trim().to_ascii_uppercase(),
                promoted
                    .facts
                    .data
                    .binlog_format
                    .trim()
                    .to_ascii_uppercase()
            ));
        }
        if !why.is_empty() {
            lost.push(LostReplica {
                key: e.key().clone(),
                reason: why.join("; "),
                given_up: given,
            });
        }
    }
    lost.sort_by(|a, b| a.key.cmp(&b.key));
    lost
}

/// The replica mastership should end up on, when it is not `promoted`:
/// the best eligible must/prefer replica (by rule, then the failed master's
/// data centre, then up-to-dateness), or, when `promoted` is `prefer_not`,
/// the best neutral-or-better one in the failed master's data centre.
/// Lost replicas cannot catch up under `promoted` and are never ideal.
fn ideal_replica<'e, 'r, 'a>(
    entries: &'e [Entry<'r, 'a>],
    promoted: &Entry<'_, '_>,
    lost: &[LostReplica],
) -> Option<&'e Entry<'r, 'a>> {
    let is_lost = |k: &InstanceKey| lost.iter().any(|l| &l.key == k);
    let pool: Vec<&Entry<'r, 'a>> = entries
        .iter()
        .filter(|e| e.eligible() && (e.key() == promoted.key() || !is_lost(e.key())))
        .collect();
    let best = pool.iter().copied().min_by(|a, b| ideal_order(a, b))?;
    if best.key() != promoted.key() && best.rule().is_candidate() {
        return Some(best);
    }
    if promoted.rule() == PromotionRule::PreferNot {
        return pool
            .iter()
            .copied()
            .filter(|e| {
                e.key() != promoted.key() && e.rule() >= PromotionRule::Neutral && e.same_dc
            })
            .min_by(|a, b| ideal_order(a, b));
    }
    None
}
