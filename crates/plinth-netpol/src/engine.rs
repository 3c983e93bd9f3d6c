//! "May A reach B on port P?" with `networking.k8s.io/v1` semantics, and why.
//!
//! A connection is allowed when the source's egress allows it *and* the destination's
//! ingress allows it. In each direction a pod is isolated when at least one policy of
//! its namespace selects it and has that direction in its (defaulted) `policyTypes`; an
//! isolated pod's traffic in that direction is allowed when any rule of any of those
//! policies matches — policies are a union, never an intersection. An unisolated pod's
//! traffic is allowed. A pod's traffic to itself is allowed (implementations do not
//! filter loopback, and the upstream e2e suite expects it). Host-network pods are not
//! selected by policies and are not matched by pod or namespace selectors: their traffic
//! is their node's, matched by `ipBlock` only.
//!
//! Whether an `ipBlock` matches the IPs of pods differs between network plugins (the API
//! documentation intends ipBlock for cluster-external IPs). [`IpBlockMode`] makes that a
//! switch, and every verdict states which assumption it used.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::error::ModelError;
use crate::model::{Pod, Protocol};
use crate::policy::{Direction, Peer, Policy, Port, PortMatch, Rule};

/// How `ipBlock` peers treat pod IPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpBlockMode {
    /// An ipBlock matches a pod whose IP lies in it — what the upstream e2e suite
    /// expects (its ipBlock tests use pod IPs), and what most plugins do.
    #[default]
    PodIps,
    /// An ipBlock matches only addresses that are not pods' (as some plugins treat it,
    /// since pod traffic may be NATed or identified by labels instead).
    ExternalOnly,
}

impl IpBlockMode {
    /// How the assumption is stated in verdicts.
    pub fn describe(self) -> &'static str {
        match self {
            IpBlockMode::PodIps => "ipBlock peers match pod IPs (the upstream e2e expectation)",
            IpBlockMode::ExternalOnly => "ipBlock peers match only non-pod addresses",
        }
    }
}

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// A pod of the index, by position.
    Pod(usize),
    /// An address outside the pods of the index.
    Ip(IpAddr),
}

/// The destination port of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortQuery {
    /// A number.
    Number(u16),
    /// A container port name of the destination pod.
    Name(String),
}

/// What one direction decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    /// The direction allows the connection.
    pub allowed: bool,
    /// Policies that isolate this end in this direction (`NAMESPACE/NAME`).
    pub isolated_by: Vec<String>,
    /// The rules that allowed it (`NAMESPACE/NAME ingress[0]`).
    pub allowed_by: Vec<String>,
    /// Why the direction was not evaluated (external endpoint, host network, loopback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Side {
    fn not_applicable(note: String) -> Side {
        Side {
            allowed: true,
            isolated_by: Vec::new(),
            allowed_by: Vec::new(),
            note: Some(note),
        }
    }
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// Both directions allow the connection.
    pub allowed: bool,
    /// The destination port number the query resolved to.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// The source's egress.
    pub egress: Side,
    /// The destination's ingress.
    pub ingress: Side,
    /// The ipBlock assumption used.
    pub ip_block_mode: IpBlockMode,
}

impl Verdict {
    /// One line per fact that decided the verdict.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, side) in [("egress", &self.egress), ("ingress", &self.ingress)] {
            if let Some(note) = &side.note {
                out.push(format!("{name}: {note}"));
            } else if side.isolated_by.is_empty() {
                out.push(format!(
                    "{name}: not isolated (no policy selects the pod for {name})"
                ));
            } else if side.allowed {
                out.push(format!("{name}: allowed by {}", side.allowed_by.join(", ")));
            } else {
                out.push(format!(
                    "{name}: isolated by {} and no rule allows it",
                    side.isolated_by.join(", ")
                ));
            }
        }
        out.push(format!("assumption: {}", self.ip_block_mode.describe()));
        out
    }
}

/// Pods, namespace labels and compiled policies, with the policies selecting each pod
/// computed once.
#[derive(Debug, Clone)]
pub struct Index {
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pods: Vec<Pod>,
    policies: Vec<Policy>,
    by_id: BTreeMap<String, usize>,
    /// Per pod: the policies isolating its ingress, and its egress.
    isolating: Vec<[Vec<usize>; 2]>,
    mode: IpBlockMode,
}

