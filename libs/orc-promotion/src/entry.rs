//! One replica as the selection sees it, and the orders it is ranked by.

use std::cmp::Ordering;

use orc_model::{InstanceKey, PromotionRule};

use crate::compat::{binlog_format_rank, compare_versions};
use crate::decision::Ranked;
use crate::eligibility::{Context, vetoes};
use crate::progress::{Mode, Progress, Relation, executed_set};
use crate::request::ReplicaFacts;
use crate::veto::Veto;

/// A replica with everything the ranking compares.
#[derive(Debug)]
pub(crate) struct Entry<'r, 'a> {
    pub facts: &'r ReplicaFacts<'a>,
    pub progress: Progress,
    pub vetoes: Vec<Veto>,
    pub reasons: Vec<String>,
    pub same_dc: bool,
    pub same_env: bool,
    pub version: String,
    pub format_rank: Option<u8>,
}

impl<'r, 'a> Entry<'r, 'a> {
    pub(crate) fn new(facts: &'r ReplicaFacts<'a>, ctx: &Context<'_>, mode: Mode) -> Self {
        let d = facts.data;
        Self {
            facts,
            progress: Progress::of(d, mode),
            vetoes: vetoes(facts, ctx),
            reasons: Vec::new(),
            same_dc: ctx.same_data_center(d),
            same_env: ctx.same_environment(d),
            version: d.major_version(),
            format_rank: binlog_format_rank(&d.binlog_format),
        }
    }

    pub(crate) fn key(&self) -> &'a InstanceKey {
        self.facts.key
    }

    pub(crate) fn rule(&self) -> PromotionRule {
        self.facts.rule
    }

    pub(crate) fn eligible(&self) -> bool {
        self.vetoes.is_empty()
    }

    pub(crate) fn ranked(&self) -> Ranked {
        Ranked {
            key: self.key().clone(),
            eligible: self.eligible(),
            vetoes: self.vetoes.clone(),
            reasons: self.reasons.clone(),
        }
    }
}

/// The choice among eligible replicas, better first: most up to date, then
/// promotion rule, then the failed master's data centre, then its physical
/// environment, then lower major version, then smaller binlog format, then key.
pub(crate) fn choice_order(a: &Entry<'_, '_>, b: &Entry<'_, '_>) -> Ordering {
    b.progress
        .rank_cmp(&a.progress)
        .then_with(|| b.rule().cmp(&a.rule()))
        .then_with(|| b.same_dc.cmp(&a.same_dc))
        .then_with(|| b.same_env.cmp(&a.same_env))
        .then_with(|| compare_versions(&a.version, &b.version))
        .then_with(|| {
            let rank = |e: &Entry<'_, '_>| e.format_rank.unwrap_or(u8::MAX);
            rank(a).cmp(&rank(b))
        })
        .then_with(|| a.key().cmp(b.key()))
}

/// The ranking order: eligible replicas first, each group by [`choice_order`].
pub(crate) fn ranking_order(a: &Entry<'_, '_>, b: &Entry<'_, '_>) -> Ordering {
    b.eligible()
        .cmp(&a.eligible())
        .then_with(|| choice_order(a, b))
}

fn candidate_level(rule: PromotionRule) -> u8 {
    match rule {
        PromotionRule::Must => 2,
        PromotionRule::Prefer => 1,
        _ => 0,
    }
}

/// The order for the ideal replica, better first: must, then prefer (other
/// rules alike), then the failed master's data centre, then up-to-dateness.
pub(crate) fn ideal_order(a: &Entry<'_, '_>, b: &Entry<'_, '_>) -> Ordering {
    candidate_level(b.rule())
        .cmp(&candidate_level(a.rule()))
        .then_with(|| b.same_dc.cmp(&a.same_dc))
        .then_with(|| choice_order(a, b))
}

/// Why `winner` was chosen over `runner_up`, when they are as up to date.
pub(crate) fn tie_break(winner: &Entry<'_, '_>, runner_up: &Entry<'_, '_>) -> Option<String> {
    if winner.progress.rank_cmp(&runner_up.progress) != Ordering::Equal {
        return None;
    }
    let other = runner_up.key();
    let why = if winner.rule() != runner_up.rule() {
        format!("promotion rule {} over {}", winner.rule(), runner_up.rule())
    } else if winner.same_dc != runner_up.same_dc {
        "in the failed master's data centre".to_string()
    } else if winner.same_env != runner_up.same_env {
        "in the failed master's physical environment".to_string()
    } else if compare_versions(&winner.version, &runner_up.version).is_ne() {
        format!(
            "lower major version {} than {}",
            winner.version, runner_up.version
        )
    } else if winner.format_rank != runner_up.format_rank {
        "smaller binlog format".to_string()
    } else {
        "key order".to_string()
    };
    Some(format!("as up to date as {other}; chosen by {why}"))
}

/// Adds what every replica's position, rule and geography look like.
pub(crate) fn annotate(entries: &mut [Entry<'_, '_>], ctx: &Context<'_>, mode: Mode) {
    let best = entries
        .iter()
        .filter(|e| e.facts.reachable)
        .max_by(|a, b| {
            a.progress
                .rank_cmp(&b.progress)
                .then_with(|| b.key().cmp(a.key()))
        })
        .map(|e| (e.key().clone(), e.progress.clone()));
    let mut notes: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let note = &mut notes[i];
        if mode == Mode::Coordinates
            && crate::progress::uses_gtid(e.facts.data)
            && let Err(err) = executed_set(e.facts.data)
        {
            note.push(format!(
                "GTIDs unusable ({err}): ranked by exec coordinates"
            ));
        }
        note.push(e.progress.to_string());
        if !e.facts.reachable {
            note.push("unreachable: last known position".to_string());
        } else if let Some((best_key, best_progress)) = &best {
            if e.progress.rank_cmp(best_progress) == Ordering::Equal {
                note.push("most up to date".to_string());
            } else {
                note.push(
                    match (
                        e.progress.relation(best_progress),
                        best_progress.count(),
                        e.progress.count(),
                    ) {
                        (Relation::Behind, Some(b), Some(c)) => {
                            format!("behind {best_key} by {} transactions", b.saturating_sub(c))
                        }
                        (Relation::Incomparable, _, _) => {
                            format!("fewer transactions than {best_key}")
                        }
                        _ => format!("behind {best_key}"),
                    },
                );
            }
        }
        for other in entries.iter() {
            if other.key() != e.key()
                && e.progress.relation(&other.progress) == Relation::Incomparable
            {
                note.push(format!(
                    "GTIDs incomparable with {}: each has transactions the other lacks; ranked by transaction count ({} vs {})",
                    other.key(),
                    e.progress.count().unwrap_or(0),
                    other.progress.count().unwrap_or(0)
                ));
            }
        }
        note.push(format!("promotion rule {}", e.rule()));
        if let Some(dc) = ctx.failed_data_center() {
            if e.same_dc {
                note.push(format!("in the failed master's data centre {dc:?}"));
            } else {
                note.push(format!(
                    "in data centre {:?}, the failed master's is {dc:?}",
                    e.facts.data.data_center
                ));
            }
        }
    }
    for (e, note) in entries.iter_mut().zip(notes) {
        e.reasons.extend(note);
    }
}
