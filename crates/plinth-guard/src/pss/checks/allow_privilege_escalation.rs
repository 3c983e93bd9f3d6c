//! `allowPrivilegeEscalation` (restricted, v1.8): every container must set
//! `securityContext.allowPrivilegeEscalation=false`. From v1.25 Windows pods are exempt.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, containers, containers_phrase, is_windows};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "allowPrivilegeEscalation",
    level: Level::Restricted,
    versions: &[
        VersionedCheck {
            min_minor: 8,
            run: v1_8,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 25,
            run: v1_25,
            overrides: &[],
        },
    ],
};

fn v1_8(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let bad: Vec<&str> = containers(spec)
        .filter(|c| {
            c.security_context
                .and_then(|sc| sc.allow_privilege_escalation)
                .unwrap_or(true)
        })
        .map(|c| c.name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    Violation::new(
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&bad)
        ),
    )
}

fn v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if is_windows(spec) {
        return None;
    }
    v1_8(meta, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "i", "securityContext": {"allowPrivilegeEscalation": false}}],
            "containers": [{"name": "a"}, {"name": "b", "securityContext": {}},
                           {"name": "c", "securityContext": {"allowPrivilegeEscalation": true}}],
            "ephemeralContainers": [{"name": "e"}],
        }});
        assert_eq!(
            outcome(v1_8, pod.clone()).as_deref(),
            Some(
                r#"allowPrivilegeEscalation != false (containers "a", "b", "c", "e" must set securityContext.allowPrivilegeEscalation=false)"#
            )
        );
        assert_eq!(
            outcome(v1_8, json!({"spec": {"containers": [{"name": "a"}]}})).as_deref(),
            Some(
                r#"allowPrivilegeEscalation != false (container "a" must set securityContext.allowPrivilegeEscalation=false)"#
            )
        );
        let mut windows = pod.clone();
        windows["spec"]["os"] = json!({"name": "windows"});
        assert_eq!(outcome(v1_25, windows.clone()), None);
        assert!(outcome(v1_8, windows).is_some());
        let mut capital = pod;
        capital["spec"]["os"] = json!({"name": "Windows"});
        assert!(outcome(v1_25, capital).is_some());
    }
}
