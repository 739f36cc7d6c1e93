//! Operator-owned facts about an instance, kept apart from what probes see.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::promotion::PromotionRule;
use crate::time::Timestamp;

/// The downtime reason a recovery gives the servers it left behind (the
/// failed master, lost replicas); it ends once they replicate again.
pub const LOST_IN_RECOVERY: &str = "lost-in-recovery";

/// A downtime: the instance is known to be out of service; analysis still
/// reports it but automated recovery leaves it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downtime {
    /// Who declared it.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// When it began.
    pub begins_at: Timestamp,
    /// When it ends.
    pub ends_at: Timestamp,
}

impl Downtime {
    /// Whether the downtime covers `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.begins_at <= now && now < self.ends_at
    }
}

/// A maintenance lock: an operation is running on the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// Lock id.
    pub id: i64,
    /// Who holds it.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// When it began.
    pub begins_at: Timestamp,
    /// When it expires.
    pub ends_at: Timestamp,
}

/// A registered promotion preference, which expires unless renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateRegistration {
    /// The rule.
    pub rule: PromotionRule,
    /// When it was last registered.
    pub registered_at: Timestamp,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// Everything operators said about one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InstanceMetadata {
    /// Active or pending downtime.
    pub downtime: Option<Downtime>,
    /// Maintenance lock.
    pub maintenance: Option<Maintenance>,
    /// Registered promotion rule.
    pub candidate: Option<CandidateRegistration>,
    /// Tags: name → value (empty value for a bare tag).
    pub tags: BTreeMap<String, String>,
}

impl InstanceMetadata {
    /// The promotion rule in force at `now` (neutral when none or expired).
    pub fn promotion_rule(&self, now: Timestamp) -> PromotionRule {
        self.candidate
            .filter(|c| now < c.expires_at)
            .map_or(PromotionRule::Neutral, |c| c.rule)
    }

    /// Whether a downtime covers `now`.
    pub fn is_downtimed(&self, now: Timestamp) -> bool {
        self.downtime.as_ref().is_some_and(|d| d.is_active(now))
    }

    /// Whether a maintenance lock covers `now`.
    pub fn in_maintenance(&self, now: Timestamp) -> bool {
        self.maintenance
            .as_ref()
            .is_some_and(|m| m.begins_at <= now && now < m.ends_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_candidate_registration_falls_back_to_neutral() {
        let m = InstanceMetadata {
            candidate: Some(CandidateRegistration {
                rule: PromotionRule::Prefer,
                registered_at: Timestamp(0),
                expires_at: Timestamp(1000),
            }),
            ..Default::default()
        };
        assert_eq!(m.promotion_rule(Timestamp(999)), PromotionRule::Prefer);
        assert_eq!(m.promotion_rule(Timestamp(1000)), PromotionRule::Neutral);
    }

    #[test]
    fn downtime_is_active_only_inside_its_window() {
        let m = InstanceMetadata {
            downtime: Some(Downtime {
                owner: "ops".into(),
                reason: "upgrade".into(),
                begins_at: Timestamp(100),
                ends_at: Timestamp(200),
            }),
            ..Default::default()
        };
        assert!(!m.is_downtimed(Timestamp(99)));
        assert!(m.is_downtimed(Timestamp(100)));
        assert!(!m.is_downtimed(Timestamp(200)));
    }
}
