//! `procMount` (baseline, v1.0): containers may not set a `procMount` other than
//! `Default`. From v1.35 pods in a user namespace (`hostUsers: false`) are exempt.
//! Replaced at restricted from v1.35 by `procMount_restricted`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, in_user_namespace, join_quote,
};
use crate::pss::level::Level;

pub(super) const ID: &str = "procMount";

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
            min_minor: 35,
            run: v1_35,
            overrides: &[],
        },
    ],
};

/// The unconditional rule, shared with `procMount_restricted`. An explicit empty
/// `procMount` is not `Default` and fails.
pub(super) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    let mut types: BTreeSet<&str> = BTreeSet::new();
    for c in containers(spec) {
        if let Some(proc_mount) = c.security_context.and_then(|sc| sc.proc_mount.as_deref())
            && proc_mount != "Default"
        {
            bad_containers.push(c.name);
            types.insert(proc_mount);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    Violation::new(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad_containers),
            join_quote(types)
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
        let pod = json!({"spec": {"containers": [
            {"name": "a", "securityContext": {"procMount": "Default"}},
            {"name": "d", "securityContext": {"procMount": "Unmasked"}},
            {"name": "e", "securityContext": {"procMount": "other"}},
            {"name": "f", "securityContext": {}},
        ]}});
        assert_eq!(
            outcome(v1_0, pod.clone()).as_deref(),
            Some(
                r#"procMount (containers "d", "e" must not set securityContext.procMount to "Unmasked", "other")"#
            )
        );
        let mut user_ns = pod.clone();
        user_ns["spec"]["hostUsers"] = json!(false);
        assert_eq!(outcome(v1_35, user_ns.clone()), None);
        assert!(outcome(v1_0, user_ns).is_some());
        let mut host_users = pod;
        host_users["spec"]["hostUsers"] = json!(true);
        assert!(outcome(v1_35, host_users).is_some());
        assert_eq!(
            outcome(v1_0, json!({"spec": {"containers": [{"name": "x", "securityContext": {"procMount": ""}}]}})).as_deref(),
            Some(r#"procMount (container "x" must not set securityContext.procMount to "")"#)
        );
    }
}
