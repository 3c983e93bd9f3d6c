//! PreFilter: builds the [`Cycle`] for one pod — the facts about *other* pods that the
//! inter-pod affinity and topology-spread filters need, computed once instead of per node.
//!
//! Pods are found through the snapshot's label index: for a selector with an `In`
//! requirement only the pods carrying one of its values are examined, so the work
//! follows the number of matching pods, not the size of the cluster.

use std::collections::{BTreeSet, HashMap};

use plinth_core::selector::{Operator, Selector};

use crate::config::SchedulerConfig;
use crate::framework::{Cycle, InterPodState, SpreadState};
use crate::model::{Pod, TaintEffect, tolerated};
use crate::plugins::node_matches_pod_affinity;
use crate::profile::WorkloadProfile;
use crate::snapshot::{PodId, Snapshot};

/// Pods that may match `selector`: those indexed under the values of its most selective
/// `In` requirement, or every pod when it has none.
pub fn candidates(snapshot: &Snapshot, selector: &Selector) -> Vec<PodId> {
    let mut best: Option<Vec<PodId>> = None;
    for req in selector.requirements() {
        if req.operator() != Operator::In {
            continue;
        }
        let mut ids: Vec<PodId> = req
            .values()
            .iter()
            .filter_map(|v| snapshot.pods_with_label(req.key(), v))
            .flat_map(|set| set.iter().copied())
            .collect();
        if best.as_ref().is_none_or(|b| ids.len() < b.len()) {
            ids.sort_unstable();
            ids.dedup();
            best = Some(ids);
        }
    }
    best.unwrap_or_else(|| snapshot.pods().map(|(id, _)| id).collect())
}

/// Builds the cycle state for `pod`, treating `excluded` pods as absent.
pub fn prefilter<'a>(
    snapshot: &'a Snapshot,
    pod: &'a Pod,
    profile: Option<&'a WorkloadProfile>,
    config: &'a SchedulerConfig,
    excluded: BTreeSet<PodId>,
) -> Cycle<'a> {
    let inter_pod = inter_pod_state(snapshot, pod, &excluded);
    let spread = spread_state(snapshot, pod, &excluded);
    Cycle {
        snapshot,
        pod,
        profile,
        config,
        inter_pod,
        spread,
        excluded,
    }
}

fn inter_pod_state(snapshot: &Snapshot, pod: &Pod, excluded: &BTreeSet<PodId>) -> InterPodState {
    let mut state = InterPodState::default();
    let domains = |term: &crate::model::AffinityTerm| {
        let mut found: HashMap<String, u32> = HashMap::new();
        let mut any = false;
        if let Some(sel) = &term.selector {
            for id in candidates(snapshot, sel) {
                if excluded.contains(&id) {
                    continue;
                }
                let Some(placed) = snapshot.pod(id) else {
                    continue;
                };
                if !term.matches_pod(
                    &placed.pod,
                    snapshot.namespace_labels(&placed.pod.namespace),
                ) {
                    continue;
                }
                any = true;
                if let Some(v) = snapshot
                    .node(placed.node)
                    .node
                    .labels
                    .get(&term.topology_key)
                {
                    *found.entry(v.clone()).or_insert(0) += 1;
                }
            }
        }
        (found, any)
    };
    for term in &pod.pod_anti_affinity {
        state.anti.push(domains(term).0);
    }
    for term in &pod.pod_affinity {
        let (found, any) = domains(term);
        state.affinity.push(found);
        state.affinity_any.push(any);
    }
    let pod_ns_labels = snapshot.namespace_labels(&pod.namespace);
    for &id in snapshot.anti_affinity_pods() {
        if excluded.contains(&id) {
            continue;
        }
        let Some(placed) = snapshot.pod(id) else {
            continue;
        };
        let node = &snapshot.node(placed.node).node;
        for term in &placed.pod.pod_anti_affinity {
            if term.matches_pod(pod, pod_ns_labels)
                && let Some(v) = node.labels.get(&term.topology_key)
            {
                *state
                    .existing_anti
                    .entry((term.topology_key.clone(), v.clone()))
                    .or_insert(0) += 1;
            }
        }
    }
    state
}

fn spread_state(snapshot: &Snapshot, pod: &Pod, excluded: &BTreeSet<PodId>) -> Vec<SpreadState> {
    let hard: Vec<_> = pod.spread.iter().filter(|c| c.hard).collect();
    if hard.is_empty() {
        return Vec::new();
    }
    hard.iter()
        .map(|c| {
            // Eligible nodes: carrying every hard constraint's key, and passing the
            // node-inclusion policies.
            let mut counts: HashMap<String, i32> = HashMap::new();
            let mut eligible = vec![false; snapshot.node_count()];
            for (id, ns) in snapshot.nodes().iter().enumerate() {
                let node = &ns.node;
                if !hard
                    .iter()
                    .all(|h| node.labels.contains_key(&h.topology_key))
                {
                    continue;
                }
                if c.honor_node_affinity && !node_matches_pod_affinity(pod, node) {
                    continue;
                }
                if c.honor_node_taints
                    && node.taints.iter().any(|t| {
                        t.effect != TaintEffect::PreferNoSchedule && !tolerated(&pod.tolerations, t)
                    })
                {
                    continue;
                }
                eligible[id] = true;
                if let Some(v) = node.labels.get(&c.topology_key) {
                    counts.entry(v.clone()).or_insert(0);
                }
            }
            if let Some(sel) = &c.selector {
                for id in candidates(snapshot, sel) {
                    if excluded.contains(&id) {
                        continue;
                    }
                    let Some(placed) = snapshot.pod(id) else {
                        continue;
                    };
                    let p = &placed.pod;
                    if p.terminating || p.namespace != pod.namespace || !sel.matches(&p.labels) {
                        continue;
                    }
                    if !eligible[placed.node] {
                        continue;
                    }
                    if let Some(v) = snapshot.node(placed.node).node.labels.get(&c.topology_key) {
                        *counts.entry(v.clone()).or_insert(0) += 1;
                    }
                }
            }
            let too_few = c
                .min_domains
                .is_some_and(|m| i32::try_from(counts.len()).unwrap_or(i32::MAX) < m);
            let min = if too_few {
                0
            } else {
                counts.values().copied().min().unwrap_or(0)
            };
            SpreadState {
                counts,
                min,
                self_match: i32::from(c.selector.as_ref().is_some_and(|s| s.matches(&pod.labels))),
            }
        })
        .collect()
}
