//! Property tests of the GTID set algebra, for both flavours.

use super::*;
use proptest::prelude::*;

const UUIDS: [&str; 3] = [
    "00000000-0000-0000-0000-000000000001",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
];
const TAGS: [&str; 3] = ["", "alpha", "z_9"];

fn mysql_set() -> impl Strategy<Value = MysqlGtidSet> {
    proptest::collection::vec((0usize..3, 0usize..3, 1u64..40, 0u64..5), 0..8).prop_map(|items| {
        let mut text = Vec::new();
        for (u, t, start, len) in items {
            let tag = if TAGS[t].is_empty() {
                String::new()
            } else {
                format!("{}:", TAGS[t])
            };
            text.push(format!("{}:{tag}{start}-{}", UUIDS[u], start + len));
        }
        MysqlGtidSet::parse(&text.join(",")).unwrap()
    })
}

fn mariadb_set() -> impl Strategy<Value = MariadbGtidSet> {
    // One transaction has one origin: the server id follows from (domain, seq),
    // as it does on real servers.
    proptest::collection::vec((0u32..4, 1u64..50), 0..6).prop_map(|items| {
        let mut set = MariadbGtidSet::new();
        for (domain, seq) in items {
            let server = ((u64::from(domain) + seq) % 3 + 1) as u32;
            set.insert(MariadbGtid {
                domain,
                server,
                seq,
            });
        }
        set
    })
}

/// The algebra both flavours must satisfy.
macro_rules! algebra_laws {
    ($name:ident, $strategy:expr, $ty:ty) => {
        mod $name {
            use super::*;
            proptest! {
                #[test]
                fn canonical_text_parses_back_to_the_same_set(a in $strategy) {
                    prop_assert_eq!(<$ty>::parse(&a.to_string()).unwrap(), a);
                }

                #[test]
                fn union_and_intersection_commute(a in $strategy, b in $strategy) {
                    prop_assert_eq!(a.union(&b), b.union(&a));
                    prop_assert_eq!(a.intersection(&b), b.intersection(&a));
                }

                #[test]
                fn union_and_intersection_associate(a in $strategy, b in $strategy, c in $strategy) {
                    prop_assert_eq!(a.union(&b).union(&c), a.union(&b.union(&c)));
                    prop_assert_eq!(
                        a.intersection(&b).intersection(&c),
                        a.intersection(&b.intersection(&c))
                    );
                }

                #[test]
                fn absorption_and_idempotence_hold(a in $strategy, b in $strategy) {
                    prop_assert_eq!(a.union(&a), a.clone());
                    prop_assert_eq!(a.intersection(&a), a.clone());
                    prop_assert_eq!(a.union(&a.intersection(&b)), a.clone());
                    prop_assert_eq!(a.intersection(&a.union(&b)), a.clone());
                }

                #[test]
                fn containment_agrees_with_union_intersection_and_difference(a in $strategy, b in $strategy) {
                    prop_assert!(a.union(&b).contains(&a));
                    prop_assert!(a.contains(&a.intersection(&b)));
                    prop_assert_eq!(a.contains(&b), b.difference(&a).is_empty());
                    prop_assert_eq!(a.contains(&b), a.union(&b) == a);
                    prop_assert!(a.contains(&a.difference(&b)));
                }

                #[test]
                fn parsing_arbitrary_text_never_panics(s in "\\PC{0,80}") {
                    let _ = <$ty>::parse(&s);
                }

                #[test]
                fn parsing_gtid_like_text_never_panics(s in "[0-9a-fA-F:,\\- \\n_]{0,120}") {
                    let _ = <$ty>::parse(&s);
                }
            }
        }
    };
}

algebra_laws!(mysql_laws, mysql_set(), MysqlGtidSet);
algebra_laws!(mariadb_laws, mariadb_set(), MariadbGtidSet);

proptest! {
    #[test]
    fn mysql_difference_removes_exactly_the_other_sets_transactions(a in mysql_set(), b in mysql_set()) {
        let d = a.difference(&b);
        prop_assert!(d.intersection(&b).is_empty());
        prop_assert_eq!(d.union(&a.intersection(&b)), a.clone());
        prop_assert_eq!(d.count() + a.intersection(&b).count(), a.count());
    }

    #[test]
    fn mariadb_gap_counts_match_containment(a in mariadb_set(), b in mariadb_set()) {
        prop_assert_eq!(a.count_over(&b) == 0, b.contains(&a));
    }

    #[test]
    fn flavour_enum_serde_round_trips(a in mysql_set(), b in mariadb_set()) {
        for set in [GtidSet::Mysql(a), GtidSet::Mariadb(b)] {
            let json = serde_json::to_string(&set).unwrap();
            prop_assert_eq!(serde_json::from_str::<GtidSet>(&json).unwrap(), set);
        }
    }
}

#[test]
fn mixing_flavours_is_refused() {
    let a = GtidSet::parse_any("0-1-5").unwrap();
    let b = GtidSet::parse_any("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5").unwrap();
    assert_eq!(a.flavor(), GtidFlavor::Mariadb);
    assert_eq!(b.flavor(), GtidFlavor::Mysql);
    assert!(a.union(&b).is_none());
    assert!(!a.contains(&b));
}
