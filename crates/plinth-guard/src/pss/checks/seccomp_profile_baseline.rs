//! `seccompProfile_baseline` (baseline): seccomp may not be `Unconfined`. Before v1.19
//! this reads the deprecated `seccomp.security.alpha.kubernetes.io` annotations; from
//! v1.19 the `seccompProfile` fields. Replaced at restricted from v1.19 by
//! `seccompProfile_restricted`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, join_quote, pluralize,
    pod_security_context,
};
use crate::pss::level::Level;
use crate::pss::quote::go_quote;

pub(super) const ID: &str = "seccompProfile_baseline";

pub(super) const CHECK: Check = Check {
    id: ID,
    level: Level::Baseline,
    versions: &[
        VersionedCheck {
            min_minor: 0,
            run: v1_0,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 19,
            run: v1_19,
            overrides: &[],
        },
    ],
};

const POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// `RuntimeDefault` and `Localhost` are the allowed profile types.
pub(super) fn valid_type(profile_type: &str) -> bool {
    matches!(profile_type, "RuntimeDefault" | "Localhost")
}

/// Allowed annotation values; unlike AppArmor's, the empty value is not allowed.
fn valid_annotation(value: &str) -> bool {
    value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/")
}

fn v1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let annotations = meta.annotations.as_ref().filter(|a| !a.is_empty())?;
    let mut forbidden: BTreeSet<String> = BTreeSet::new();
    if let Some(value) = annotations.get(POD_ANNOTATION)
        && !valid_annotation(value)
    {
        forbidden.insert(format!("{POD_ANNOTATION}={}", go_quote(value)));
    }
    // Only annotations naming a visited container count.
    let mut key = String::from(CONTAINER_ANNOTATION_PREFIX);
    for c in containers(spec) {
        key.truncate(CONTAINER_ANNOTATION_PREFIX.len());
        key.push_str(c.name);
        if let Some(value) = annotations.get(&key)
            && !valid_annotation(value)
        {
            forbidden.insert(format!("{key}={}", go_quote(value)));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let list: Vec<&str> = forbidden.iter().map(String::as_str).collect();
    Violation::new(
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", list.len()),
            list.join(", ")
        ),
    )
}

fn v1_19(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut bad_values: BTreeSet<&str> = BTreeSet::new();
    if let Some(profile) = pod_security_context(spec).and_then(|sc| sc.seccomp_profile.as_ref())
        && !valid_type(&profile.type_)
    {
        setters.push("pod".to_owned());
        bad_values.insert(&profile.type_);
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(profile) = c
            .security_context
            .and_then(|sc| sc.seccomp_profile.as_ref())
            && !valid_type(&profile.type_)
        {
            bad_containers.push(c.name);
            bad_values.insert(&profile.type_);
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    Violation::new(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(bad_values)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn annotations() {
        // Upstream's output for this pod (see the spec's edge cases).
        let pod = json!({
            "metadata": {"annotations": {
                "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                "container.seccomp.security.alpha.kubernetes.io/c": "docker/default",
                "container.seccomp.security.alpha.kubernetes.io/e": "xx",
                "container.seccomp.security.alpha.kubernetes.io/other": "unconfined",
            }},
            "spec": {"containers": [{"name": "c"}], "ephemeralContainers": [{"name": "e"}]},
        });
        assert_eq!(
            outcome(v1_0, pod.clone()).as_deref(),
            Some(
                r#"seccompProfile (forbidden annotations container.seccomp.security.alpha.kubernetes.io/e="xx", seccomp.security.alpha.kubernetes.io/pod="unconfined")"#
            )
        );
        // From v1.19 annotations are ignored.
        assert_eq!(outcome(v1_19, pod), None);
        let empty = json!({
            "metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": ""}},
            "spec": {"containers": []},
        });
        assert_eq!(
            outcome(v1_0, empty).as_deref(),
            Some(
                r#"seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="")"#
            )
        );
    }

    #[test]
    fn fields() {
        let pod = json!({"spec": {
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [
                {"name": "a"},
                {"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                {"name": "d", "securityContext": {"seccompProfile": {"type": "Bogus"}}},
                {"name": "ok", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}},
            ],
        }});
        assert_eq!(
            outcome(v1_19, pod).as_deref(),
            Some(
                r#"seccompProfile (pod and containers "c", "d" must not set securityContext.seccompProfile.type to "Bogus", "Unconfined")"#
            )
        );
    }
}
