//! PostFilter: preemption, as kube-scheduler's DefaultPreemption does it.
//!
//! 1. Only pods whose preemption policy allows it, and only on nodes rejected as
//!    `Unschedulable` (not unresolvable: no eviction fixes a taint or a label).
//! 2. Per node: remove every lower-priority pod; if the pod still does not fit, the node
//!    is no candidate. Otherwise put pods back ("reprieve") in order of importance
//!    (priority, then earlier start), those whose eviction would violate a
//!    PodDisruptionBudget first, keeping each one the pod can live with.
//! 3. Among candidates pick, in order: fewest PDB violations, lowest highest-victim
//!    priority, smallest priority sum, fewest victims, latest start of the
//!    highest-priority victims, then the node name that sorts first.

use std::collections::BTreeSet;
use std::sync::Arc;

use rayon::prelude::*;

use crate::cycle::prefilter;
use crate::model::Pod;
use crate::priority::PreemptionPolicy;
use crate::scheduler::{FitError, Scheduler};
use crate::snapshot::{NodeId, NodeState, PodId, Snapshot};

/// The outcome of preemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preemption {
    /// The nominated node.
    pub node: NodeId,
    /// Pods to evict, most important first.
    pub victims: Vec<PodId>,
    /// How many of them are evicted in violation of a PodDisruptionBudget.
    pub pdb_violations: usize,
}

struct Candidate {
    node: NodeId,
    victims: Vec<PodId>,
    violations: usize,
    highest: i32,
    sum: i64,
    earliest_of_highest: i64,
}

/// Why preemption did not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoPreemption(pub String);

fn start(p: &Pod) -> i64 {
    // A pod that has not started counts as the newest.
    p.start_time.unwrap_or(i64::MAX)
}

/// Finds the node to nominate and the pods to evict so that `pod` fits.
pub fn preempt(
    scheduler: &Scheduler,
    snapshot: &Snapshot,
    pod: &Pod,
    fit: &FitError,
) -> Result<Preemption, NoPreemption> {
    if pod.preemption_policy == PreemptionPolicy::Never {
        return Err(NoPreemption(
            "preemption: not eligible (preemptionPolicy is Never)".to_owned(),
        ));
    }
    let candidates = fit.preemption_candidates();
    let not_helpful = || {
        NoPreemption(format!(
            "preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
            n = snapshot.node_count()
        ))
    };
    if candidates.is_empty() {
        return Err(not_helpful());
    }
    let profile = pod.profile.as_ref().ok().and_then(|p| p.as_deref());
    let config = scheduler.config();
    let base = prefilter(snapshot, pod, profile, config, BTreeSet::new());
    let recompute = !pod.pod_affinity.is_empty()
        || !pod.pod_anti_affinity.is_empty()
        || pod.spread.iter().any(|c| c.hard)
        || !snapshot.anti_affinity_pods().is_empty();
    let allowed: Vec<i32> = snapshot
        .pdbs()
        .iter()
        .map(|p| snapshot.disruptions_allowed(p))
        .collect();

    let fits = |node: NodeId, removed: &BTreeSet<PodId>| -> bool {
        let view = node_without(snapshot, node, removed);
        if recompute {
            let cycle = prefilter(snapshot, pod, profile, config, removed.clone());
            scheduler.check_dynamic(&cycle, &view).is_ok()
        } else {
            scheduler.check_dynamic(&base, &view).is_ok()
        }
    };

    let mut found: Vec<Candidate> = candidates
        .par_iter()
        .filter_map(|&node| {
            let mut potential: Vec<(PodId, Arc<Pod>)> = snapshot
                .node(node)
                .pods
                .iter()
                .filter_map(|&id| snapshot.pod(id).map(|p| (id, p.pod.clone())))
                .filter(|(_, p)| p.priority < pod.priority)
                .collect();
            if potential.is_empty() {
                return None;
            }
            let mut removed: BTreeSet<PodId> = potential.iter().map(|(id, _)| *id).collect();
            if !fits(node, &removed) {
                return None;
            }
            // Most important first.
            potential.sort_by(|a, b| {
                b.1.priority
                    .cmp(&a.1.priority)
                    .then(start(&a.1).cmp(&start(&b.1)))
            });
            let mut budget = allowed.clone();
            let mut violating = Vec::new();
            let mut others = Vec::new();
            for (id, p) in potential {
                let mut violated = false;
                if !p.labels.is_empty() {
                    for (i, pdb) in snapshot.pdbs().iter().enumerate() {
                        // As upstream: an empty selector protects nothing here.
                        if pdb.selector.is_empty() || !pdb.covers(&p) {
                            continue;
                        }
                        budget[i] -= 1;
                        if budget[i] < 0 {
                            violated = true;
                        }
                    }
                }
                if violated {
                    violating.push((id, p));
                } else {
                    others.push((id, p));
                }
            }
            let mut victims = Vec::new();
            let mut violations = 0;
            for (group_violates, group) in [(true, violating), (false, others)] {
                for (id, p) in group {
                    removed.remove(&id);
                    if !fits(node, &removed) {
                        removed.insert(id);
                        if group_violates {
                            violations += 1;
                        }
                        victims.push((id, p));
                    }
                }
            }
            let highest = victims.iter().map(|(_, p)| p.priority).max()?;
            let earliest_of_highest = victims
                .iter()
                .filter(|(_, p)| p.priority == highest)
                .map(|(_, p)| start(p))
                .min()
                .unwrap_or(i64::MAX);
            Some(Candidate {
                node,
                sum: victims
                    .iter()
                    .map(|(_, p)| i64::from(p.priority) + i64::from(i32::MAX) + 1)
                    .sum(),
                victims: victims.into_iter().map(|(id, _)| id).collect(),
                violations,
                highest,
                earliest_of_highest,
            })
        })
        .collect();
    if found.is_empty() {
        return Err(not_helpful());
    }
    found.sort_by(|a, b| {
        a.violations
            .cmp(&b.violations)
            .then(a.highest.cmp(&b.highest))
            .then(a.sum.cmp(&b.sum))
            .then(a.victims.len().cmp(&b.victims.len()))
            .then(b.earliest_of_highest.cmp(&a.earliest_of_highest))
            .then_with(|| {
                snapshot
                    .node(a.node)
                    .node
                    .name
                    .cmp(&snapshot.node(b.node).node.name)
            })
    });
    let best = found.swap_remove(0);
    Ok(Preemption {
        node: best.node,
        victims: best.victims,
        pdb_violations: best.violations,
    })
}

/// A node's state with some of its pods taken away.
pub fn node_without(snapshot: &Snapshot, node: NodeId, removed: &BTreeSet<PodId>) -> NodeState {
    let mut view = snapshot.node(node).clone();
    for &id in removed {
        if let Some(p) = snapshot.pod(id).filter(|p| p.node == node) {
            view.remove(id, &p.pod);
        }
    }
    view
}
