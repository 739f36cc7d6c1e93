//! Promotion rules: how much an operator wants a server to become master.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An operator's promotion preference for a server.
///
/// Ordered by preference: `Must > Prefer > Neutral > PreferNot > MustNot`,
/// so `max()` over candidates picks the most wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum PromotionRule {
    /// Must be promoted when it can be.
    Must,
    /// Preferred over neutral servers.
    Prefer,
    /// No preference (the default).
    #[default]
    Neutral,
    /// Promoted only when nothing better exists.
    PreferNot,
    /// Never promoted.
    MustNot,
}

impl PromotionRule {
    /// Every rule, most wanted first.
    pub const ALL: [PromotionRule; 5] = [
        PromotionRule::Must,
        PromotionRule::Prefer,
        PromotionRule::Neutral,
        PromotionRule::PreferNot,
        PromotionRule::MustNot,
    ];

    /// orchestrator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionRule::Must => "must",
            PromotionRule::Prefer => "prefer",
            PromotionRule::Neutral => "neutral",
            PromotionRule::PreferNot => "prefer_not",
            PromotionRule::MustNot => "must_not",
        }
    }

    fn rank(self) -> u8 {
        match self {
            PromotionRule::Must => 4,
            PromotionRule::Prefer => 3,
            PromotionRule::Neutral => 2,
            PromotionRule::PreferNot => 1,
            PromotionRule::MustNot => 0,
        }
    }

    /// orchestrator's `IsCandidate`: rule is must or prefer.
    pub fn is_candidate(self) -> bool {
        matches!(self, PromotionRule::Must | PromotionRule::Prefer)
    }
}

impl Ord for PromotionRule {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for PromotionRule {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PromotionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PromotionRule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        PromotionRule::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::InvalidPromotionRule(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_order_from_must_to_must_not() {
        use PromotionRule::*;
        assert!(Must > Prefer && Prefer > Neutral && Neutral > PreferNot && PreferNot > MustNot);
        assert_eq!([Neutral, Must, MustNot].into_iter().max(), Some(Must));
    }

    #[test]
    fn rules_parse_in_orchestrator_spelling() {
        for rule in PromotionRule::ALL {
            assert_eq!(rule.as_str().parse::<PromotionRule>().unwrap(), rule);
        }
        assert!("always".parse::<PromotionRule>().is_err());
    }
}
