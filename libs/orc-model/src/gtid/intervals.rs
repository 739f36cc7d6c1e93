//! Sets of transaction numbers as sorted, disjoint, non-adjacent closed ranges.

use std::fmt;

/// A set of positive integers stored as sorted, merged closed ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IntervalSet {
    ranges: Vec<(u64, u64)>,
}

impl IntervalSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from arbitrary (possibly overlapping, unordered) ranges.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut v: Vec<(u64, u64)> = ranges
            .into_iter()
            .map(|(a, b)| if a <= b { (a, b) } else { (b, a) })
            .collect();
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (start, end) in v {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Self { ranges: merged }
    }

    /// The ranges, sorted and merged.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of members (saturating).
    pub fn count(&self) -> u64 {
        self.ranges
            .iter()
            .fold(0u64, |acc, (a, b)| acc.saturating_add(b - a + 1))
    }

    /// Whether `n` is a member.
    pub fn contains_value(&self, n: u64) -> bool {
        self.ranges.iter().any(|(a, b)| *a <= n && n <= *b)
    }

    /// The largest member.
    pub fn max(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.1)
    }

    /// Members of either set.
    pub fn union(&self, other: &Self) -> Self {
        Self::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a1, b1) = self.ranges[i];
            let (a2, b2) = other.ranges[j];
            let lo = a1.max(a2);
            let hi = b1.min(b2);
            if lo <= hi {
                out.push((lo, hi));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self { ranges: out }
    }

    /// Members of `self` that are not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        for &(start, end) in &self.ranges {
            let mut cur = start;
            let mut done = false;
            for &(a, b) in &other.ranges {
                if b < cur {
                    continue;
                }
                if a > end {
                    break;
                }
                if a > cur {
                    out.push((cur, a - 1));
                }
                if b >= end {
                    done = true;
                    break;
                }
                cur = b + 1;
            }
            if !done {
                out.push((cur, end));
            }
        }
        Self { ranges: out }
    }

    /// Whether every member of `other` is in `self`.
    pub fn contains(&self, other: &Self) -> bool {
        other.difference(self).is_empty()
    }
}

impl fmt::Display for IntervalSet {
    /// `1-5:7:9-10` — ranges joined by `:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn members(s: &IntervalSet) -> BTreeSet<u64> {
        s.ranges().iter().flat_map(|(a, b)| *a..=*b).collect()
    }

    fn small_set() -> impl Strategy<Value = IntervalSet> {
        proptest::collection::vec((1u64..60, 0u64..6), 0..6)
            .prop_map(|v| IntervalSet::from_ranges(v.into_iter().map(|(a, l)| (a, a + l))))
    }

    #[test]
    fn adjacent_ranges_merge() {
        let s = IntervalSet::from_ranges([(1, 5), (6, 9), (12, 12)]);
        assert_eq!(s.ranges(), &[(1, 9), (12, 12)]);
        assert_eq!(s.to_string(), "1-9:12");
        assert_eq!(s.count(), 10);
    }

    proptest! {
        #[test]
        fn operations_agree_with_plain_sets(a in small_set(), b in small_set()) {
            let (ma, mb) = (members(&a), members(&b));
            prop_assert_eq!(members(&a.union(&b)), &ma | &mb);
            prop_assert_eq!(members(&a.intersection(&b)), &ma & &mb);
            prop_assert_eq!(members(&a.difference(&b)), &ma - &mb);
            prop_assert_eq!(a.contains(&b), mb.is_subset(&ma));
            prop_assert_eq!(a.count(), ma.len() as u64);
        }

        #[test]
        fn results_stay_canonical(a in small_set(), b in small_set()) {
            for s in [a.union(&b), a.intersection(&b), a.difference(&b)] {
                let canonical = IntervalSet::from_ranges(s.ranges().iter().copied());
                prop_assert_eq!(&s, &canonical);
            }
        }
    }
}
