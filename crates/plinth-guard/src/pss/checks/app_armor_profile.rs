//! `appArmorProfile` (baseline, v1.0): AppArmor profiles may only be `RuntimeDefault` or
//! `Localhost`, in the pod's and containers' fields and in the deprecated
//! `container.apparmor.security.beta.kubernetes.io/*` annotations (which also allow
//! empty, `runtime/default` and `localhost/*`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, join_quote, pluralize,
    pod_security_context,
};
use crate::pss::level::Level;
use crate::pss::quote::go_quote;

pub(super) const CHECK: Check = Check {
    id: "appArmorProfile",
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[],
    }],
};

const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_type(profile_type: &str) -> bool {
    matches!(profile_type, "RuntimeDefault" | "Localhost")
}

fn allowed_annotation(value: &str) -> bool {
    value.is_empty() || value == "runtime/default" || value.starts_with("localhost/")
}

fn v1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<&str> = BTreeSet::new();
    if let Some(profile) = pod_security_context(spec).and_then(|sc| sc.app_armor_profile.as_ref())
        && !allowed_type(&profile.type_)
    {
        setters.push("pod".to_owned());
        bad_values.insert(&profile.type_);
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(profile) = c
            .security_context
            .and_then(|sc| sc.app_armor_profile.as_ref())
            && !allowed_type(&profile.type_)
        {
            bad_containers.push(c.name);
            bad_values.insert(&profile.type_);
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    let mut annotations: Vec<String> = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, v)| k.starts_with(ANNOTATION_PREFIX) && !allowed_annotation(v))
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_owned());
    }
    if setters.is_empty() {
        return None;
    }
    let values_count = bad_values.len() + annotations.len();
    let values = join_quote(
        bad_values
            .iter()
            .copied()
            .chain(annotations.iter().map(String::as_str)),
    );
    Violation::new(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values_count,
        ),
        format!(
            "{} must not set AppArmor profile type to {values}",
            setters.join(" and ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn fields() {
        assert_eq!(
            outcome(v1_0, json!({"spec": {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}]}})).as_deref(),
            Some(r#"forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")"#)
        );
        assert_eq!(
            outcome(v1_0, json!({"spec": {"containers": [
                {"name": "foo", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
                {"name": "ok", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}},
                {"name": "rd", "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}},
            ]}})).as_deref(),
            Some(r#"forbidden AppArmor profile (container "foo" must not set AppArmor profile type to "Unconfined")"#)
        );
    }

    #[test]
    fn annotations() {
        assert_eq!(
            outcome(
                v1_0,
                json!({"metadata": {"annotations": {
                "container.apparmor.security.beta.kubernetes.io/": "bogus",
                "container.apparmor.security.beta.kubernetes.io/f": "unknown",
                "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
                "container.apparmor.security.beta.kubernetes.io/ok1": "",
                "container.apparmor.security.beta.kubernetes.io/ok2": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/ok3": "localhost/x",
                "other": "unconfined",
            }}, "spec": {"containers": [{"name": "a"}]}})
            )
            .as_deref(),
            Some(
                r#"forbidden AppArmor profiles (annotations must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/="bogus"", "container.apparmor.security.beta.kubernetes.io/e="unconfined"", "container.apparmor.security.beta.kubernetes.io/f="unknown"")"#
            )
        );
    }

    #[test]
    fn mixed_like_go() {
        // Upstream's output for this pod (see the spec's edge cases).
        let pod = json!({
            "metadata": {"annotations": {
                "container.apparmor.security.beta.kubernetes.io/x": "unconfined",
                "container.apparmor.security.beta.kubernetes.io/a": "bad\"qé\u{1}",
            }},
            "spec": {
                "securityContext": {"appArmorProfile": {"type": ""}},
                "containers": [{"name": "c", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}],
            },
        });
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(
                r#"forbidden AppArmor profiles (pod and container "c" and annotations must not set AppArmor profile type to "", "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="bad\"qé\x01"", "container.apparmor.security.beta.kubernetes.io/x="unconfined"")"#
            )
        );
    }
}
