//! The objects connectivity is decided over: namespaces with labels, pods with labels,
//! IPs and container ports, read from Kubernetes objects.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use k8s_openapi::api::core::v1 as core;

use crate::error::ModelError;

/// The label the API server puts on every namespace, with the namespace's name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A transport protocol NetworkPolicies can name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// `TCP`, `UDP` or `SCTP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol is not TCP, UDP or SCTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseProtocolError;

impl FromStr for Protocol {
    type Err = ParseProtocolError;
    /// Exact upper case, as the API server accepts it.
    fn from_str(s: &str) -> Result<Protocol, ParseProtocolError> {
        match s {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            _ => Err(ParseProtocolError),
        }
    }
}

/// One declared container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    /// `name`, if any.
    pub name: Option<String>,
    /// `containerPort`.
    pub port: u16,
    /// `protocol` (TCP when absent).
    pub protocol: Protocol,
}

/// A pod as connectivity sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `status.podIP`, when known.
    pub ip: Option<IpAddr>,
    /// `spec.hostNetwork`: the pod uses its node's network; policies do not select it and
    /// its traffic comes from the node's IP.
    pub host_network: bool,
    /// The declared ports of the containers and of the sidecars (init containers with
    /// `restartPolicy: Always`), which is where upstream resolves named ports.
    pub ports: Vec<ContainerPort>,
}

impl Pod {
    /// `NAMESPACE/NAME`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Reads a Pod object; `default_namespace` when it names none.
    pub fn from_object(pod: &core::Pod, default_namespace: &str) -> Result<Pod, ModelError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_owned());
        let object = format!("Pod {namespace}/{name}");
        let invalid = |field: &str, problem: String| ModelError::Invalid {
            object: object.clone(),
            field: field.to_owned(),
            problem,
        };
        if name.is_empty() {
            return Err(invalid("metadata.name", "is required".into()));
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let ip = match pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()) {
            None | Some("") => None,
            Some(s) => Some(
                s.parse()
                    .map_err(|_| invalid("status.podIP", format!("{s:?} is not an IP address")))?,
            ),
        };
        let mut ports = Vec::new();
        let containers = spec
            .containers
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("containers[{i}]"), c))
            .chain(
                // As upstream's FindPort: init containers only when they are sidecars.
                spec.init_containers
                    .iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, c)| c.restart_policy.as_deref() == Some("Always"))
                    .map(|(i, c)| (format!("initContainers[{i}]"), c)),
            );
        for (at, c) in containers {
            for (pi, p) in c.ports.iter().flatten().enumerate() {
                let field = format!("{at}.ports[{pi}]");
                let port = u16::try_from(p.container_port)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        invalid(
                            &format!("{field}.containerPort"),
                            format!("{} is not between 1 and 65535", p.container_port),
                        )
                    })?;
                let protocol = match p.protocol.as_deref() {
                    None => Protocol::Tcp,
                    Some(s) => s.parse().map_err(|_| {
                        invalid(
                            &format!("{field}.protocol"),
                            format!("{s:?} is not one of \"TCP\", \"UDP\", \"SCTP\""),
                        )
                    })?,
                };
                ports.push(ContainerPort {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    port,
                    protocol,
                });
            }
        }
        Ok(Pod {
            namespace,
            name,
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            ip,
            host_network: spec.host_network.unwrap_or(false),
            ports,
        })
    }

    /// The number of the container port named `name` for `protocol`.
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
            .map(|p| p.port)
    }
}

/// A namespace's labels as the API server keeps them: with `kubernetes.io/metadata.name`
/// set to its name (the API server adds it to every namespace).
pub fn namespace_labels(ns: &core::Namespace) -> (String, BTreeMap<String, String>) {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let mut labels = ns.metadata.labels.clone().unwrap_or_default();
    labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.clone());
    (name, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ports_come_from_containers_and_sidecars_only() {
        let pod: core::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {
                "containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}],
                "initContainers": [
                    {"name": "migrate", "ports": [{"name": "migrate", "containerPort": 9000}]},
                    {"name": "proxy", "restartPolicy": "Always",
                     "ports": [{"name": "proxy", "containerPort": 15001}]}
                ]
            }
        }))
        .expect("pod JSON");
        let pod = Pod::from_object(&pod, "default").expect("valid pod");
        assert_eq!(pod.named_port("http", Protocol::Tcp), Some(8080));
        assert_eq!(pod.named_port("proxy", Protocol::Tcp), Some(15001));
        assert_eq!(pod.named_port("migrate", Protocol::Tcp), None);
        assert_eq!(pod.named_port("http", Protocol::Udp), None);
    }
}
