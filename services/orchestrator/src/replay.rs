//! `orchestrator analyze --instances FILE`: the replication analysis of an
//! `/api/all-instances` document, offline, for post-mortems and tests.

use std::fmt::Write as _;
use std::path::Path;

use orc_analysis::{AnalysisInput, analyze};
use orc_compat::{ClusterInfoJson, ReplicationAnalysisJson};
use orc_model::Topology;
use orc_runtime::Config;

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("reading {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The document is not what `/api/all-instances` returns.
    #[error("{path}: {source}")]
    Document {
        /// The file.
        path: String,
        /// What is wrong.
        source: orc_compat::ReplayError,
    },
}

/// Analyzes a document; returns orchestrator-client's lines, or the JSON.
pub fn analyze_text(
    text: &str,
    json: bool,
    config: &Config,
    origin: &str,
) -> Result<String, Error> {
    // orchestrator counts a probe as hanging once an attempted check is
    // newer than last seen + InstancePollSeconds + ReasonableInstanceCheckSeconds (1).
    let hanging_after = config.poll_interval() + std::time::Duration::from_secs(1);
    let (states, metadata, now) = orc_compat::states_from_instances_with(text, hanging_after)
        .map_err(|source| Error::Document {
            path: origin.to_string(),
            source,
        })?;
    let topology = Topology::from_states(states.values());
    let input = AnalysisInput {
        states: &states,
        topology: &topology,
        metadata: &metadata,
    };
    let mut policy = config.analysis_policy();
    // The document is a snapshot in time: nothing in it is stale.
    policy.stale_after = std::time::Duration::from_secs(u64::MAX / 4);
    let entries = analyze(&input, &policy, now);
    let rendered: Vec<ReplicationAnalysisJson> = entries
        .iter()
        .map(|a| {
            let name = a.cluster.to_string();
            let info = ClusterInfoJson {
                ClusterAlias: name.clone(),
                ClusterName: name,
                ..Default::default()
            };
            ReplicationAnalysisJson::from_analysis(a, info, "", now)
        })
        .collect();
    if json {
        return Ok(serde_json::to_string_pretty(&rendered).unwrap_or_default() + "\n");
    }
    let mut out = String::new();
    for r in &rendered {
        let _ = writeln!(out, "{}", r.client_line());
    }
    Ok(out)
}

/// Reads `path` (`-` for standard input) and analyzes it.
pub fn analyze_file(path: &Path, json: bool, config: &Config) -> Result<String, Error> {
    let origin = path.display().to_string();
    let text = if origin == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| Error::Read {
        path: origin.clone(),
        reason: e.to_string(),
    })?;
    analyze_text(&text, json, config, &origin)
}
