//! PreFilter: builds the [`Cycle`] for one pod — the facts about *other* pods that the
//! inter-pod affinity and topology-spread filters need, computed once instead of per node.
//!
//! Pods are found through the snapshot's label index: for a selector with an `In`
//! requirement only the pods carrying one of its values are examined, so the work
//! follows the number of matching pods, not the size of the cluster.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

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
    let mut cycle = bare(snapshot, pod, profile, config, excluded);
    fill(&mut cycle, &SpreadStatic::compute(snapshot, pod));
    cycle
}

/// A cycle without the facts about other pods: enough for node-static filters.
pub fn bare<'a>(
    snapshot: &'a Snapshot,
    pod: &'a Pod,
    profile: Option<&'a WorkloadProfile>,
    config: &'a SchedulerConfig,
    excluded: BTreeSet<PodId>,
) -> Cycle<'a> {
    Cycle {
        snapshot,
        pod,
        profile,
        config,
        inter_pod: InterPodState::default(),
        spread: Vec::new(),
        zone_counts: None,
        excluded,
    }
}

/// Computes the facts about other pods into a bare cycle.
pub fn fill(cycle: &mut Cycle<'_>, spread: &SpreadStatic) {
    cycle.inter_pod = inter_pod_state(cycle.snapshot, cycle.pod, &cycle.excluded);
    cycle.spread = spread_state(cycle.snapshot, cycle.pod, &cycle.excluded, spread);
    cycle.zone_counts = cycle.profile.map(|p| {
        cycle
            .snapshot
            .zone_workload(&p.name)
            .map(<[u32]>::to_vec)
            .unwrap_or_default()
    });
}

/// The node-static part of topology spreading, per hard constraint: each node's domain
/// (interned), which nodes count (they carry every hard constraint's key and pass the
/// node-inclusion policies) and which domains have a counting node. Computed once per
/// equivalence class of pods.
#[derive(Debug, Clone, Default)]
pub struct SpreadStatic {
    /// Per hard constraint, per node: its domain id.
    pub node_domain: Vec<Arc<Vec<Option<u32>>>>,
    /// Per hard constraint, per node: whether it counts.
    pub eligible: Vec<Vec<bool>>,
    /// Per hard constraint, per domain: whether some counting node is in it.
    pub eligible_domain: Vec<Vec<bool>>,
}

impl SpreadStatic {
    /// Computes it for `pod`'s hard constraints.
    pub fn compute(snapshot: &Snapshot, pod: &Pod) -> SpreadStatic {
        let hard: Vec<_> = pod.spread.iter().filter(|c| c.hard).collect();
        let mut out = SpreadStatic::default();
        for c in &hard {
            let mut ids: HashMap<&str, u32> = HashMap::new();
            let mut node_domain = Vec::with_capacity(snapshot.node_count());
            let mut eligible = vec![false; snapshot.node_count()];
            let mut eligible_domain: Vec<bool> = Vec::new();
            for (id, ns) in snapshot.nodes().iter().enumerate() {
                let node = &ns.node;
                let domain = node.labels.get(&c.topology_key).map(|v| {
                    let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                    *ids.entry(v.as_str()).or_insert(next)
                });
                node_domain.push(domain);
                let Some(d) = domain else { continue };
                if eligible_domain.len() <= d as usize {
                    eligible_domain.resize(d as usize + 1, false);
                }
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
                eligible_domain[d as usize] = true;
            }
            out.node_domain.push(Arc::new(node_domain));
            out.eligible.push(eligible);
            out.eligible_domain.push(eligible_domain);
        }
        out
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
    for id in snapshot.anti_affinity_candidates(&pod.labels) {
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

fn spread_state(
    snapshot: &Snapshot,
    pod: &Pod,
    excluded: &BTreeSet<PodId>,
    st: &SpreadStatic,
) -> Vec<SpreadState> {
    pod.spread
        .iter()
        .filter(|c| c.hard)
        .enumerate()
        .map(|(i, c)| {
            let node_domain = st.node_domain[i].clone();
            let eligible = &st.eligible[i];
            let eligible_domain = &st.eligible_domain[i];
            let mut counts = vec![0i32; eligible_domain.len()];
            if let Some(sel) = &c.selector {
                for id in candidates(snapshot, sel) {
                    if excluded.contains(&id) {
                        continue;
                    }
                    let Some(placed) = snapshot.pod(id) else {
                        continue;
                    };
                    let p = &placed.pod;
                    if p.terminating
                        || p.namespace != pod.namespace
                        || !eligible.get(placed.node).copied().unwrap_or(false)
                        || !sel.matches(&p.labels)
                    {
                        continue;
                    }
                    if let Some(d) = node_domain.get(placed.node).copied().flatten() {
                        counts[d as usize] += 1;
                    }
                }
            }
            let domains = eligible_domain.iter().filter(|e| **e).count();
            let too_few = c
                .min_domains
                .is_some_and(|m| i32::try_from(domains).unwrap_or(i32::MAX) < m);
            let min = if too_few {
                0
            } else {
                counts
                    .iter()
                    .zip(eligible_domain)
                    .filter(|(_, e)| **e)
                    .map(|(c, _)| *c)
                    .min()
                    .unwrap_or(0)
            };
            SpreadState {
                node_domain,
                counts,
                min,
                self_match: i32::from(c.selector.as_ref().is_some_and(|s| s.matches(&pod.labels))),
            }
        })
        .collect()
}
