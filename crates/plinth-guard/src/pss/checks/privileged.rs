//! `privileged` (baseline, v1.0): no privileged containers.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, containers, containers_phrase};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "privileged",
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[],
    }],
};

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|sc| sc.privileged) == Some(true))
        .map(|c| c.name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    Violation::new(
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&bad)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "i", "securityContext": {"privileged": true}}],
            "containers": [{"name": "a", "securityContext": {"privileged": false}}, {"name": "b", "securityContext": {"privileged": true}}],
        }});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(
                r#"privileged (containers "i", "b" must not set securityContext.privileged=true)"#
            )
        );
    }
}
