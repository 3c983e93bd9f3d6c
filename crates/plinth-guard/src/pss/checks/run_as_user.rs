//! `runAsUser` (restricted, v1.23): neither the pod nor a container may set
//! `runAsUser: 0`. From v1.35 pods in a user namespace (`hostUsers: false`) are exempt.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, in_user_namespace,
    pod_security_context,
};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "runAsUser",
    level: Level::Restricted,
    versions: &[
        VersionedCheck {
            min_minor: 23,
            run: v1_23,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 35,
            run: v1_35,
            overrides: &[],
        },
    ],
};

fn v1_23(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let pod_root = pod_security_context(spec).and_then(|sc| sc.run_as_user) == Some(0);
    let bad: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|sc| sc.run_as_user) == Some(0))
        .map(|c| c.name)
        .collect();
    if !pod_root && bad.is_empty() {
        return None;
    }
    let mut setters = Vec::new();
    if pod_root {
        setters.push("pod".to_owned());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    Violation::new(
        "runAsUser=0",
        format!("{} must not set runAsUser=0", setters.join(" and ")),
    )
}

fn v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if in_user_namespace(spec) {
        return None;
    }
    v1_23(meta, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        assert_eq!(
            outcome(v1_23, json!({"spec": {"securityContext": {"runAsUser": 0}, "containers": [{"name": "a"}]}})).as_deref(),
            Some("runAsUser=0 (pod must not set runAsUser=0)")
        );
        assert_eq!(
            outcome(
                v1_23,
                json!({"spec": {"securityContext": {"runAsUser": 0}, "containers": [
                    {"name": "a", "securityContext": {"runAsUser": 1000}},
                    {"name": "c", "securityContext": {"runAsUser": 0}},
                    {"name": "d", "securityContext": {"runAsUser": 0}},
                ]}})
            )
            .as_deref(),
            Some(r#"runAsUser=0 (pod and containers "c", "d" must not set runAsUser=0)"#)
        );
        let user_ns = json!({"spec": {"hostUsers": false, "securityContext": {"runAsUser": 0}, "containers": [{"name": "a"}]}});
        assert_eq!(outcome(v1_35, user_ns.clone()), None);
        assert!(outcome(v1_23, user_ns).is_some());
    }
}
