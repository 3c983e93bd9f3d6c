//! `hostNamespaces` (baseline, v1.0): no sharing of the host's network, PID or IPC
//! namespace.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "hostNamespaces",
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[],
    }],
};

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let shared = [
        (spec.host_network, "hostNetwork=true"),
        (spec.host_pid, "hostPID=true"),
        (spec.host_ipc, "hostIPC=true"),
    ];
    if !shared.iter().any(|(on, _)| *on == Some(true)) {
        return None;
    }
    let detail: Vec<&str> = shared
        .iter()
        .filter(|(on, _)| *on == Some(true))
        .map(|(_, text)| *text)
        .collect();
    Violation::new("host namespaces", detail.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::outcome;
    use serde_json::json;

    #[test]
    fn messages() {
        assert_eq!(
            outcome(v1_0, json!({"spec": {"hostIPC": true, "hostPID": true, "hostNetwork": true, "containers": []}})).as_deref(),
            Some("host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)")
        );
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"hostPID": true, "hostNetwork": false, "containers": []}})
            )
            .as_deref(),
            Some("host namespaces (hostPID=true)")
        );
        assert_eq!(
            outcome(
                v1_0,
                json!({"spec": {"hostNetwork": false, "containers": []}})
            ),
            None
        );
    }
}
