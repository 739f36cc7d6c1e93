//! Which optional queries (`ReplicationLagQuery`, `Detect*Query`) are
//! failing on one server, so that a failure is logged when it starts, when
//! its error changes and when it ends — not on every poll. Pure: the probe
//! feeds it each query's outcome and logs what it returns.

use std::collections::BTreeMap;

/// A change in how one query fares on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryTransition {
    /// It failed after answering (or on its first run).
    Failing {
        /// Its configuration key.
        key: &'static str,
        /// The error.
        error: String,
    },
    /// It still fails, with another error.
    FailingDifferently {
        /// Its configuration key.
        key: &'static str,
        /// The error before.
        previous: String,
        /// The error now.
        error: String,
    },
    /// It answered again.
    Recovered {
        /// Its configuration key.
        key: &'static str,
        /// The last error it had.
        previous: String,
    },
}

/// The failing queries of one server and their last errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryFailures {
    failing: BTreeMap<&'static str, String>,
}

impl QueryFailures {
    /// Records one run of the query named by `key`: `Ok(())` when it
    /// answered, else its error. Returns what changed, if anything.
    pub fn record(
        &mut self,
        key: &'static str,
        outcome: Result<(), &str>,
    ) -> Option<QueryTransition> {
        match outcome {
            Ok(()) => self
                .failing
                .remove(key)
                .map(|previous| QueryTransition::Recovered { key, previous }),
            Err(error) => match self.failing.insert(key, error.to_string()) {
                None => Some(QueryTransition::Failing {
                    key,
                    error: error.to_string(),
                }),
                Some(previous) if previous == error => None,
                Some(previous) => Some(QueryTransition::FailingDifferently {
                    key,
                    previous,
                    error: error.to_string(),
                }),
            },
        }
    }

    /// Whether the query named by `key` failed on its last run.
    pub fn is_failing(&self, key: &str) -> bool {
        self.failing.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIAS: &str = "DetectClusterAliasQuery";
    const DOMAIN: &str = "DetectClusterDomainQuery";

    #[test]
    fn a_failing_query_is_reported_once_until_it_recovers() {
        let mut f = QueryFailures::default();
        assert_eq!(f.record(ALIAS, Ok(())), None, "answering is not news");
        let denied = "SELECT command denied to user 'orchestrator'";
        assert_eq!(
            f.record(ALIAS, Err(denied)),
            Some(QueryTransition::Failing {
                key: ALIAS,
                error: denied.into()
            })
        );
        for _ in 0..100 {
            assert_eq!(f.record(ALIAS, Err(denied)), None, "same error, every poll");
        }
        assert!(f.is_failing(ALIAS));
        assert_eq!(
            f.record(ALIAS, Ok(())),
            Some(QueryTransition::Recovered {
                key: ALIAS,
                previous: denied.into()
            })
        );
        assert_eq!(f.record(ALIAS, Ok(())), None);
        assert!(!f.is_failing(ALIAS));
        // Failing again is news again.
        assert!(matches!(
            f.record(ALIAS, Err(denied)),
            Some(QueryTransition::Failing { .. })
        ));
    }

    #[test]
    fn a_new_error_is_reported_and_queries_are_tracked_apart() {
        let mut f = QueryFailures::default();
        assert!(
            f.record(ALIAS, Err("table meta.cluster doesn't exist"))
                .is_some()
        );
        assert!(f.record(DOMAIN, Err("denied")).is_some(), "another key");
        assert_eq!(
            f.record(ALIAS, Err("denied")),
            Some(QueryTransition::FailingDifferently {
                key: ALIAS,
                previous: "table meta.cluster doesn't exist".into(),
                error: "denied".into()
            })
        );
        assert_eq!(f.record(ALIAS, Err("denied")), None);
        assert!(matches!(
            f.record(DOMAIN, Ok(())),
            Some(QueryTransition::Recovered { key: DOMAIN, .. })
        ));
        assert!(f.is_failing(ALIAS));
    }
}
