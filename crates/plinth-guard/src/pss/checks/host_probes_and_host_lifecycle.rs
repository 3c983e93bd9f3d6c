//! `hostProbesAndHostLifecycle` (baseline, v1.34): probes and lifecycle handlers may not
//! set `httpGet.host` or `tcpSocket.host`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{HTTPGetAction, PodSpec, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, containers, join_quote, pluralize};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "hostProbesAndHostLifecycle",
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 34,
        run: v1_34,
        overrides: &[],
    }],
};

/// The non-empty hosts of a handler's `httpGet` and `tcpSocket`, in that order.
fn hosts<'a>(
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a TCPSocketAction>,
) -> impl Iterator<Item = &'a str> {
    let http = http_get.and_then(|h| h.host.as_deref());
    let tcp = tcp_socket.and_then(|t| t.host.as_deref());
    http.into_iter().chain(tcp).filter(|h| !h.is_empty())
}

fn v1_34(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    // Unlike most checks, container names are reported distinct and sorted.
    let mut bad_containers: BTreeSet<&str> = BTreeSet::new();
    let mut bad_hosts: BTreeSet<&str> = BTreeSet::new();
    for c in containers(spec) {
        let probes = [c.liveness_probe, c.readiness_probe, c.startup_probe]
            .into_iter()
            .flatten()
            .flat_map(|p| hosts(p.http_get.as_ref(), p.tcp_socket.as_ref()));
        let handlers = c
            .lifecycle
            .into_iter()
            .flat_map(|l| [l.post_start.as_ref(), l.pre_stop.as_ref()])
            .flatten()
            .flat_map(|h| hosts(h.http_get.as_ref(), h.tcp_socket.as_ref()));
        for host in probes.chain(handlers) {
            bad_containers.insert(c.name);
            bad_hosts.insert(host);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    Violation::new(
        "probe or lifecycle host",
        format!(
            "{} {} {} {} {}",
            pluralize("container", "containers", bad_containers.len()),
            join_quote(bad_containers.iter().copied()),
            pluralize("uses", "use", bad_containers.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                bad_hosts.len()
            ),
            join_quote(bad_hosts)
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
        let pod = json!({"spec": {"containers": [
            {"name": "z", "livenessProbe": {"httpGet": {"host": "b.com", "port": 80}}},
            {"name": "a", "readinessProbe": {"tcpSocket": {"host": "a.com", "port": 80}},
             "lifecycle": {"preStop": {"httpGet": {"host": "b.com", "port": 80}}}},
            {"name": "ok", "startupProbe": {"httpGet": {"host": "", "port": 80}, "exec": {"command": ["x"]}},
             "lifecycle": {"postStart": {"sleep": {"seconds": 1}}}},
        ]}});
        assert_eq!(
            outcome(v1_34, pod).as_deref(),
            Some(
                r#"probe or lifecycle host (containers "a", "z" use probe or lifecycle hosts "a.com", "b.com")"#
            )
        );
        let pod = json!({"spec": {"containers": [
            {"name": "a", "startupProbe": {"httpGet": {"host": "localhost", "port": 80}},
             "lifecycle": {"postStart": {"tcpSocket": {"host": "::1", "port": 1}}, "preStop": {"httpGet": {"host": "127.0.0.1", "port": 1}}}},
        ]}});
        assert_eq!(
            outcome(v1_34, pod).as_deref(),
            Some(
                r#"probe or lifecycle host (container "a" uses probe or lifecycle hosts "127.0.0.1", "::1", "localhost")"#
            )
        );
        let pod = json!({"spec": {"ephemeralContainers": [
            {"name": "e", "livenessProbe": {"httpGet": {"host": "8.8.8.8", "port": 80}}},
        ], "containers": []}});
        assert_eq!(
            outcome(v1_34, pod).as_deref(),
            Some(
                r#"probe or lifecycle host (container "e" uses probe or lifecycle host "8.8.8.8")"#
            )
        );
    }
}
