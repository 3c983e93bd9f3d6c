//! `capabilities_restricted` (restricted, v1.22; replaces `capabilities_baseline`): every
//! container must drop `ALL` and may add only `NET_BIND_SERVICE`. From v1.25 Windows
//! pods are exempt.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Check, VersionedCheck, Violation, containers, containers_phrase, is_windows, join_quote,
};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "capabilities_restricted",
    level: Level::Restricted,
    versions: &[
        VersionedCheck {
            min_minor: 22,
            run: v1_22,
            overrides: &[super::capabilities_baseline::ID],
        },
        VersionedCheck {
            min_minor: 25,
            run: v1_25,
            overrides: &[super::capabilities_baseline::ID],
        },
    ],
};

fn v1_22(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut missing_drop_all = Vec::new();
    let mut adding_forbidden = Vec::new();
    let mut forbidden: BTreeSet<&str> = BTreeSet::new();
    for c in containers(spec) {
        let Some(caps) = c.security_context.and_then(|sc| sc.capabilities.as_ref()) else {
            missing_drop_all.push(c.name);
            continue;
        };
        if !caps.drop.iter().flatten().any(|cap| cap == "ALL") {
            missing_drop_all.push(c.name);
        }
        let mut added_forbidden = false;
        for cap in caps.add.iter().flatten() {
            if cap != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(cap);
            }
        }
        if added_forbidden {
            adding_forbidden.push(c.name);
        }
    }
    let mut parts = Vec::new();
    if !missing_drop_all.is_empty() {
        parts.push(format!(
            r#"{} must set securityContext.capabilities.drop=["ALL"]"#,
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding_forbidden.is_empty() {
        parts.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding_forbidden),
            join_quote(forbidden)
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Violation::new("unrestricted capabilities", parts.join("; "))
}

fn v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if is_windows(spec) {
        return None;
    }
    v1_22(meta, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "securityContext": {"capabilities": {"add": ["FOO"]}}},
            {"name": "b", "securityContext": {"capabilities": {"add": ["BAR", "NET_BIND_SERVICE"], "drop": ["all"]}}},
            {"name": "c", "securityContext": {"capabilities": {"add": ["BAZ", "CHOWN"], "drop": ["ALL"]}}},
            {"name": "d", "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}}},
        ]}});
        assert_eq!(
            outcome(v1_22, pod).as_deref(),
            Some(
                r#"unrestricted capabilities (containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in securityContext.capabilities.add)"#
            )
        );
        assert_eq!(
            outcome(v1_22, json!({"spec": {"containers": [{"name": "c", "securityContext": {"capabilities": {"drop": ["all"], "add": ["NET_RAW", "CHOWN", "NET_BIND_SERVICE"]}}}]}})).as_deref(),
            Some(r#"unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "CHOWN", "NET_RAW" in securityContext.capabilities.add)"#)
        );
        let windows = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "c"}]}});
        assert_eq!(outcome(v1_25, windows.clone()), None);
        assert_eq!(
            outcome(v1_22, windows).as_deref(),
            Some(
                r#"unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"])"#
            )
        );
    }
}
