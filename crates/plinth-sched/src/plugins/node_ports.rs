//! NodePorts: host ports (protocol, IP, port) must be free on the node.

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::snapshot::NodeState;

/// The plugin.
pub struct NodePorts;

impl Filter for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }
    fn is_static(&self) -> bool {
        false
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        let clash = cycle
            .pod
            .host_ports
            .iter()
            .any(|want| node.ports.iter().any(|used| used.conflicts(want)));
        if clash {
            Err(Rejection::new(
                self.name(),
                Code::Unschedulable,
                "node(s) didn't have free ports for the requested pod ports",
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};

    #[test]
    fn host_ports_must_be_free() {
        let f = Fixture::new(vec![node("a"), node("b")])
            .with_pods(vec![(pod("web").host_port(8080, "TCP"), "a")]);
        assert!(
            f.filter(&NodePorts, &pod("p").host_port(8080, "TCP"), "a")
                .is_err()
        );
        assert!(
            f.filter(&NodePorts, &pod("p").host_port(8080, "UDP"), "a")
                .is_ok()
        );
        assert!(
            f.filter(&NodePorts, &pod("p").host_port(8080, "TCP"), "b")
                .is_ok()
        );
        assert!(f.filter(&NodePorts, &pod("p"), "a").is_ok());
    }
}
