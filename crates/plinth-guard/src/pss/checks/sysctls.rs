//! `sysctls` (baseline, v1.0): only the namespaced, isolated ("safe") sysctls. The safe
//! set grows at v1.27, v1.29, v1.32 and v1.37.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, pod_security_context};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "sysctls",
    level: Level::Baseline,
    versions: &[
        VersionedCheck {
            min_minor: 0,
            run: v1_0,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 27,
            run: v1_27,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 29,
            run: v1_29,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 32,
            run: v1_32,
            overrides: &[],
        },
        VersionedCheck {
            min_minor: 37,
            run: v1_37,
            overrides: &[],
        },
    ],
};

/// Every safe sysctl, in the order they were added; each version allows a prefix.
const SAFE: [&str; 14] = [
    // v1.0
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    // v1.27
    "net.ipv4.ip_local_reserved_ports",
    // v1.29
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    // v1.32
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    // v1.37
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &SAFE[..5])
}

fn v1_27(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &SAFE[..6])
}

fn v1_29(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &SAFE[..10])
}

fn v1_32(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &SAFE[..12])
}

fn v1_37(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &SAFE)
}

/// Forbidden names in spec order, duplicates kept.
fn check(spec: &PodSpec, safe: &[&str]) -> Option<Violation> {
    let forbidden: Vec<&str> = pod_security_context(spec)
        .and_then(|sc| sc.sysctls.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|s| s.name.as_str())
        .filter(|name| !safe.contains(name))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    Violation::new("forbidden sysctls", forbidden.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::CheckFn;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    fn pod(names: &[&str]) -> serde_json::Value {
        let sysctls: Vec<_> = names
            .iter()
            .map(|n| json!({"name": n, "value": "1"}))
            .collect();
        json!({"spec": {"securityContext": {"sysctls": sysctls}, "containers": []}})
    }

    #[test]
    fn messages_and_versions() {
        let p = pod(&[
            "z",
            "net.ipv4.tcp_notsent_lowat",
            "kernel.shm_rmid_forced",
            "a",
            "z",
        ]);
        assert_eq!(
            outcome(v1_32, p.clone()).as_deref(),
            Some("forbidden sysctls (z, net.ipv4.tcp_notsent_lowat, a, z)")
        );
        assert_eq!(
            outcome(v1_37, p).as_deref(),
            Some("forbidden sysctls (z, a, z)")
        );
        let steps: [(CheckFn, CheckFn, &str); 4] = [
            (v1_0, v1_27, "net.ipv4.ip_local_reserved_ports"),
            (v1_27, v1_29, "net.ipv4.tcp_fin_timeout"),
            (v1_29, v1_32, "net.ipv4.tcp_wmem"),
            (v1_32, v1_37, "net.ipv4.tcp_slow_start_after_idle"),
        ];
        for (before, from, name) in steps {
            assert!(
                outcome(before, pod(&[name])).is_some(),
                "{name} forbidden before"
            );
            assert_eq!(outcome(from, pod(&[name])), None, "{name} allowed from");
        }
    }
}
