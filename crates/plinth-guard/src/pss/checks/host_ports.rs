//! `hostPorts` (baseline, v1.0): no container port may set a `hostPort`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Check, VersionedCheck, Violation, containers, containers_phrase, pluralize};
use crate::pss::level::Level;

pub(super) const CHECK: Check = Check {
    id: "hostPorts",
    level: Level::Baseline,
    versions: &[VersionedCheck {
        min_minor: 0,
        run: v1_0,
        overrides: &[],
    }],
};

fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    // Ports sort as strings, as upstream's do.
    let mut ports: BTreeSet<String> = BTreeSet::new();
    for c in containers(spec) {
        let mut bad = false;
        for port in c.ports {
            if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
                bad = true;
                ports.insert(host_port.to_string());
            }
        }
        if bad {
            bad_containers.push(c.name);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let ports: Vec<&str> = ports.iter().map(String::as_str).collect();
    Violation::new(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
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
        // Upstream's output for this pod (see the spec's edge cases).
        let pod = json!({"spec": {
            "initContainers": [{"name": "z", "ports": [{"containerPort": 1, "hostPort": 8080}]}],
            "containers": [
                {"name": "b", "ports": [{"containerPort": 1, "hostPort": 80}, {"containerPort": 2, "hostPort": 443}, {"containerPort": 3, "hostPort": 80}]},
                {"name": "ok", "ports": [{"containerPort": 1}, {"containerPort": 2, "hostPort": 0}]},
                {"name": "a", "ports": [{"containerPort": 1, "hostPort": 9}]},
            ],
        }});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(r#"hostPort (containers "z", "b", "a" use hostPorts 443, 80, 8080, 9)"#)
        );
        let pod = json!({"spec": {"containers": [
            {"name": "b", "ports": [{"containerPort": 1, "hostPort": 80}]},
            {"name": "a", "ports": [{"containerPort": 1, "hostPort": 80}]},
        ]}});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(r#"hostPort (containers "b", "a" use hostPort 80)"#)
        );
        let pod = json!({"spec": {"containers": [{"name": "n", "ports": [{"containerPort": 1, "hostPort": -5}]}]}});
        assert_eq!(
            outcome(v1_0, pod).as_deref(),
            Some(r#"hostPort (container "n" uses hostPort -5)"#)
        );
    }
}
