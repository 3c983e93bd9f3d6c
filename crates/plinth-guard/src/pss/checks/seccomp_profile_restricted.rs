//! `seccompProfile_restricted` (restricted, v1.19; replaces `seccompProfile_baseline`):
//! the pod, or every container, must set seccomp to `RuntimeDefault` or `Localhost`.
//! From v1.25 Windows pods are exempt.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::seccomp_profile_baseline::{ID as BASELINE_ID, valid_type};
use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, is_windows, join_quote,
    pod_security_context,
};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "seccompProfile_restricted",
    level: Level::Restricted,
    versions: &[
        VersionedCheck {
            min_minor: 19,
            run: v1_19,
            overrides: &[BASELINE_ID],
        },
        VersionedCheck {
            min_minor: 25,
            run: v1_25,
            overrides: &[BASELINE_ID],
        },
    ],
};

fn v1_19(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut bad_values: BTreeSet<&str> = BTreeSet::new();
    let mut pod_set = false;
    if let Some(profile) = pod_security_context(spec).and_then(|sc| sc.seccomp_profile.as_ref()) {
        if valid_type(&profile.type_) {
            pod_set = true;
        } else {
            setters.push("pod".to_owned());
            bad_values.insert(&profile.type_);
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in containers(spec) {
        match c
            .security_context
            .and_then(|sc| sc.seccomp_profile.as_ref())
        {
            Some(profile) if !valid_type(&profile.type_) => {
                explicit.push(c.name);
                bad_values.insert(&profile.type_);
            }
            Some(_) => {}
            None if !pod_set => implicit.push(c.name),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return Violation::new(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(bad_values)
            ),
        );
    }
    if implicit.is_empty() {
        return None;
    }
    Violation::new(
        "seccompProfile",
        format!(
            r#"pod or {} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
            containers_phrase(&implicit)
        ),
    )
}

fn v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if is_windows(spec) {
        return None;
    }
    v1_19(meta, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        assert_eq!(
            outcome(
                v1_19,
                json!({"spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]}})
            )
            .as_deref(),
            Some(
                r#"seccompProfile (pod or containers "i", "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
            )
        );
        assert_eq!(
            outcome(
                v1_19,
                json!({"spec": {"containers": [
                    {"name": "a"},
                    {"name": "i", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                ]}})
            )
            .as_deref(),
            Some(
                r#"seccompProfile (container "i" must not set securityContext.seccompProfile.type to "Unconfined")"#
            )
        );
        assert_eq!(
            outcome(
                v1_19,
                json!({"spec": {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [
                    {"name": "a"}, {"name": "b", "securityContext": {"seccompProfile": {"type": "Localhost"}}},
                ]}})
            ),
            None
        );
        let windows = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "a"}]}});
        assert_eq!(outcome(v1_25, windows.clone()), None);
        assert!(outcome(v1_19, windows).is_some());
    }
}
