//! Whom a failover promotes and why: `PromotionDecision`, `NoCandidate`,
//! `RankedReplica`, `PromotionVeto`, `LostReplica` ↔ `orc-promotion`.

use orc_promotion::{LostReplica, NoCandidate, PromotionDecision, Ranked, Veto};

use crate::Error;
use crate::convert::{key_from, opt_key_from};
use crate::v1 as w;
use crate::v1::promotion_veto::Kind;

impl From<&Veto> for w::PromotionVeto {
    fn from(v: &Veto) -> Self {
        let (kind, value, compared_to, seconds) = match v {
            Veto::Unreachable => (Kind::Unreachable, "", "", 0),
            Veto::NoBinaryLog => (Kind::NoBinaryLog, "", "", 0),
            Veto::NoLogReplicaUpdates => (Kind::NoLogReplicaUpdates, "", "", 0),
            Veto::MustNotRule => (Kind::MustNotRule, "", "", 0),
            Veto::IgnoredHostname => (Kind::IgnoredHostname, "", "", 0),
            Veto::NewerMajorVersionThanMost { version, most } => (
                Kind::NewerMajorVersionThanMost,
                version.as_str(),
                most.as_str(),
                0,
            ),
            Veto::HigherBinlogFormatThanMost { format, most } => (
                Kind::HigherBinlogFormatThanMost,
                format.as_str(),
                most.as_str(),
                0,
            ),
            Veto::CrossDataCenter { candidate, failed } => (
                Kind::CrossDataCenter,
                candidate.as_str(),
                failed.as_str(),
                0,
            ),
            Veto::CrossRegion { candidate, failed } => {
                (Kind::CrossRegion, candidate.as_str(), failed.as_str(), 0)
            }
            Veto::Lagging { seconds } => (Kind::Lagging, "", "", *seconds),
            Veto::SqlThreadNotUpToDate => (Kind::SqlThreadNotUpToDate, "", "", 0),
            Veto::NotDesignated => (Kind::NotDesignated, "", "", 0),
        };
        Self {
            kind: kind as i32,
            value: value.to_string(),
            compared_to: compared_to.to_string(),
            seconds,
            text: v.to_string(),
        }
    }
}

impl TryFrom<&w::PromotionVeto> for Veto {
    type Error = Error;
    fn try_from(v: &w::PromotionVeto) -> Result<Self, Error> {
        const MSG: &str = "PromotionVeto";
        let value = v.value.clone();
        let other = v.compared_to.clone();
        Ok(match Kind::try_from(v.kind) {
            Ok(Kind::Unreachable) => Veto::Unreachable,
            Ok(Kind::NoBinaryLog) => Veto::NoBinaryLog,
            Ok(Kind::NoLogReplicaUpdates) => Veto::NoLogReplicaUpdates,
            Ok(Kind::MustNotRule) => Veto::MustNotRule,
            Ok(Kind::IgnoredHostname) => Veto::IgnoredHostname,
            Ok(Kind::NewerMajorVersionThanMost) => Veto::NewerMajorVersionThanMost {
                version: value,
                most: other,
            },
            Ok(Kind::HigherBinlogFormatThanMost) => Veto::HigherBinlogFormatThanMost {
                format: value,
                most: other,
            },
            Ok(Kind::CrossDataCenter) => Veto::CrossDataCenter {
                candidate: value,
                failed: other,
            },
            Ok(Kind::CrossRegion) => Veto::CrossRegion {
                candidate: value,
                failed: other,
            },
            Ok(Kind::Lagging) => Veto::Lagging { seconds: v.seconds },
            Ok(Kind::SqlThreadNotUpToDate) => Veto::SqlThreadNotUpToDate,
            Ok(Kind::NotDesignated) => Veto::NotDesignated,
            Ok(Kind::Unspecified) => {
                return Err(Error::MissingField {
                    message: MSG,
                    field: "kind",
                });
            }
            Err(_) => {
                return Err(Error::UnknownValue {
                    message: MSG,
                    field: "kind",
                    value: v.kind,
                });
            }
        })
    }
}

impl From<&Ranked> for w::RankedReplica {
    fn from(r: &Ranked) -> Self {
        Self {
            key: Some((&r.key).into()),
            eligible: r.eligible,
            vetoes: r.vetoes.iter().map(Into::into).collect(),
            reasons: r.reasons.clone(),
        }
    }
}

impl TryFrom<&w::RankedReplica> for Ranked {
    type Error = Error;
    fn try_from(r: &w::RankedReplica) -> Result<Self, Error> {
        Ok(Self {
            key: key_from(r.key.as_ref(), "RankedReplica", "key")?,
            eligible: r.eligible,
            vetoes: r
                .vetoes
                .iter()
                .map(Veto::try_from)
                .collect::<Result<_, _>>()?,
            reasons: r.reasons.clone(),
        })
    }
}

fn ranking(r: &[w::RankedReplica]) -> Result<Vec<Ranked>, Error> {
    r.iter().map(Ranked::try_from).collect()
}

impl From<&LostReplica> for w::LostReplica {
    fn from(l: &LostReplica) -> Self {
        Self {
            key: Some((&l.key).into()),
            reason: l.reason.clone(),
            given_up: l.given_up.clone(),
        }
    }
}

impl TryFrom<&w::LostReplica> for LostReplica {
    type Error = Error;
    fn try_from(l: &w::LostReplica) -> Result<Self, Error> {
        Ok(Self {
            key: key_from(l.key.as_ref(), "LostReplica", "key")?,
            reason: l.reason.clone(),
            given_up: l.given_up.clone(),
        })
    }
}

impl From<&PromotionDecision> for w::PromotionDecision {
    fn from(d: &PromotionDecision) -> Self {
        Self {
            promote: Some((&d.promote).into()),
            ideal: d.ideal.as_ref().map(Into::into),
            ranking: d.ranking.iter().map(Into::into).collect(),
            lost: d.lost.iter().map(Into::into).collect(),
            gtid: d.gtid,
        }
    }
}

impl TryFrom<&w::PromotionDecision> for PromotionDecision {
    type Error = Error;
    fn try_from(d: &w::PromotionDecision) -> Result<Self, Error> {
        Ok(Self {
            promote: key_from(d.promote.as_ref(), "PromotionDecision", "promote")?,
            ideal: opt_key_from(d.ideal.as_ref())?,
            ranking: ranking(&d.ranking)?,
            lost: d
                .lost
                .iter()
                .map(LostReplica::try_from)
                .collect::<Result<_, _>>()?,
            gtid: d.gtid,
        })
    }
}

impl From<&NoCandidate> for w::NoCandidate {
    fn from(n: &NoCandidate) -> Self {
        Self {
            reason: n.reason.clone(),
            ranking: n.ranking.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<&w::NoCandidate> for NoCandidate {
    type Error = Error;
    fn try_from(n: &w::NoCandidate) -> Result<Self, Error> {
        Ok(Self {
            reason: n.reason.clone(),
            ranking: ranking(&n.ranking)?,
        })
    }
}
