//! NodeName: a pod that names its node fits only there.

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::snapshot::NodeState;

/// The plugin.
pub struct NodeName;

impl Filter for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }
    fn is_static(&self) -> bool {
        true
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        match &cycle.pod.node_name {
            Some(name) if *name != node.node.name => Err(Rejection::new(
                self.name(),
                Code::UnschedulableAndUnresolvable,
                "node(s) didn't match the requested node name",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};

    #[test]
    fn pinned_pods_fit_only_their_node() {
        let f = Fixture::new(vec![node("a"), node("b")]);
        let pinned = pod("p").node_name("a");
        assert!(f.filter(&NodeName, &pinned, "a").is_ok());
        assert!(f.filter(&NodeName, &pinned, "b").is_err());
        assert!(f.filter(&NodeName, &pod("q"), "b").is_ok());
    }
}
