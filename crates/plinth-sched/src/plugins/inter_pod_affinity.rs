//! InterPodAffinity: required pod anti-affinity — the pod's own terms against pods
//! already in the node's topology domain, *and* existing pods' terms against the pod
//! (symmetry) — and required pod affinity. The domain facts are computed once per cycle
//! ([`crate::cycle`]); here each node is only looked up.

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::snapshot::NodeState;

/// The plugin.
pub struct InterPodAffinity;

impl Filter for InterPodAffinity {
    fn name(&self) -> &'static str {
        "InterPodAffinity"
    }
    fn is_static(&self) -> bool {
        false
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        let labels = &node.node.labels;
        let state = &cycle.inter_pod;
        for (term, domains) in cycle.pod.pod_anti_affinity.iter().zip(&state.anti) {
            if labels
                .get(&term.topology_key)
                .is_some_and(|v| domains.get(v).is_some_and(|n| *n > 0))
            {
                return Err(Rejection::new(
                    self.name(),
                    Code::Unschedulable,
                    "node(s) didn't match pod anti-affinity rules",
                ));
            }
        }
        if state
            .existing_anti
            .iter()
            .any(|((k, v), n)| *n > 0 && labels.get(k) == Some(v))
        {
            return Err(Rejection::new(
                self.name(),
                Code::Unschedulable,
                "node(s) didn't satisfy existing pods anti-affinity rules",
            ));
        }
        for (i, term) in cycle.pod.pod_affinity.iter().enumerate() {
            let Some(value) = labels.get(&term.topology_key) else {
                return Err(Rejection::new(
                    self.name(),
                    Code::UnschedulableAndUnresolvable,
                    "node(s) didn't match pod affinity rules",
                ));
            };
            let here = state.affinity[i].get(value).is_some_and(|n| *n > 0);
            // Upstream: when no pod anywhere matches a term and the pod matches it itself,
            // the first pod of the group may go anywhere (with the topology key).
            let self_allowed = !state.affinity_any[i]
                && term.matches_pod(
                    cycle.pod,
                    cycle.snapshot.namespace_labels(&cycle.pod.namespace),
                );
            if !here && !self_allowed {
                return Err(Rejection::new(
                    self.name(),
                    Code::UnschedulableAndUnresolvable,
                    "node(s) didn't match pod affinity rules",
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

    fn zoned() -> Vec<crate::testkit::NodeB> {
        vec![
            node("a1").label("zone", "a"),
            node("a2").label("zone", "a"),
            node("b1").label("zone", "b"),
            node("nozone"),
        ]
    }

    fn anti(app: &str, key: &str) -> serde_json::Value {
        json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key})
    }

    #[test]
    fn own_anti_affinity_blocks_the_whole_domain() {
        let f = Fixture::new(zoned()).with_pods(vec![(pod("db-0").label("app", "db"), "a1")]);
        let p = pod("db-1")
            .label("app", "db")
            .anti_affinity(anti("db", "zone"));
        assert!(f.filter(&InterPodAffinity, &p, "a1").is_err());
        let err = f.filter(&InterPodAffinity, &p, "a2").unwrap_err();
        assert_eq!(
            err.reasons,
            ["node(s) didn't match pod anti-affinity rules"]
        );
        assert!(f.filter(&InterPodAffinity, &p, "b1").is_ok());
        assert!(
            f.filter(&InterPodAffinity, &p, "nozone").is_ok(),
            "no topology label, no domain"
        );
        let other_ns = pod("db-1")
            .namespace("other")
            .label("app", "db")
            .anti_affinity(anti("db", "zone"));
        assert!(
            f.filter(&InterPodAffinity, &other_ns, "a1").is_ok(),
            "terms default to the pod's namespace"
        );
    }

    #[test]
    fn existing_pods_anti_affinity_is_symmetric() {
        let noisy = pod("n").label("app", "noisy");
        let by_zone = Fixture::new(zoned()).with_pods(vec![(
            pod("loner")
                .label("app", "loner")
                .anti_affinity(anti("noisy", "zone")),
            "a1",
        )]);
        let err = by_zone.filter(&InterPodAffinity, &noisy, "a2").unwrap_err();
        assert_eq!(
            err.reasons,
            ["node(s) didn't satisfy existing pods anti-affinity rules"]
        );
        assert!(by_zone.filter(&InterPodAffinity, &noisy, "b1").is_ok());
        assert!(
            by_zone.filter(&InterPodAffinity, &noisy, "nozone").is_ok(),
            "no zone label, no domain"
        );
        assert!(
            by_zone
                .filter(&InterPodAffinity, &pod("quiet").label("app", "quiet"), "a1")
                .is_ok()
        );

        let by_host = Fixture::new(zoned()).with_pods(vec![(
            pod("loner")
                .label("app", "loner")
                .anti_affinity(anti("noisy", "kubernetes.io/hostname")),
            "a1",
        )]);
        assert!(by_host.filter(&InterPodAffinity, &noisy, "a1").is_err());
        assert!(by_host.filter(&InterPodAffinity, &noisy, "a2").is_ok());
    }

    #[test]
    fn match_expressions_key_and_value() {
        let f = Fixture::new(zoned()).with_pods(vec![(pod("c").label("tier", "cache"), "b1")]);
        let p = pod("p").anti_affinity(json!({"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["cache", "db"]}]}, "topologyKey": "zone"}));
        assert!(f.filter(&InterPodAffinity, &p, "b1").is_err());
        assert!(f.filter(&InterPodAffinity, &p, "a1").is_ok());
    }

    #[test]
    fn required_affinity_and_the_first_pod_exception() {
        let f = Fixture::new(zoned()).with_pods(vec![(pod("web-0").label("app", "web"), "b1")]);
        let p = pod("cache")
            .label("app", "cache")
            .affinity(anti("web", "zone"));
        assert!(f.filter(&InterPodAffinity, &p, "b1").is_ok());
        assert!(f.filter(&InterPodAffinity, &p, "a1").is_err());
        let first = pod("web-1")
            .label("app", "solo")
            .affinity(anti("solo", "zone"));
        assert!(
            f.filter(&InterPodAffinity, &first, "a1").is_ok(),
            "first of its group"
        );
        assert!(f.filter(&InterPodAffinity, &first, "nozone").is_err());
    }
}
