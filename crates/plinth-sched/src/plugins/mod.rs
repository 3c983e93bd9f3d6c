//! Filter plugins, one small file each. Node-static ones first (cached per equivalence
//! class of pods), then the ones that depend on other pods — kube-scheduler's order.

mod inter_pod_affinity;
mod node_affinity;
mod node_name;
mod node_ports;
mod node_unschedulable;
mod resources_fit;
mod sla;
mod taint_toleration;
mod topology_spread;
mod workload_labels;

pub use inter_pod_affinity::InterPodAffinity;
pub use node_affinity::{NodeAffinity, node_matches_pod_affinity};
pub use node_name::NodeName;
pub use node_ports::NodePorts;
pub use node_unschedulable::NodeUnschedulable;
pub use resources_fit::NodeResourcesFit;
pub use sla::{DEDICATED_LABEL, SlaRequirements};
pub use taint_toleration::TaintToleration;
pub use topology_spread::PodTopologySpread;
pub use workload_labels::WorkloadLabels;

use crate::framework::Filter;

/// The default filter chain.
pub fn default_filters() -> Vec<Box<dyn Filter>> {
    vec![
        Box::new(NodeUnschedulable),
        Box::new(NodeName),
        Box::new(TaintToleration),
        Box::new(NodeAffinity),
        Box::new(WorkloadLabels),
        Box::new(SlaRequirements),
        Box::new(NodePorts),
        Box::new(NodeResourcesFit),
        Box::new(PodTopologySpread),
        Box::new(InterPodAffinity),
    ]
}