fn slot(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl Index {
    /// Builds the index (policies ordered by `NAMESPACE/NAME`). Pods in namespaces missing
    /// from `namespaces` get only the `kubernetes.io/metadata.name` label, as the API
    /// server would give them.
    pub fn new(
        mut namespaces: BTreeMap<String, BTreeMap<String, String>>,
        pods: Vec<Pod>,
        mut policies: Vec<Policy>,
        mode: IpBlockMode,
    ) -> Index {
        // Reasons name policies in this order: make it the policies' identity, not the
        // order they were read in, so a cluster and its manifests explain alike.
        policies.sort_by_key(Policy::id);
        for ns in pods
            .iter()
            .map(|p| &p.namespace)
            .chain(policies.iter().map(|p| &p.namespace))
        {
            namespaces.entry(ns.clone()).or_insert_with(|| {
                BTreeMap::from([(crate::model::NAMESPACE_NAME_LABEL.to_owned(), ns.clone())])
            });
        }
        let mut by_namespace: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, p) in policies.iter().enumerate() {
            by_namespace
                .entry(p.namespace.as_str())
                .or_default()
                .push(i);
        }
        let isolating = pods
            .iter()
            .map(|pod| {
                let mut sides: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
                if pod.host_network {
                    return sides;
                }
                for &i in by_namespace
                    .get(pod.namespace.as_str())
                    .into_iter()
                    .flatten()
                {
                    let policy = &policies[i];
                    if !policy.pod_selector.matches(&pod.labels) {
                        continue;
                    }
                    for d in [Direction::Ingress, Direction::Egress] {
                        if policy.isolates(d) {
                            sides[slot(d)].push(i);
                        }
                    }
                }
                sides
            })
            .collect();
        let by_id = pods.iter().enumerate().map(|(i, p)| (p.id(), i)).collect();
        Index {
            namespaces,
            pods,
            policies,
            by_id,
            isolating,
            mode,
        }
    }

    /// The pods.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// The policies.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Whether some policy isolates pod `pod` in `direction` (host-network pods never are).
    pub fn is_isolated(&self, pod: usize, direction: Direction) -> bool {
        self.isolating
            .get(pod)
            .is_some_and(|sides| !sides[slot(direction)].is_empty())
    }

    /// The ipBlock assumption.
    pub fn mode(&self) -> IpBlockMode {
        self.mode
    }

    /// The pod `NAMESPACE/NAME`.
    pub fn pod(&self, id: &str) -> Result<usize, ModelError> {
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| ModelError::UnknownPod(id.to_owned()))
    }

    /// The endpoint for `ip`: the pod with that IP (not a host-network pod, whose IP is
    /// its node's), else the address itself.
    pub fn endpoint_for_ip(&self, ip: IpAddr) -> Endpoint {
        self.pods
            .iter()
            .position(|p| !p.host_network && p.ip == Some(ip))
            .map_or(Endpoint::Ip(ip), Endpoint::Pod)
    }

    fn describe(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Pod(i) => format!("pod {}", self.pods[i].id()),
            Endpoint::Ip(ip) => format!("address {ip}"),
        }
    }

    /// Decides one connection.
    pub fn verify(
        &self,
        from: Endpoint,
        to: Endpoint,
        port: &PortQuery,
        protocol: Protocol,
    ) -> Result<Verdict, ModelError> {
        let number = match (port, to) {
            (PortQuery::Number(n), _) => *n,
            (PortQuery::Name(name), Endpoint::Pod(i)) => {
                let pod = &self.pods[i];
                pod.named_port(name, protocol)
                    .ok_or_else(|| ModelError::UnknownPortName {
                        pod: pod.id(),
                        name: name.clone(),
                        protocol: protocol.to_string(),
                    })?
            }
            (PortQuery::Name(name), Endpoint::Ip(ip)) => {
                return Err(ModelError::Query(format!(
                    "port {name:?} is a name, which only a destination pod can resolve; {ip} is an address"
                )));
            }
        };
        if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (from, to)
            && a == b
        {
            let loopback = Side::not_applicable(
                "a pod's traffic to itself is not filtered (loopback)".to_owned(),
            );
            return Ok(Verdict {
                allowed: true,
                port: number,
                protocol,
                egress: loopback.clone(),
                ingress: loopback,
                ip_block_mode: self.mode,
            });
        }
        let egress = self.side(Direction::Egress, from, to, number, protocol);
        let ingress = self.side(Direction::Ingress, to, from, number, protocol);
        Ok(Verdict {
            allowed: egress.allowed && ingress.allowed,
            port: number,
            protocol,
            egress,
            ingress,
            ip_block_mode: self.mode,
        })
    }

    /// The decision of `subject`'s policies for `direction` about traffic with `peer`
    /// (for ingress the subject is the destination, for egress the source).
    fn side(
        &self,
        direction: Direction,
        subject: Endpoint,
        peer: Endpoint,
        port: u16,
        protocol: Protocol,
    ) -> Side {
        let Endpoint::Pod(s) = subject else {
            return Side::not_applicable(format!(
                "{} is not a pod; only pods' policies apply",
                self.describe(subject)
            ));
        };
        let pod = &self.pods[s];
        if pod.host_network {
            return Side::not_applicable(format!(
                "pod {} uses the host network; NetworkPolicies do not select it",
                pod.id()
            ));
        }
        let isolating = &self.isolating[s][slot(direction)];
        let destination = match direction {
            Direction::Ingress => subject,
            Direction::Egress => peer,
        };
        let mut allowed_by = Vec::new();
        for &i in isolating {
            let policy = &self.policies[i];
            for (r, rule) in policy.rules(direction).iter().enumerate() {
                if self.rule_matches(policy, rule, peer, destination, port, protocol) {
                    allowed_by.push(format!(
                        "{} {}[{r}]",
                        policy.id(),
                        direction.as_str().to_lowercase()
                    ));
                }
            }
        }
        Side {
            allowed: isolating.is_empty() || !allowed_by.is_empty(),
            isolated_by: isolating.iter().map(|&i| self.policies[i].id()).collect(),
            allowed_by,
            note: None,
        }
    }

    fn rule_matches(
        &self,
        policy: &Policy,
        rule: &Rule,
        peer: Endpoint,
        destination: Endpoint,
        port: u16,
        protocol: Protocol,
    ) -> bool {
        let peer_ok = match &rule.peers {
            None => true,
            Some(peers) => peers.iter().any(|p| self.peer_matches(policy, p, peer)),
        };
        peer_ok
            && match &rule.ports {
                None => true,
                Some(ports) => ports
                    .iter()
                    .any(|p| self.port_matches(p, destination, port, protocol)),
            }
    }

    /// The policies isolating `pod` in `direction` (indexes into [`Index::policies`]).
    pub(crate) fn isolating_policies(&self, pod: usize, direction: Direction) -> &[usize] {
        &self.isolating[pod][slot(direction)]
    }

    pub(crate) fn peer_matches(&self, policy: &Policy, peer: &Peer, endpoint: Endpoint) -> bool {
        let labels_of_ns = |ns: &str| self.namespaces.get(ns);
        match (peer, endpoint) {
            (Peer::Block(block), Endpoint::Ip(ip)) => block.contains(ip),
            (Peer::Block(block), Endpoint::Pod(i)) => {
                let pod = &self.pods[i];
                let counts = pod.host_network || self.mode == IpBlockMode::PodIps;
                counts && pod.ip.is_some_and(|ip| block.contains(ip))
            }
            (_, Endpoint::Ip(_)) => false,
            (_, Endpoint::Pod(i)) if self.pods[i].host_network => false,
            (Peer::Pods(sel), Endpoint::Pod(i)) => {
                let pod = &self.pods[i];
                pod.namespace == policy.namespace && sel.matches(&pod.labels)
            }
            (Peer::Namespaces(sel), Endpoint::Pod(i)) => {
                labels_of_ns(&self.pods[i].namespace).is_some_and(|l| sel.matches(l))
            }
            (Peer::PodsInNamespaces { pods, namespaces }, Endpoint::Pod(i)) => {
                let pod = &self.pods[i];
                pods.matches(&pod.labels)
                    && labels_of_ns(&pod.namespace).is_some_and(|l| namespaces.matches(l))
            }
        }
    }

    fn port_matches(
        &self,
        rule: &Port,
        destination: Endpoint,
        port: u16,
        protocol: Protocol,
    ) -> bool {
        if rule.protocol != protocol {
            return false;
        }
        match &rule.port {
            PortMatch::Any => true,
            PortMatch::Range(a, b) => (*a..=*b).contains(&port),
            PortMatch::Named(name) => match destination {
                Endpoint::Pod(i) => self.pods[i].named_port(name, protocol) == Some(port),
                Endpoint::Ip(_) => false,
            },
        }
    }
}
