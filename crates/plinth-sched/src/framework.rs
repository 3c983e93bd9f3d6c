//! The scheduling framework: extension points as traits, a closed set of status codes,
//! and the typed cycle state filters read (modelled on kube-scheduler's framework).
//!
//! A cycle: PreFilter (build [`Cycle`]: the pod's profile, inter-pod and spread state) →
//! Filter (every plugin on every node; node-static plugins once per equivalence class of
//! pods) → Score (every feasible node; see [`crate::score`]) → select → PostFilter
//! (preemption, when nothing fits).

use std::collections::{BTreeSet, HashMap};

use crate::config::SchedulerConfig;
use crate::model::Pod;
use crate::profile::WorkloadProfile;
use crate::snapshot::{NodeState, PodId, Snapshot};

/// How a filter rejected a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// Removing pods (preemption) could make the node fit.
    Unschedulable,
    /// Nothing about other pods would make the node fit (labels, taints, names).
    UnschedulableAndUnresolvable,
}

/// A filter's verdict against one node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// The plugin that rejected.
    pub plugin: &'static str,
    /// Whether preemption could help.
    pub code: Code,
    /// kube-scheduler-style reasons (`Insufficient cpu`, `node(s) had untolerated taint
    /// {workload-type: ml}`); one status may carry several.
    pub reasons: Vec<String>,
}

impl Rejection {
    /// A rejection with one reason.
    pub fn new(plugin: &'static str, code: Code, reason: impl Into<String>) -> Rejection {
        Rejection {
            plugin,
            code,
            reasons: vec![reason.into()],
        }
    }
}

/// A filter extension point.
pub trait Filter: Send + Sync {
    /// Plugin name (kube-scheduler's, where the plugin mirrors one).
    fn name(&self) -> &'static str;
    /// Whether the verdict depends only on the node object and the pod's node-static
    /// fields (see [`Pod::static_key`]); such verdicts are cached per equivalence class.
    fn is_static(&self) -> bool;
    /// Accepts the node, or says why not.
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection>;
    /// The same verdict without the reasons (the hot path; plugins whose rejections are
    /// common override it to avoid building messages).
    fn passes(&self, cycle: &Cycle<'_>, node: &NodeState) -> bool {
        self.filter(cycle, node).is_ok()
    }
}

/// Inter-pod (anti-)affinity facts computed once per cycle.
#[derive(Debug, Clone, Default)]
pub struct InterPodState {
    /// Per required anti-affinity term of the pod: topology values where matching pods are.
    pub anti: Vec<HashMap<String, u32>>,
    /// Topology (key, value) pairs where an existing pod's anti-affinity forbids this pod.
    pub existing_anti: HashMap<(String, String), u32>,
    /// Per required affinity term of the pod: topology values where matching pods are.
    pub affinity: Vec<HashMap<String, u32>>,
    /// Whether some pod anywhere matches each affinity term (upstream's escape hatch for
    /// the first pod of a group that matches its own term).
    pub affinity_any: Vec<bool>,
}

/// Topology-spread facts for one hard constraint.
#[derive(Debug, Clone, Default)]
pub struct SpreadState {
    /// Per node: its domain id (nodes without the topology key have none).
    pub node_domain: std::sync::Arc<Vec<Option<u32>>>,
    /// Matching pods per domain id, over eligible nodes.
    pub counts: Vec<i32>,
    /// The global minimum (0 when fewer domains than `minDomains`).
    pub min: i32,
    /// 1 when the pod matches its own selector.
    pub self_match: i32,
}

/// The typed cycle state: everything computed once per pod before filtering.
pub struct Cycle<'a> {
    /// The cluster.
    pub snapshot: &'a Snapshot,
    /// The pod.
    pub pod: &'a Pod,
    /// Its workload profile, if any.
    pub profile: Option<&'a WorkloadProfile>,
    /// Scheduler configuration.
    pub config: &'a SchedulerConfig,
    /// Inter-pod (anti-)affinity state.
    pub inter_pod: InterPodState,
    /// Per hard spread constraint (same order as the pod's hard constraints).
    pub spread: Vec<SpreadState>,
    /// Pods of the pod's workload type per zone id (`None` without a profile).
    pub zone_counts: Option<Vec<u32>>,
    /// Pods treated as absent (preemption's what-if).
    pub excluded: BTreeSet<PodId>,
}

/// Sorted, de-duplicated reason counts in kube-scheduler's form:
/// `0/12 nodes are available: 5 node(s) had untolerated taint {a: b}, 7 Insufficient cpu.`
pub fn fit_error_message(total_nodes: usize, reasons: &HashMap<String, usize>) -> String {
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    format!("0/{total_nodes} nodes are available: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_error_reads_like_kube_scheduler() {
        let reasons = HashMap::from([
            ("Insufficient cpu".to_owned(), 7),
            (
                "node(s) had untolerated taint {workload-type: ml}".to_owned(),
                5,
            ),
        ]);
        assert_eq!(
            fit_error_message(12, &reasons),
            "0/12 nodes are available: 5 node(s) had untolerated taint {workload-type: ml}, 7 Insufficient cpu."
        );
    }
}
