//! Operator facts about instances: downtime, maintenance locks and promotion
//! rules. Each change is written to the store, then announced with
//! `MetadataChanged` so analyzers and recovery services reload it.

use std::time::Duration;

use orc_model::{
    CandidateRegistration, Downtime, InstanceKey, InstanceMetadata, Maintenance, PromotionRule,
    Timestamp,
};

use super::catalog;
use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::{Gateway, commands};

/// Length of a downtime given without one, and of every maintenance lock
/// (orchestrator's `MaintenanceExpireMinutes` default).
pub(crate) const DEFAULT_DOWNTIME: Duration = Duration::from_secs(600);

/// An instance's operator facts after a change.
#[derive(Debug, Clone)]
pub(crate) struct MetadataChange {
    /// The instance (its identity, when given by a fuzzy key).
    pub key: InstanceKey,
    /// What is recorded now.
    pub metadata: InstanceMetadata,
    /// When the change was made.
    pub now: Timestamp,
}

/// Parses orchestrator's downtime durations: a number of seconds, or a
/// number with `s`, `m`, `h`, `d` or `w`; empty is zero (the default).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, ApiError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Duration::ZERO);
    }
    let bad = || {
        ApiError::BadRequest(format!(
            "Invalid duration {t:?}: expected a number of seconds, or a number with s, m, h, d or w (59s, 10m, 2h, 3d, 1w)"
        ))
    };
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// Parses a promotion rule (orchestrator's `prefer`, `neutral`,
/// `prefer_not`, `must_not`; also `must`).
pub(crate) fn parse_promotion_rule(text: &str) -> Result<PromotionRule, ApiError> {
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "Invalid promotion rule {text:?}: expected prefer, neutral, prefer_not, must_not or must"
        ))
    })
}

fn required(what: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        Err(ApiError::BadRequest(format!("{what} must be provided")))
    } else {
        Ok(v.to_string())
    }
}

/// A known instance, or one with recorded metadata (it may have been
/// forgotten since).
fn known_or_recorded(cat: &Catalog, key: &InstanceKey) -> Result<InstanceKey, ApiError> {
    match cat.resolve_instance(key) {
        Some(k) => Ok(k),
        None if cat.metadata(key).is_some() => Ok(key.clone()),
        None => cat.require_instance(key),
    }
}

async fn write(
    gw: &Gateway,
    key: InstanceKey,
    now: Timestamp,
    change: impl FnMut(&mut InstanceMetadata),
) -> Result<MetadataChange, ApiError> {
    let metadata = gw.store.metadata().update(&key, now, change).await?;
    commands::metadata_changed(&*gw.bus, std::slice::from_ref(&key)).await;
    Ok(MetadataChange { key, metadata, now })
}

/// Downtimes a known instance for `duration` (zero: 10 minutes).
pub(crate) async fn begin_downtime(
    gw: &Gateway,
    key: &InstanceKey,
    owner: &str,
    reason: &str,
    duration: Duration,
) -> Result<MetadataChange, ApiError> {
    let owner = required("owner", owner)?;
    let reason = required("reason", reason)?;
    let duration = if duration.is_zero() {
        DEFAULT_DOWNTIME
    } else {
        duration
    };
    let cat = catalog(gw).await?;
    let key = cat.require_instance(key)?;
    let now = cat.now();
    write(gw, key, now, |m| {
        m.downtime = Some(Downtime {
            owner: owner.clone(),
            reason: reason.clone(),
            begins_at: now,
            ends_at: now.plus(duration),
        });
    })
    .await
}

/// Ends an instance's downtime (nothing to end is no error, as in orchestrator).
pub(crate) async fn end_downtime(
    gw: &Gateway,
    key: &InstanceKey,
) -> Result<MetadataChange, ApiError> {
    let cat = catalog(gw).await?;
    let key = known_or_recorded(&cat, key)?;
    write(gw, key, cat.now(), |m| m.downtime = None).await
}

