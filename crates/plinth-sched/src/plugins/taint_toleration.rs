//! TaintToleration: a pod must tolerate every `NoSchedule` and `NoExecute` taint of the
//! node. (`PreferNoSchedule` taints are a preference, scored in [`crate::score`].)

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::model::{TaintEffect, tolerated};
use crate::snapshot::NodeState;

/// The plugin.
pub struct TaintToleration;

impl Filter for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }
    fn is_static(&self) -> bool {
        true
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        let untolerated = node.node.taints.iter().find(|t| {
            t.effect != TaintEffect::PreferNoSchedule && !tolerated(&cycle.pod.tolerations, t)
        });
        match untolerated {
            None => Ok(()),
            Some(t) => Err(Rejection::new(
                self.name(),
                Code::UnschedulableAndUnresolvable,
                format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};

    #[test]
    fn taint_effects() {
        let f = Fixture::new(vec![
            node("ml").taint("workload-type", "ml", "NoSchedule"),
            node("drain").taint("maintenance", "", "NoExecute"),
            node("soft").taint("legacy", "yes", "PreferNoSchedule"),
        ]);
        let err = f.filter(&TaintToleration, &pod("p"), "ml").unwrap_err();
        assert_eq!(
            err.reasons,
            ["node(s) had untolerated taint {workload-type: ml}"]
        );
        assert!(f.filter(&TaintToleration, &pod("p"), "drain").is_err());
        assert!(
            f.filter(&TaintToleration, &pod("p"), "soft").is_ok(),
            "PreferNoSchedule does not filter"
        );

        let ml = pod("p").toleration("workload-type", "Equal", "ml", "NoSchedule");
        assert!(f.filter(&TaintToleration, &ml, "ml").is_ok());
        let wrong_value = pod("p").toleration("workload-type", "Equal", "web", "NoSchedule");
        assert!(f.filter(&TaintToleration, &wrong_value, "ml").is_err());
        let wrong_effect = pod("p").toleration("maintenance", "Exists", "", "NoSchedule");
        assert!(f.filter(&TaintToleration, &wrong_effect, "drain").is_err());
        let everything = pod("p").toleration("", "Exists", "", "");
        assert!(f.filter(&TaintToleration, &everything, "drain").is_ok());
    }
}
