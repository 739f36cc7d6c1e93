//! Cluster briefs: the analyzer's current view of one cluster — every
//! member's analysis (healthy ones included) and state — for the recovery
//! service to plan from.

use std::collections::BTreeMap;

use orc_analysis::{AnalysisInput, AnalysisPolicy, analyze_instance};
use orc_model::{InstanceKey, InstanceMetadata, Timestamp};
use orc_proto::v1 as wire;

use crate::view::View;

/// Answers a brief request from the view.
pub fn answer(
    req: &wire::ClusterBriefRequest,
    view: &View,
    metadata: &BTreeMap<InstanceKey, InstanceMetadata>,
    policy: &AnalysisPolicy,
    now: Timestamp,
) -> wire::ClusterBrief {
    let failed = |error: String| wire::ClusterBrief {
        error,
        ..Default::default()
    };
    let topology = view.topology();
    let cluster = if let Some(k) = &req.instance {
        let key = match InstanceKey::try_from(k) {
            Ok(k) => view.identity_of(&k),
            Err(e) => return failed(e.to_string()),
        };
        match topology.placement(&key) {
            Some(p) => p.cluster.clone(),
            None => return failed(format!("unknown instance {key}")),
        }
    } else {
        match InstanceKey::parse(&req.cluster) {
            Ok(c) if topology.clusters().contains_key(&c) => c,
            _ => return failed(format!("unknown cluster {:?}", req.cluster)),
        }
    };
    let members = topology.cluster_members(&cluster);
    let input = AnalysisInput {
        states: view.states(),
        topology: &topology,
        metadata,
    };
    let mut policy = policy.clone();
    policy.include_no_problem = true;
    let analyses: Vec<_> = members
        .iter()
        .filter_map(|k| analyze_instance(&input, k, &policy, now))
        .collect();
    wire::ClusterBrief {
        error: String::new(),
        cluster: cluster.to_string(),
        analyses: analyses.iter().map(Into::into).collect(),
        states: members
            .iter()
            .filter_map(|k| view.get(k))
            .map(Into::into)
            .collect(),
    }
}
