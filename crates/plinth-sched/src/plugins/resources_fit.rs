//! NodeResourcesFit: the pod's effective request must fit in what the node has left —
//! allocatable minus the requests of the pods already there — for CPU, memory,
//! ephemeral storage, pod count and every extended resource it asks for.

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::resources::{CPU, EPHEMERAL_STORAGE, MEMORY};
use crate::snapshot::NodeState;

/// The plugin.
pub struct NodeResourcesFit;

/// The reasons a pod does not fit a node's free resources (empty when it fits).
pub fn insufficient(cycle: &Cycle<'_>, node: &NodeState) -> Vec<String> {
    let req = &cycle.pod.requests.requests;
    let alloc = &node.node.allocatable;
    let used = &node.requested;
    let mut reasons = Vec::new();
    if i64::try_from(node.pods.len()).unwrap_or(i64::MAX) + 1 > alloc.pods {
        reasons.push("Too many pods".to_owned());
    }
    for (name, want, have) in [
        (CPU, req.cpu, alloc.cpu - used.cpu),
        (MEMORY, req.memory, alloc.memory - used.memory),
        (
            EPHEMERAL_STORAGE,
            req.ephemeral_storage,
            alloc.ephemeral_storage - used.ephemeral_storage,
        ),
    ] {
        if want > 0 && want > have {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    for (name, want) in &req.scalar {
        if *want > 0 && *want > alloc.get(name) - used.get(name) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

impl Filter for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }
    fn is_static(&self) -> bool {
        false
    }
    fn passes(&self, cycle: &Cycle<'_>, node: &NodeState) -> bool {
        let req = &cycle.pod.requests.requests;
        let alloc = &node.node.allocatable;
        let used = &node.requested;
        i64::try_from(node.pods.len()).unwrap_or(i64::MAX) < alloc.pods
            && (req.cpu <= 0 || req.cpu <= alloc.cpu - used.cpu)
            && (req.memory <= 0 || req.memory <= alloc.memory - used.memory)
            && (req.ephemeral_storage <= 0
                || req.ephemeral_storage <= alloc.ephemeral_storage - used.ephemeral_storage)
            && req
                .scalar
                .iter()
                .all(|(name, want)| *want <= 0 || *want <= alloc.get(name) - used.get(name))
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        let reasons = insufficient(cycle, node);
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Rejection {
                plugin: self.name(),
                code: Code::Unschedulable,
                reasons,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};

    #[test]
    fn counts_what_is_already_requested() {
        let f = Fixture::new(vec![node("n").alloc("4", "8Gi")])
            .with_pods(vec![(pod("old").request("3", "6Gi"), "n")]);
        assert!(
            f.filter(&NodeResourcesFit, &pod("p").request("1", "2Gi"), "n")
                .is_ok()
        );
        let err = f
            .filter(&NodeResourcesFit, &pod("p").request("1500m", "3Gi"), "n")
            .unwrap_err();
        assert_eq!(err.reasons, ["Insufficient cpu", "Insufficient memory"]);
        assert_eq!(err.code, Code::Unschedulable);
    }

    #[test]
    fn init_containers_and_overhead_count() {
        let f = Fixture::new(vec![node("n").alloc("2", "8Gi")]);
        let big_init = pod("p").request("500m", "1Gi").init_container("3", "1Gi");
        assert_eq!(
            f.filter(&NodeResourcesFit, &big_init, "n")
                .unwrap_err()
                .reasons,
            ["Insufficient cpu"]
        );
        let overhead = pod("p").request("1900m", "1Gi").overhead("200m", "0");
        assert!(f.filter(&NodeResourcesFit, &overhead, "n").is_err());
    }

    #[test]
    fn extended_resources_and_pod_count() {
        let f = Fixture::new(vec![
            node("gpu")
                .alloc("8", "32Gi")
                .alloc_res("nvidia.com/gpu", "2"),
            node("full").alloc("8", "32Gi").alloc_res("pods", "1"),
        ])
        .with_pods(vec![
            (pod("g").request_res("nvidia.com/gpu", "1"), "gpu"),
            (pod("x"), "full"),
        ]);
        assert!(
            f.filter(
                &NodeResourcesFit,
                &pod("p").request_res("nvidia.com/gpu", "1"),
                "gpu"
            )
            .is_ok()
        );
        assert_eq!(
            f.filter(
                &NodeResourcesFit,
                &pod("p").request_res("nvidia.com/gpu", "2"),
                "gpu"
            )
            .unwrap_err()
            .reasons,
            ["Insufficient nvidia.com/gpu"]
        );
        assert_eq!(
            f.filter(&NodeResourcesFit, &pod("p"), "full")
                .unwrap_err()
                .reasons,
            ["Too many pods"]
        );
        assert!(
            f.filter(
                &NodeResourcesFit,
                &pod("p").request_res("example.com/fpga", "1"),
                "gpu"
            )
            .is_err()
        );
    }
}
