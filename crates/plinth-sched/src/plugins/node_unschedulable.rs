//! NodeUnschedulable: cordoned nodes take only pods that tolerate
//! `node.kubernetes.io/unschedulable:NoSchedule`.

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::model::{Taint, TaintEffect, tolerated};
use crate::snapshot::NodeState;

/// The taint a cordoned node implies.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// The plugin.
pub struct NodeUnschedulable;

impl Filter for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }
    fn is_static(&self) -> bool {
        true
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        if !node.node.unschedulable {
            return Ok(());
        }
        let taint = Taint {
            key: UNSCHEDULABLE_TAINT.to_owned(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
        };
        if tolerated(&cycle.pod.tolerations, &taint) {
            return Ok(());
        }
        Err(Rejection::new(
            self.name(),
            Code::UnschedulableAndUnresolvable,
            "node(s) were unschedulable",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};

    #[test]
    fn cordoned_nodes_need_a_toleration() {
        let f = Fixture::new(vec![node("n").unschedulable()]);
        assert!(f.filter(&NodeUnschedulable, &pod("p"), "n").is_err());
        let tolerant = pod("p").toleration(UNSCHEDULABLE_TAINT, "Exists", "", "NoSchedule");
        assert!(f.filter(&NodeUnschedulable, &tolerant, "n").is_ok());
        let f = Fixture::new(vec![node("n")]);
        assert!(f.filter(&NodeUnschedulable, &pod("p"), "n").is_ok());
    }
}
