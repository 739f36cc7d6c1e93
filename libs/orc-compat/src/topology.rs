//! orchestrator's text topologies: the ASCII tree and its tabulated form.
//!
//! A line is `<indent><marker> <host:port> [lag,status,version,ro|rw,format,extras...]`:
//! depth d > 0 is indented `(d-1)*2` spaces and marked `+ ` when the replica
//! replicates and its last check is valid and recent, `- ` otherwise; all
//! `[` line up. Co-master clusters have no root: each co-master is printed
//! at depth 1 with its subtree.

use orc_model::{InstanceKey, Topology};

use crate::instance::InstanceView;

/// One printed line before alignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Indentation and marker, e.g. `  + `.
    pub prefix: String,
    /// `host:port` (and ` (alias)` when the instance has one).
    pub key: String,
    /// lag, status, version, ro/rw, binlog format.
    pub columns: Vec<String>,
    /// `>>`, `GTID`, `semi:master`, `downtimed`, ...
    pub extras: Vec<String>,
}

/// The instances of one cluster in print order: `(depth, key)`, depth-first,
/// children sorted by key. Co-masters are both placed at depth 1.
pub fn tree_order(topology: &Topology, cluster: &InstanceKey) -> Vec<(u32, InstanceKey)> {
    let members = topology.cluster_members(cluster);
    let Some(root) = topology.placement(cluster) else {
        return members.into_iter().map(|k| (0, k)).collect();
    };
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    if root.is_co_master {
        let partner = root.master.clone().filter(|m| members.contains(m));
        let mut co: Vec<InstanceKey> = std::iter::once(cluster.clone()).chain(partner).collect();
        co.sort();
        seen.extend(co.iter().cloned());
        for k in co {
            walk(topology, &k, 1, &mut seen, &mut out);
        }
    } else {
        seen.insert(cluster.clone());
        walk(topology, cluster, 0, &mut seen, &mut out);
    }
    // Members unreachable from the root (should not happen) go last, flat.
    for k in members {
        if seen.insert(k.clone()) {
            out.push((0, k));
        }
    }
    out
}

fn walk(
    topology: &Topology,
    key: &InstanceKey,
    depth: u32,
    seen: &mut std::collections::BTreeSet<InstanceKey>,
    out: &mut Vec<(u32, InstanceKey)>,
) {
    out.push((depth, key.clone()));
    let mut children = topology
        .placement(key)
        .map(|p| p.replicas.clone())
        .unwrap_or_default();
    children.sort();
    for c in children {
        if seen.insert(c.clone()) {
            walk(topology, &c, depth + 1, seen, out);
        }
    }
}

/// Builds the line of one instance at `depth`.
pub fn line(view: &InstanceView<'_>, depth: u32) -> Line {
    let mut prefix = String::new();
    if depth > 0 {
        prefix.push_str(&" ".repeat(((depth - 1) * 2) as usize));
        let healthy =
            view.is_replicating() && view.is_last_check_valid() && view.is_recently_checked();
        prefix.push_str(if healthy { "+ " } else { "- " });
    }
    let mut key = view.state.key.to_string();
    let data = view.data();
    if let Some(alias) = data
        .map(|d| d.instance_alias.as_str())
        .filter(|a| !a.is_empty())
    {
        key.push_str(&format!(" ({alias})"));
    }
    let Some(d) = data else {
        return Line {
            prefix,
            key,
            columns: vec!["unknown".into(), "invalid".into()],
            extras: Vec::new(),
        };
    };
    let repl = view.replication();
    let fresh = view.is_last_check_valid() && view.is_recently_checked();
    let lag = if repl.is_some_and(|r| r.is_detached()) {
        "detached".to_string()
    } else if !fresh {
        "unknown".to_string()
    } else if repl.is_some_and(|r| !r.is_replicating() || r.seconds_behind_master.is_none()) {
        "null".to_string()
    } else {
        format!("{}s", view.lag_seconds().unwrap_or(0))
    };
    let sql_delay = i64::from(repl.map_or(0, |r| r.sql_delay));
    let status = if !view.is_last_check_valid() {
        "invalid"
    } else if !view.is_recently_checked() {
        "unchecked"
    } else if repl.is_some() && !view.is_replicating() {
        "nonreplicating"
    } else if view.lag_seconds().unwrap_or(0) - sql_delay
        > view.policy.reasonable_maintenance_replication_lag_seconds
    {
        "lag"
    } else {
        "ok"
    };
    let mut extras = Vec::new();
    if d.is_logging_replica_updates() {
        extras.push(">>".to_string());
    }
    if d.using_oracle_gtid() || d.using_mariadb_gtid() {
        extras.push(
            if view.gtid_errant.is_empty() {
                "GTID"
            } else {
                "GTID:errant"
            }
            .to_string(),
        );
    }
    if d.semi_sync.master_status {
        extras.push("semi:master".to_string());
    }
    if d.semi_sync.replica_status {
        extras.push("semi:replica".to_string());
    }
    if view.is_downtimed() {
        extras.push("downtimed".to_string());
    }
    Line {
        prefix,
        key,
        columns: vec![
            lag,
            status.to_string(),
            d.version.clone(),
            if d.read_only { "ro" } else { "rw" }.to_string(),
            if d.log_bin {
                d.binlog_format.clone()
            } else {
                "nobinlog".to_string()
            },
        ],
        extras,
    }
}

/// The ASCII tree: `[` aligned, empty tokens dropped.
pub fn ascii(lines: &[Line]) -> String {
    let width = lines
        .iter()
        .map(|l| l.prefix.chars().count() + l.key.chars().count())
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            let head = format!("{}{}", l.prefix, l.key);
            let pad = width - head.chars().count();
            let tokens: Vec<&str> = l
                .columns
                .iter()
                .chain(l.extras.iter())
                .map(String::as_str)
                .filter(|t| !t.is_empty())
                .collect();
            format!("{head}{} [{}]", " ".repeat(pad), tokens.join(","))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tabulated form: `key|lag|status|version|ro|format|extras`, every
/// column padded; the lag column right-aligned, the others left-aligned.
pub fn tabulated(lines: &[Line]) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let mut row = vec![format!("{}{}", l.prefix, l.key)];
            row.extend(l.columns.iter().cloned());
            row.resize(6, String::new());
            row.push(l.extras.join(","));
            row
        })
        .collect();
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(c, cell)| {
                    let pad = " ".repeat(widths[c] - cell.chars().count());
                    if c == 1 {
                        format!("{pad}{cell}")
                    } else {
                        format!("{cell}{pad}")
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
