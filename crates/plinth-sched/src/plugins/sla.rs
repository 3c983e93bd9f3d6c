//! SlaRequirements (enterprise): `isolation_level: dedicated` only on nodes labelled
//! `node-type=dedicated`; an availability target of 99.99% or more never on spot
//! capacity (recognised by the configured spot labels).

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::profile::Isolation;
use crate::snapshot::NodeState;

/// The label and value that mark a node dedicated.
pub const DEDICATED_LABEL: (&str, &str) = ("node-type", "dedicated");
/// Availability (percent) from which spot capacity is excluded.
pub const NO_SPOT_AVAILABILITY: f64 = 99.99;

/// The plugin.
pub struct SlaRequirements;

impl Filter for SlaRequirements {
    fn name(&self) -> &'static str {
        "SlaRequirements"
    }
    fn is_static(&self) -> bool {
        true
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        let Some(profile) = cycle.profile else {
            return Ok(());
        };
        let labels = &node.node.labels;
        if profile.sla.isolation_level == Isolation::Dedicated
            && labels.get(DEDICATED_LABEL.0).map(String::as_str) != Some(DEDICATED_LABEL.1)
        {
            return Err(Rejection::new(
                self.name(),
                Code::UnschedulableAndUnresolvable,
                "node(s) were not dedicated (node-type=dedicated) for an isolation_level: dedicated workload",
            ));
        }
        if profile.sla.availability_pct >= NO_SPOT_AVAILABILITY - 1e-9
            && cycle.config.is_spot(labels)
        {
            return Err(Rejection::new(
                self.name(),
                Code::UnschedulableAndUnresolvable,
                format!(
                    "node(s) were spot capacity, excluded for {}% availability",
                    profile.sla.availability_pct
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};

    #[test]
    fn dedicated_isolation_and_spot_avoidance() {
        let f = Fixture::new(vec![
            node("dedicated").label("node-type", "dedicated"),
            node("shared"),
            node("spot").label("spot-instance", "true"),
            node("karpenter-spot").label("karpenter.sh/capacity-type", "spot"),
            node("eks-spot").label("eks.amazonaws.com/capacityType", "SPOT"),
            node("gke-spot").label("cloud.google.com/gke-spot", "true"),
            node("on-demand").label("karpenter.sh/capacity-type", "on-demand"),
        ]);
        let training = pod("t").label("workload.enterprise.io/type", "ml-training");
        assert!(f.filter(&SlaRequirements, &training, "dedicated").is_ok());
        assert!(f.filter(&SlaRequirements, &training, "shared").is_err());

        let inference = pod("i").label("workload.enterprise.io/type", "ml-inference"); // 99.99%
        for spot in ["spot", "karpenter-spot", "eks-spot", "gke-spot"] {
            let err = f.filter(&SlaRequirements, &inference, spot).unwrap_err();
            assert!(err.reasons[0].contains("spot"), "{spot}");
        }
        assert!(f.filter(&SlaRequirements, &inference, "on-demand").is_ok());
        let web = pod("w").label("workload.enterprise.io/type", "web-application"); // 99.9%
        assert!(
            f.filter(&SlaRequirements, &web, "spot").is_ok(),
            "99.9% may use spot"
        );
    }
}
