//! Folded instance states on the wire: `InstanceState` ↔
//! [`orc_model::InstanceState`] (an analyzer's view of one instance, as
//! cluster briefs carry it to the recovery service).

use std::collections::BTreeMap;
use std::time::Duration;

use orc_model as m;

use crate::Error;
use crate::convert::{key_from, opt_key_from};
use crate::enums::{error_kind_to_wire, opt_error_kind_from_wire};
use crate::v1 as w;

const STATE: &str = "InstanceState";

fn ms(t: Option<m::Timestamp>) -> Option<i64> {
    t.map(m::Timestamp::as_millis)
}

fn at(ms: Option<i64>) -> Option<m::Timestamp> {
    ms.map(m::Timestamp::from_millis)
}

fn duration_to_wire(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        // Below 10^9, so it always fits.
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(i32::MAX),
    }
}

fn duration_from_wire(d: &prost_types::Duration, field: &'static str) -> Result<Duration, Error> {
    let malformed = |reason: &str| Error::Malformed {
        message: STATE,
        field,
        reason: reason.to_string(),
    };
    let secs = u64::try_from(d.seconds).map_err(|_| malformed("negative duration"))?;
    let nanos = u32::try_from(d.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| malformed("nanoseconds outside 0..10^9"))?;
    Ok(Duration::new(secs, nanos))
}

fn vantage_to_wire(name: &str, v: &m::VantageObservation) -> w::VantageObservation {
    w::VantageObservation {
        vantage: name.to_string(),
        observed_at_ms: v.observed_at.as_millis(),
        reached: v.reached,
        error_kind: v.error_kind.map(error_kind_to_wire),
        failing_since_ms: ms(v.failing_since),
    }
}

fn vantages_from_wire(
    vantages: &[w::VantageObservation],
) -> Result<BTreeMap<String, m::VantageObservation>, Error> {
    let mut out = BTreeMap::new();
    for v in vantages {
        let observation = m::VantageObservation {
            observed_at: m::Timestamp::from_millis(v.observed_at_ms),
            reached: v.reached,
            error_kind: opt_error_kind_from_wire(v.error_kind, "VantageObservation", "error_kind")?,
            failing_since: at(v.failing_since_ms),
        };
        if out.insert(v.vantage.clone(), observation).is_some() {
            return Err(Error::Malformed {
                message: STATE,
                field: "vantages",
                reason: format!("vantage {:?} appears twice", v.vantage),
            });
        }
    }
    Ok(out)
}

impl From<&m::InstanceState> for w::InstanceState {
    fn from(s: &m::InstanceState) -> Self {
        Self {
            key: Some((&s.key).into()),
            address: s.address.as_ref().map(Into::into),
            data: s.data.as_ref().map(Into::into),
            first_known_ms: s.first_known.as_millis(),
            last_checked_ms: ms(s.last_checked),
            last_seen_ms: ms(s.last_seen),
            last_attempted_ms: ms(s.last_attempted),
            last_partial_success: s.last_partial_success,
            last_error: s.last_error.as_ref().map(Into::into),
            failing_since_ms: ms(s.failing_since),
            last_probe_latency: Some(duration_to_wire(s.last_probe_latency)),
            vantages: s
                .vantages
                .iter()
                .map(|(name, v)| vantage_to_wire(name, v))
                .collect(),
            self_coordinates_since_ms: ms(s.self_coordinates_since),
        }
    }
}

impl TryFrom<&w::InstanceState> for m::InstanceState {
    type Error = Error;
    fn try_from(s: &w::InstanceState) -> Result<Self, Error> {
        Ok(Self {
            key: key_from(s.key.as_ref(), STATE, "key")?,
            address: opt_key_from(s.address.as_ref())?,
            data: s.data.as_ref().map(m::InstanceData::try_from).transpose()?,
            first_known: m::Timestamp::from_millis(s.first_known_ms),
            last_checked: at(s.last_checked_ms),
            last_seen: at(s.last_seen_ms),
            last_attempted: at(s.last_attempted_ms),
            last_partial_success: s.last_partial_success,
            last_error: s.last_error.as_ref().map(Into::into),
            failing_since: at(s.failing_since_ms),
            last_probe_latency: s
                .last_probe_latency
                .as_ref()
                .map(|d| duration_from_wire(d, "last_probe_latency"))
                .transpose()?
                .unwrap_or_default(),
            vantages: vantages_from_wire(&s.vantages)?,
            self_coordinates_since: at(s.self_coordinates_since_ms),
        })
    }
}