/// Takes a maintenance lock on a known instance (10 minutes); refused while
/// another lock is active.
pub(crate) async fn begin_maintenance(
    gw: &Gateway,
    key: &InstanceKey,
    owner: &str,
    reason: &str,
) -> Result<MetadataChange, ApiError> {
    let owner = required("owner", owner)?;
    let reason = required("reason", reason)?;
    let cat = catalog(gw).await?;
    let key = cat.require_instance(key)?;
    let now = cat.now();
    let id = cat
        .all_metadata()
        .values()
        .filter_map(|m| m.maintenance.as_ref().map(|l| l.id))
        .max()
        .unwrap_or(0)
        + 1;
    let mut held = None;
    let change = write(gw, key.clone(), now, |m| {
        if m.in_maintenance(now) {
            held = m.maintenance.clone();
        } else {
            held = None;
            m.maintenance = Some(Maintenance {
                id,
                owner: owner.clone(),
                reason: reason.clone(),
                begins_at: now,
                ends_at: now.plus(DEFAULT_DOWNTIME),
            });
        }
    })
    .await?;
    match held {
        Some(lock) => Err(ApiError::Failed(format!(
            "Cannot begin maintenance on {key}: already in maintenance (id {}, owner {}, reason {})",
            lock.id, lock.owner, lock.reason
        ))),
        None => Ok(change),
    }
}

/// Releases an instance's maintenance lock (none is no error).
pub(crate) async fn end_maintenance(
    gw: &Gateway,
    key: &InstanceKey,
) -> Result<MetadataChange, ApiError> {
    let cat = catalog(gw).await?;
    let key = known_or_recorded(&cat, key)?;
    write(gw, key, cat.now(), |m| m.maintenance = None).await
}

/// Releases a maintenance lock by its id (orchestrator's `maintenanceKey`).
pub(crate) async fn end_maintenance_by_id(
    gw: &Gateway,
    id: i64,
) -> Result<MetadataChange, ApiError> {
    let cat = catalog(gw).await?;
    let key = cat
        .all_metadata()
        .iter()
        .find(|(_, m)| m.maintenance.as_ref().is_some_and(|l| l.id == id))
        .map(|(k, _)| k.clone())
        .ok_or_else(|| ApiError::NotFound(format!("No maintenance with id {id}")))?;
    write(gw, key, cat.now(), |m| m.maintenance = None).await
}

/// Registers a promotion rule for a known instance, lasting
/// `CandidateInstanceExpireMinutes`.
pub(crate) async fn register_candidate(
    gw: &Gateway,
    key: &InstanceKey,
    rule: PromotionRule,
) -> Result<MetadataChange, ApiError> {
    let cat = catalog(gw).await?;
    let key = cat.require_instance(key)?;
    let now = cat.now();
    let expires_at = now.plus(gw.candidate_expiry);
    write(gw, key, now, |m| {
        m.candidate = Some(CandidateRegistration {
            rule,
            registered_at: now,
            expires_at,
        });
    })
    .await
}

/// Whether an instance holds a maintenance lock now.
pub(crate) async fn in_maintenance(
    gw: &Gateway,
    key: &InstanceKey,
) -> Result<(InstanceKey, bool), ApiError> {
    let cat = catalog(gw).await?;
    let key = known_or_recorded(&cat, key)?;
    let held = cat
        .metadata(&key)
        .is_some_and(|m| m.in_maintenance(cat.now()));
    Ok((key, held))
}

/// Active maintenance locks, by instance, and the instant they were read.
pub(crate) async fn active_maintenance(
    gw: &Gateway,
) -> Result<(Vec<(InstanceKey, Maintenance)>, Timestamp), ApiError> {
    let cat = catalog(gw).await?;
    let now = cat.now();
    let locks = cat
        .all_metadata()
        .iter()
        .filter(|(_, m)| m.in_maintenance(now))
        .filter_map(|(k, m)| m.maintenance.clone().map(|l| (k.clone(), l)))
        .collect();
    Ok((locks, now))
}

/// Downtimed instances (of the cluster `hint` designates, or all), with the
/// catalog to render them.
pub(crate) async fn downtimed(
    gw: &Gateway,
    hint: Option<&str>,
) -> Result<(Catalog, Vec<InstanceKey>), ApiError> {
    let cat = catalog(gw).await?;
    let cluster = match hint.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => Some(cat.resolve_cluster(h)?),
        None => None,
    };
    let keys = cat.downtimed(cluster.as_ref());
    Ok((cat, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_orchestrators() {
        let secs = |t: &str| parse_duration(t).unwrap().as_secs();
        assert_eq!(secs("59s"), 59);
        assert_eq!(secs("10m"), 600);
        assert_eq!(secs("2h"), 7200);
        assert_eq!(secs("3d"), 3 * 86_400);
        assert_eq!(secs("1w"), 7 * 86_400);
        assert_eq!(secs("90"), 90);
        assert_eq!(secs("0"), 0);
        assert_eq!(secs(""), 0);
        for bad in ["10x", "m", "-5m", "1.5h", "ten", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn promotion_rules_include_must() {
        assert_eq!(
            parse_promotion_rule("prefer").unwrap(),
            PromotionRule::Prefer
        );
        assert_eq!(parse_promotion_rule("must").unwrap(), PromotionRule::Must);
        assert_eq!(
            parse_promotion_rule("prefer_not").unwrap(),
            PromotionRule::PreferNot
        );
        assert!(parse_promotion_rule("always").is_err());
    }
}

/// A tag as orchestrator writes it: `name` or `name=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    /// Its name.
    pub name: String,
    /// Its value (`None`: any, in a match; empty, when set).
    pub value: Option<String>,
}

impl Tag {
    /// Parses `name[=value]`; a name is non-empty and holds no `=` or `,`.
    pub(crate) fn parse(text: &str) -> Result<Self, ApiError> {
        let text = text.trim();
        let (name, value) = match text.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
            None => (text, None),
        };
        if name.is_empty() || name.contains(',') || name.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "Invalid tag {text:?}: expected name or name=value"
            )));
        }
        Ok(Self {
            name: name.to_string(),
            value,
        })
    }

    /// Whether an instance's tags hold this one.
    pub(crate) fn matches(&self, tags: &std::collections::BTreeMap<String, String>) -> bool {
        match (tags.get(&self.name), &self.value) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(v), Some(want)) => v == want,
        }
    }
}

