//! What promotion decides: whom to promote, whom to hand over to, who is lost.

use std::fmt;

use orc_model::InstanceKey;
use serde::{Deserialize, Serialize};

use crate::veto::Veto;

/// The outcome of a successful selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionDecision {
    /// The replica promoted now: the most up to date eligible one.
    pub promote: InstanceKey,
    /// A better replica by promotion rule or geography that is eligible but
    /// not the most up to date: it catches up under `promote`, then
    /// mastership is handed to it. `None` when `promote` is already ideal.
    pub ideal: Option<InstanceKey>,
    /// Every replica, best first (eligible ones first), with reasons and vetoes.
    pub ranking: Vec<Ranked>,
    /// Replicas that cannot follow the promoted one, in key order.
    pub lost: Vec<LostReplica>,
    /// Whether every reachable replica uses GTID, so recovery moves
    /// replicas by GTID; otherwise by `file:pos`.
    pub gtid: bool,
}

impl PromotionDecision {
    /// The ranking entry of one replica.
    pub fn ranked(&self, key: &InstanceKey) -> Option<&Ranked> {
        self.ranking.iter().find(|r| &r.key == key)
    }

    /// Whether `key` is among the lost replicas.
    pub fn is_lost(&self, key: &InstanceKey) -> bool {
        self.lost.iter().any(|l| &l.key == key)
    }
}

/// One replica's place in the ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    /// The replica.
    pub key: InstanceKey,
    /// Whether it could be promoted (no veto).
    pub eligible: bool,
    /// Why it cannot be promoted.
    pub vetoes: Vec<Veto>,
    /// What the choice saw: progress, rule, geography, tie-breaks, outcome.
    pub reasons: Vec<String>,
}

/// A replica that cannot replicate from the promoted one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostReplica {
    /// The replica.
    pub key: InstanceKey,
    /// Why it cannot follow.
    pub reason: String,
    /// The GTIDs it has that the promoted replica lacks (what following
    /// would discard), or empty.
    pub given_up: String,
}

/// No replica may be promoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoCandidate {
    /// Why, naming each replica's vetoes.
    pub reason: String,
    /// Every replica with its vetoes.
    pub ranking: Vec<Ranked>,
}

impl fmt::Display for NoCandidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for NoCandidate {}
