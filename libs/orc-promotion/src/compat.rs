//! Versions and binlog formats: what can replicate from what.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Rank of a binlog format: `STATEMENT < MIXED < ROW`; `None` when unknown.
pub fn binlog_format_rank(format: &str) -> Option<u8> {
    match format.trim().to_ascii_uppercase().as_str() {
        "STATEMENT" => Some(0),
        "MIXED" => Some(1),
        "ROW" => Some(2),
        _ => None,
    }
}

/// Compares major versions numerically (`10.6 < 10.11`), falling back to
/// text when a component is not a number.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let numbers = |v: &str| -> Option<Vec<u64>> {
        v.split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<u64>>>()
    };
    match (numbers(a), numbers(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The most common value; ties go to the lowest by `cmp`. Empty values are ignored.
pub(crate) fn most_common<'a>(
    values: impl IntoIterator<Item = String>,
    cmp: impl Fn(&str, &str) -> Ordering + 'a,
) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in values.into_iter().filter(|v| !v.is_empty()) {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|(va, ca), (vb, cb)| ca.cmp(cb).then_with(|| cmp(vb, va)))
        .map(|(v, _)| v)
}

/// The most common major version (ties → the lowest).
pub(crate) fn priority_major_version(versions: impl IntoIterator<Item = String>) -> Option<String> {
    most_common(versions, compare_versions)
}

/// The most common known binlog format, upper-cased (ties → the lowest).
pub(crate) fn priority_binlog_format(formats: impl IntoIterator<Item = String>) -> Option<String> {
    let known = formats
        .into_iter()
        .map(|f| f.trim().to_ascii_uppercase())
        .filter(|f| binlog_format_rank(f).is_some());
    most_common(known, |a, b| {
        binlog_format_rank(a).cmp(&binlog_format_rank(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("10.6", "10.11"), Ordering::Less);
        assert_eq!(compare_versions("5.7", "5.6"), Ordering::Greater);
        assert_eq!(compare_versions("8.0", "8.0"), Ordering::Equal);
    }

    #[test]
    fn most_common_version_ties_go_to_the_lowest() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            priority_major_version(v(&["5.6", "5.7", "5.6"])).as_deref(),
            Some("5.6")
        );
        assert_eq!(
            priority_major_version(v(&["5.7", "5.6"])).as_deref(),
            Some("5.6")
        );
        assert_eq!(
            priority_major_version(v(&["10.11", "10.6", "10.11"])).as_deref(),
            Some("10.11")
        );
        assert_eq!(priority_major_version(v(&[])), None);
    }

    #[test]
    fn binlog_formats_order_statement_mixed_row() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(binlog_format_rank("statement") < binlog_format_rank("MIXED"));
        assert!(binlog_format_rank("MIXED") < binlog_format_rank("row"));
        assert_eq!(binlog_format_rank(""), None);
        assert_eq!(
            priority_binlog_format(v(&["row", "STATEMENT", "", "x"])).as_deref(),
            Some("STATEMENT")
        );
        assert_eq!(
            priority_binlog_format(v(&["ROW", "ROW", "MIXED"])).as_deref(),
            Some("ROW")
        );
    }
}
