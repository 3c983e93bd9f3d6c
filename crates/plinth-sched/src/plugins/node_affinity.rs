//! NodeAffinity: `spec.nodeSelector` AND the required node-affinity terms (terms ORed,
//! expressions within a term ANDed, all operators including `Gt`/`Lt`).

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::model::{Node, Pod};
use crate::snapshot::NodeState;

/// The plugin.
pub struct NodeAffinity;

/// Whether a node satisfies the pod's node selector and required node affinity.
pub fn node_matches_pod_affinity(pod: &Pod, node: &Node) -> bool {
    pod.node_selector
        .as_ref()
        .is_none_or(|s| s.matches(&node.labels))
        && pod
            .required_node_affinity
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|t| t.matches(node)))
}

impl Filter for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }
    fn is_static(&self) -> bool {
        true
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        if node_matches_pod_affinity(cycle.pod, &node.node) {
            Ok(())
        } else {
            Err(Rejection::new(
                self.name(),
                Code::UnschedulableAndUnresolvable,
                "node(s) didn't match Pod's node affinity/selector",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};
    use serde_json::json;

    fn fixture() -> Fixture {
        Fixture::new(vec![
            node("gpu-a")
                .label("accelerator", "gpu")
                .label("zone", "a")
                .label("cores", "64"),
            node("gpu-b")
                .label("accelerator", "gpu")
                .label("zone", "b")
                .label("cores", "8"),
            node("cpu-a").label("zone", "a").label("cores", "32"),
        ])
    }

    fn term(exprs: serde_json::Value) -> serde_json::Value {
        json!({"matchExpressions": exprs})
    }

    #[test]
    fn node_selector_and_affinity_are_anded() {
        let f = fixture();
        let p = pod("p")
            .node_selector("accelerator", "gpu")
            .required_node_affinity(vec![term(
                json!([{"key": "zone", "operator": "In", "values": ["a"]}]),
            )]);
        assert!(f.filter(&NodeAffinity, &p, "gpu-a").is_ok());
        assert!(
            f.filter(&NodeAffinity, &p, "gpu-b").is_err(),
            "affinity fails"
        );
        assert!(
            f.filter(&NodeAffinity, &p, "cpu-a").is_err(),
            "selector fails"
        );
        let err = f.filter(&NodeAffinity, &p, "cpu-a").unwrap_err();
        assert_eq!(
            err.reasons,
            ["node(s) didn't match Pod's node affinity/selector"]
        );
    }

    #[test]
    fn terms_are_ored_and_expressions_anded() {
        let f = fixture();
        let p = pod("p").required_node_affinity(vec![
            term(json!([{"key": "zone", "operator": "In", "values": ["b"]}, {"key": "accelerator", "operator": "Exists"}])),
            term(json!([{"key": "cores", "operator": "Gt", "values": ["16"]}, {"key": "accelerator", "operator": "DoesNotExist"}])),
        ]);
        assert!(f.filter(&NodeAffinity, &p, "gpu-b").is_ok(), "first term");
        assert!(f.filter(&NodeAffinity, &p, "cpu-a").is_ok(), "second term");
        assert!(f.filter(&NodeAffinity, &p, "gpu-a").is_err(), "neither");
    }

    #[test]
    fn operators() {
        let f = fixture();
        let cases = [
            (
                json!([{"key": "zone", "operator": "NotIn", "values": ["a"]}]),
                vec!["gpu-b"],
            ),
            (
                json!([{"key": "accelerator", "operator": "DoesNotExist"}]),
                vec!["cpu-a"],
            ),
            (
                json!([{"key": "cores", "operator": "Lt", "values": ["33"]}]),
                vec!["gpu-b", "cpu-a"],
            ),
            (
                json!([{"key": "cores", "operator": "Gt", "values": ["32"]}]),
                vec!["gpu-a"],
            ),
        ];
        for (exprs, want) in cases {
            let p = pod("p").required_node_affinity(vec![term(exprs.clone())]);
            let got: Vec<&str> = ["gpu-a", "gpu-b", "cpu-a"]
                .into_iter()
                .filter(|n| f.filter(&NodeAffinity, &p, n).is_ok())
                .collect();
            assert_eq!(got, want, "{exprs}");
        }
    }

    #[test]
    fn match_fields_and_empty_terms() {
        let f = fixture();
        let by_name = pod("p").required_node_affinity(vec![json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gpu-b"]}]})]);
        assert!(f.filter(&NodeAffinity, &by_name, "gpu-b").is_ok());
        assert!(f.filter(&NodeAffinity, &by_name, "gpu-a").is_err());
        let empty = pod("p").required_node_affinity(vec![json!({})]);
        assert!(
            f.filter(&NodeAffinity, &empty, "gpu-a").is_err(),
            "an empty term matches nothing"
        );
    }
}
