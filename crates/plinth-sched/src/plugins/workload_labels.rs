//! WorkloadLabels (enterprise): a node must carry every `required_labels` entry of the
//! pod's workload profile, key *and* value.

use crate::framework::{Code, Cycle, Filter, Rejection};
use crate::snapshot::NodeState;

/// The plugin.
pub struct WorkloadLabels;

impl Filter for WorkloadLabels {
    fn name(&self) -> &'static str {
        "WorkloadLabels"
    }
    fn is_static(&self) -> bool {
        true
    }
    fn filter(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        let Some(profile) = cycle.profile else {
            return Ok(());
        };
        let missing: Vec<String> = profile
            .affinity
            .required_labels
            .iter()
            .filter(|(k, v)| node.node.labels.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Rejection::new(
                self.name(),
                Code::UnschedulableAndUnresolvable,
                format!(
                    "node(s) didn't have the {} workload's required labels {{{}}}",
                    profile.name,
                    missing.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, node, pod};

    #[test]
    fn required_labels_need_key_and_value() {
        let f = Fixture::new(vec![
            node("web").label("workload-type", "web"),
            node("batch").label("workload-type", "batch"),
            node("bare"),
        ]);
        let web = pod("p").label("workload.enterprise.io/type", "web-application");
        assert!(f.filter(&WorkloadLabels, &web, "web").is_ok());
        let err = f.filter(&WorkloadLabels, &web, "batch").unwrap_err();
        assert_eq!(
            err.reasons,
            [
                "node(s) didn't have the web-application workload's required labels {workload-type: web}"
            ]
        );
        assert!(f.filter(&WorkloadLabels, &web, "bare").is_err());
        assert!(
            f.filter(&WorkloadLabels, &pod("plain"), "bare").is_ok(),
            "no profile, no rule"
        );
    }
}