/// orchestrator's rendering of an instance's tags: `name=value`.
pub(crate) fn tag_strings(tags: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    tags.iter().map(|(n, v)| format!("{n}={v}")).collect()
}

/// Tags a known instance.
pub(crate) async fn tag(
    gw: &Gateway,
    key: &InstanceKey,
    tag: &Tag,
) -> Result<MetadataChange, ApiError> {
    let cat = catalog(gw).await?;
    let key = cat.require_instance(key)?;
    let now = cat.now();
    let (name, value) = (tag.name.clone(), tag.value.clone().unwrap_or_default());
    write(gw, key, now, |m| {
        m.tags.insert(name.clone(), value.clone());
    })
    .await
}

/// Removes a tag (of any value, or of the given one) from the instances
/// given (`None`: every instance); returns those it was removed from.
pub(crate) async fn untag(
    gw: &Gateway,
    only: Option<&InstanceKey>,
    tag: &Tag,
) -> Result<Vec<InstanceKey>, ApiError> {
    let cat = catalog(gw).await?;
    let now = cat.now();
    let targets: Vec<InstanceKey> = match only {
        Some(k) => vec![known_or_recorded(&cat, k)?],
        None => cat
            .all_metadata()
            .iter()
            .filter(|(_, m)| tag.matches(&m.tags))
            .map(|(k, _)| k.clone())
            .collect(),
    };
    let mut untagged = Vec::new();
    for key in targets {
        let had = cat.metadata(&key).is_some_and(|m| tag.matches(&m.tags));
        if !had {
            continue;
        }
        write(gw, key.clone(), now, |m| {
            if tag.matches(&m.tags) {
                m.tags.remove(&tag.name);
            }
        })
        .await?;
        untagged.push(key);
    }
    Ok(untagged)
}

/// Instances whose tags satisfy `expression`: `a,b=1,~c` (every term must
/// hold; `~` or `!` negates one).
pub(crate) fn tagged(cat: &Catalog, expression: &str) -> Result<Vec<InstanceKey>, ApiError> {
    let mut terms = Vec::new();
    for raw in expression
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (negated, text) = match raw.strip_prefix('~').or_else(|| raw.strip_prefix('!')) {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        terms.push((negated, Tag::parse(text)?));
    }
    if terms.is_empty() {
        return Err(ApiError::BadRequest("tag must be provided".into()));
    }
    let empty = std::collections::BTreeMap::new();
    Ok(cat
        .all_keys()
        .into_iter()
        .filter(|k| {
            let tags = cat.metadata(k).map_or(&empty, |m| &m.tags);
            terms.iter().all(|(neg, t)| t.matches(tags) != *neg)
        })
        .collect())
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    #[test]
    fn tags_parse_and_match_as_orchestrator_reads_them() {
        let t = Tag::parse("role=backup").unwrap();
        assert_eq!(t.value.as_deref(), Some("backup"));
        let mut tags = std::collections::BTreeMap::new();
        assert!(!t.matches(&tags));
        tags.insert("role".to_string(), "backup".to_string());
        assert!(t.matches(&tags));
        assert!(Tag::parse("role").unwrap().matches(&tags));
        assert!(!Tag::parse("role=primary").unwrap().matches(&tags));
        for bad in ["", "=x", "a,b", " =v"] {
            assert!(Tag::parse(bad).is_err(), "{bad:?}");
        }
    }
}
