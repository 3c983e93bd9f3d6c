//! `capabilities_baseline` (baseline, v1.0): containers may only add capabilities from
//! the container runtime's default set. Replaced at restricted from v1.22 by
//! `capabilities_restricted`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, containers, containers_phrase, join_quote};
use crate::pss::level::Level;

pub(super) const ID: &str = "capabilities_baseline";

pub(super) const CHECK: Check = Check {
    id: ID,
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[],
    }],
};

/// The default capabilities (exact, case-sensitive names without `CAP_`).
const ALLOWED: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    let mut bad_caps: BTreeSet<&str> = BTreeSet::new();
    for c in containers(spec) {
        let added = c
            .security_context
            .and_then(|sc| sc.capabilities.as_ref())
            .and_then(|caps| caps.add.as_deref())
            .unwrap_or_default();
        let mut bad = false;
        for cap in added {
            if !ALLOWED.contains(&cap.as_str()) {
                bad = true;
                bad_caps.insert(cap);
            }
        }
        if bad {
            bad_containers.push(c.name);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    Violation::new(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad_containers),
            join_quote(bad_caps)
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
        let caps = |add: serde_json::Value| json!({"securityContext": {"capabilities": {"add": add, "drop": ["ALL"]}}});
        let mut a = caps(json!(["FOO", "CHOWN", "BAR"]));
        a["name"] = json!("a");
        let mut b = caps(json!(["BAZ", "FOO"]));
        b["name"] = json!("b");
        let mut ok = caps(json!(["NET_BIND_SERVICE", "KILL"]));
        ok["name"] = json!("ok");
        assert_eq!(
            outcome(v1_0, json!({"spec": {"containers": [a, ok, b]}})).as_deref(),
            Some(
                r#"non-default capabilities (containers "a", "b" must not include "BAR", "BAZ", "FOO" in securityContext.capabilities.add)"#
            )
        );
        assert_eq!(
            outcome(v1_0, json!({"spec": {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["CAP_CHOWN", "chown"]}}}]}})).as_deref(),
            Some(r#"non-default capabilities (container "c" must not include "CAP_CHOWN", "chown" in securityContext.capabilities.add)"#)
        );
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"containers": [{"name": "c", "securityContext": {"capabilities": {}}}]}})
            ),
            None
        );
    }
}
