//! `runAsNonRoot` (restricted, v1.0): the pod, or every container, must set
//! `runAsNonRoot: true`, and none may set it to `false`. From v1.35 pods in a user
//! namespace (`hostUsers: false`) are exempt.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, in_user_namespace,
    pod_security_context,
};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "runAsNonRoot",
    level: Level::Restricted,
    versions: &[
        VersionedCheck {
            min_minor: 0,
            run: v1_0,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 35,
            run: v1_35,
            overrides: &[],
        },
    ],
};

const REASON: &str = "runAsNonRoot != true";

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let pod_value = pod_security_context(spec).and_then(|sc| sc.run_as_non_root);
    let pod_false = pod_value == Some(false);
    let pod_true = pod_value == Some(true);
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in containers(spec) {
        match c.security_context.and_then(|sc| sc.run_as_non_root) {
            Some(false) => explicit.push(c.name),
            Some(true) => {}
            None if !pod_true => implicit.push(c.name),
            None => {}
        }
    }
    if pod_false || !explicit.is_empty() {
        let mut setters = Vec::new();
        if pod_false {
            setters.push("pod".to_owned());
        }
        if !explicit.is_empty() {
            setters.push(containers_phrase(&explicit));
        }
        return Violation::new(
            REASON,
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
        );
    }
    if implicit.is_empty() {
        return None;
    }
    Violation::new(
        REASON,
        format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(&implicit)
        ),
    )
}

fn v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if in_user_namespace(spec) {
        return None;
    }
    v1_0(meta, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        assert_eq!(
            outcome(v1_0, json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "securityContext": {}}]}})).as_deref(),
            Some(r#"runAsNonRoot != true (pod or containers "a", "b" must set securityContext.runAsNonRoot=true)"#)
        );
        assert_eq!(
            outcome(v1_0, json!({"spec": {"securityContext": {"runAsNonRoot": false}, "containers": [{"name": "a", "securityContext": {"runAsNonRoot": true}}]}})).as_deref(),
            Some("runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)")
        );
        // Explicit failures win over implicit ones.
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"containers": [
                    {"name": "a"}, {"name": "c", "securityContext": {"runAsNonRoot": false}},
                    {"name": "d", "securityContext": {"runAsNonRoot": false}},
                ]}})
            )
            .as_deref(),
            Some(
                r#"runAsNonRoot != true (containers "c", "d" must not set securityContext.runAsNonRoot=false)"#
            )
        );
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"securityContext": {"runAsNonRoot": false}, "containers": [
                    {"name": "c", "securityContext": {"runAsNonRoot": false}},
                ]}})
            )
            .as_deref(),
            Some(
                r#"runAsNonRoot != true (pod and container "c" must not set securityContext.runAsNonRoot=false)"#
            )
        );
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]}})
            ),
            None
        );
        let user_ns = json!({"spec": {"hostUsers": false, "securityContext": {"runAsNonRoot": false}, "containers": [{"name": "a"}]}});
        assert_eq!(outcome(v1_35, user_ns.clone()), None);
        assert!(outcome(v1_0, user_ns).is_some());
        // Windows pods get no exemption here.
        assert!(
            outcome(
                v1_35,
                json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "a"}]}})
            )
            .is_some()
        );
    }
}
