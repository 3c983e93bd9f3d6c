//! PodTopologySpread (hard constraints, `whenUnsatisfiable: DoNotSchedule`): placing the
//! pod must not make the skew between its domain and the least-loaded eligible domain
//! exceed `maxSkew`. Counting honours `nodeAffinityPolicy` / `nodeTaintsPolicy` and
//! `minDomains`; see [`crate::cycle`].

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::snapshot::NodeState;

/// The plugin.
pub struct PodTopologySpread;

impl Filter for PodTopologySpread {
    fn name(&self) -> &'static str {
        "PodTopologySpread"
    }
    fn is_static(&self) -> bool {
        false
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        let hard = cycle.pod.spread.iter().filter(|c| c.hard);
        for (c, state) in hard.zip(&cycle.spread) {
            let Some(domain) = state.node_domain.get(node.id).copied().flatten() else {
                let _ = c;
                return Err(Rejection::new(
                    self.name(),
                    Code::UnschedulableAndUnresolvable,
                    "node(s) didn't match pod topology spread constraints (missing required label)",
                ));
            };
            let matching = state.counts.get(domain as usize).copied().unwrap_or(0);
            if matching + state.self_match - state.min > c.max_skew {
                return Err(Rejection::new(
                    self.name(),
                    Code::Unschedulable,
                    "node(s) didn't match pod topology spread constraints",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};
    use serde_json::json;

    fn spread(skew: i32, extra: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"maxSkew": skew, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                           "labelSelector": {"matchLabels": {"app": "web"}}});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        c
    }

    fn fixture() -> Fixture {
        Fixture::new(vec![
            node("a1").label("zone", "a"),
            node("b1").label("zone", "b"),
            node("c1").label("zone", "c").label("pool", "gpu"),
            node("nozone"),
        ])
        .with_pods(vec![
            (pod("w0").label("app", "web"), "a1"),
            (pod("w1").label("app", "web"), "a1"),
            (pod("w2").label("app", "web"), "b1"),
        ])
    }

    #[test]
    fn skew_against_the_least_loaded_domain() {
        let f = fixture();
        // counts a=2 b=1 c=0; placing in a gives 3-0 = 3 > 1.
        let p = pod("w3").label("app", "web").spread(spread(1, json!({})));
        assert!(f.filter(&PodTopologySpread, &p, "a1").is_err());
        assert!(f.filter(&PodTopologySpread, &p, "b1").is_err(), "2-0 > 1");
        assert!(f.filter(&PodTopologySpread, &p, "c1").is_ok());
        let err = f.filter(&PodTopologySpread, &p, "nozone").unwrap_err();
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
        let loose = pod("w3").label("app", "web").spread(spread(2, json!({})));
        assert!(f.filter(&PodTopologySpread, &loose, "b1").is_ok());
    }

    #[test]
    fn node_affinity_policy_limits_the_domains() {
        let f = fixture();
        // Honor (default): only nodes matching the pod's selector count, so zone c (gpu)
        // is not a domain for a pod that selects pool=web... which no node has: use zone.
        let p = pod("w3")
            .label("app", "web")
            .required_node_affinity(vec![json!({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]})])
            .spread(spread(1, json!({})));
        // Eligible domains a=2, b=1: min 1; b gives 2-1 = 1 ok, a gives 3-1 = 2 > 1.
        assert!(f.filter(&PodTopologySpread, &p, "b1").is_ok());
        assert!(f.filter(&PodTopologySpread, &p, "a1").is_err());
        let ignore = pod("w3")
            .label("app", "web")
            .required_node_affinity(vec![json!({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]})])
            .spread(spread(1, json!({"nodeAffinityPolicy": "Ignore"})));
        assert!(
            f.filter(&PodTopologySpread, &ignore, "b1").is_err(),
            "zone c counts: 2-0 > 1"
        );
    }

    #[test]
    fn min_domains_forces_a_zero_minimum() {
        let f = Fixture::new(vec![
            node("a1").label("zone", "a"),
            node("b1").label("zone", "b"),
        ])
        .with_pods(vec![
            (pod("w0").label("app", "web"), "a1"),
            (pod("w1").label("app", "web"), "b1"),
        ]);
        let p = pod("w2").label("app", "web").spread(spread(1, json!({})));
        assert!(f.filter(&PodTopologySpread, &p, "a1").is_ok(), "2-1 = 1");
        let p = pod("w2")
            .label("app", "web")
            .spread(spread(1, json!({"minDomains": 3})));
        assert!(
            f.filter(&PodTopologySpread, &p, "a1").is_err(),
            "2 domains < 3: min is 0"
        );
    }

    #[test]
    fn pods_of_other_namespaces_do_not_count() {
        let f = Fixture::new(vec![
            node("a1").label("zone", "a"),
            node("b1").label("zone", "b"),
        ])
        .with_pods(vec![
            (pod("w0").namespace("other").label("app", "web"), "a1"),
            (pod("w1").namespace("other").label("app", "web"), "a1"),
        ]);
        let p = pod("w2").label("app", "web").spread(spread(1, json!({})));
        assert!(f.filter(&PodTopologySpread, &p, "a1").is_ok());
    }
}
