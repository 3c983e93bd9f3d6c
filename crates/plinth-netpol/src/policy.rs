//! A `networking.k8s.io/v1` NetworkPolicy compiled for evaluation: selectors compiled,
//! `policyTypes` defaulted as the API server defaults them, and everything the API
//! server's validation would refuse reported as an error naming the field.

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use plinth_core::selector::Selector;

use crate::error::PolicyError;
use crate::model::Protocol;

/// Which traffic a policy isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Traffic into the selected pods.
    Ingress,
    /// Traffic out of the selected pods.
    Egress,
}

impl Direction {
    /// `Ingress` or `Egress`, as in `policyTypes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

/// An `ipBlock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBlock {
    /// `cidr`.
    pub cidr: IpNet,
    /// `except`.
    pub except: Vec<IpNet>,
}

impl IpBlock {
    /// Whether `ip` is in the block and in none of its exceptions.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidr.contains(&ip) && !self.except.iter().any(|e| e.contains(&ip))
    }
}

/// One entry of `from` / `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// `podSelector` alone: pods of the policy's namespace.
    Pods(Selector),
    /// `namespaceSelector` alone: every pod of the matching namespaces.
    Namespaces(Selector),
    /// Both in one peer: the matching pods of the matching namespaces.
    PodsInNamespaces {
        /// `podSelector`.
        pods: Selector,
        /// `namespaceSelector`.
        namespaces: Selector,
    },
    /// `ipBlock`.
    Block(IpBlock),
}

/// The port part of one entry of `ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortMatch {
    /// No `port`: every port of the protocol.
    Any,
    /// A number, or a range with `endPort`.
    Range(u16, u16),
    /// A container port name, resolved on the destination pod.
    Named(String),
}

/// One entry of `ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// `protocol` (TCP when absent).
    pub protocol: Protocol,
    /// `port` / `endPort`.
    pub port: PortMatch,
}

/// One ingress or egress rule. `None` peers or ports: the list was absent or empty, which
/// matches everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `from` (ingress) or `to` (egress).
    pub peers: Option<Vec<Peer>>,
    /// `ports`.
    pub ports: Option<Vec<Port>>,
}

/// A compiled NetworkPolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.podSelector`.
    pub pod_selector: Selector,
    /// Isolates ingress of the selected pods.
    pub ingress_isolated: bool,
    /// Isolates egress of the selected pods.
    pub egress_isolated: bool,
    /// `spec.ingress`.
    pub ingress: Vec<Rule>,
    /// `spec.egress`.
    pub egress: Vec<Rule>,
}

impl Policy {
    /// `NAMESPACE/NAME`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the policy isolates `direction`.
    pub fn isolates(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.ingress_isolated,
            Direction::Egress => self.egress_isolated,
        }
    }

    /// The rules for `direction`.
    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    /// Compiles a NetworkPolicy; `default_namespace` is used when it has none.
    pub fn compile(
        policy: &net::NetworkPolicy,
        default_namespace: &str,
    ) -> Result<Policy, PolicyError> {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let namespace = policy
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_owned());
        let err = |field: String, problem: String| PolicyError::Invalid {
            policy: format!("{namespace}/{name}"),
            field,
            problem,
        };
        if name.is_empty() {
            return Err(err("metadata.name".into(), "is required".into()));
        }
        let spec = policy.spec.clone().unwrap_or_default();
        // An absent podSelector, like an empty one, selects every pod of the namespace.
        let pod_selector = Selector::from_label_selector(&spec.pod_selector.unwrap_or_default())
            .map_err(|e| err("spec.podSelector".into(), e.to_string()))?;

        let ingress_rules = spec.ingress.unwrap_or_default();
        let egress_rules = spec.egress.unwrap_or_default();
        let (ingress_isolated, egress_isolated) = match spec.policy_types.as_deref() {
            // The API server's defaulting: Ingress always, Egress when egress rules exist.
            None | Some([]) => (true, !egress_rules.is_empty()),
            Some(types) if types.len() > 2 => {
                return Err(err(
                    "spec.policyTypes".into(),
                    "may not specify more than two policyTypes".into(),
                ));
            }
            Some(types) => {
                let mut ingress = false;
                let mut egress = false;
                for (i, t) in types.iter().enumerate() {
                    match t.as_str() {
                        "Ingress" => ingress = true,
                        "Egress" => egress = true,
                        other => {
                            return Err(err(
                                format!("spec.policyTypes[{i}]"),
                                format!("{other:?} is not one of \"Ingress\", \"Egress\""),
                            ));
                        }
                    }
                }
                (ingress, egress)
            }
        };

        let mut ingress = Vec::with_capacity(ingress_rules.len());
        for (i, rule) in ingress_rules.iter().enumerate() {
            let field = format!("spec.ingress[{i}]");
            ingress.push(Rule {
                peers: compile_peers(rule.from.as_deref(), &format!("{field}.from"), &err)?,
                ports: compile_ports(rule.ports.as_deref(), &format!("{field}.ports"), &err)?,
            });
        }
        let mut egress = Vec::with_capacity(egress_rules.len());
        for (i, rule) in egress_rules.iter().enumerate() {
            let field = format!("spec.egress[{i}]");
            egress.push(Rule {
                peers: compile_peers(rule.to.as_deref(), &format!("{field}.to"), &err)?,
                ports: compile_ports(rule.ports.as_deref(), &format!("{field}.ports"), &err)?,
            });
        }
        Ok(Policy {
            namespace,
            name,
            pod_selector,
            ingress_isolated,
            egress_isolated,
            ingress,
            egress,
        })
    }
}

fn compile_peers(
    peers: Option<&[net::NetworkPolicyPeer]>,
    field: &str,
    err: &dyn Fn(String, String) -> PolicyError,
) -> Result<Option<Vec<Peer>>, PolicyError> {
    let Some(peers) = peers.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(peers.len());
    for (i, peer) in peers.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let selector = |s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
                        what: &str| {
            Selector::from_label_selector(s).map_err(|e| err(format!("{at}.{what}"), e.to_string()))
        };
        let compiled = match (&peer.pod_selector, &peer.namespace_selector, &peer.ip_block) {
            (None, None, None) => {
                return Err(err(
                    at,
                    "must specify a peer (podSelector, namespaceSelector or ipBlock)".into(),
                ));
            }
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                return Err(err(
                    at,
                    "ipBlock may not be combined with podSelector or namespaceSelector".into(),
                ));
            }
            (Some(p), None, None) => Peer::Pods(selector(p, "podSelector")?),
            (None, Some(n), None) => Peer::Namespaces(selector(n, "namespaceSelector")?),
            (Some(p), Some(n), None) => Peer::PodsInNamespaces {
                pods: selector(p, "podSelector")?,
                namespaces: selector(n, "namespaceSelector")?,
            },
            (None, None, Some(block)) => Peer::Block(compile_block(block, &at, err)?),
        };
        out.push(compiled);
    }
    Ok(Some(out))
}

fn compile_block(
    block: &net::IPBlock,
    at: &str,
    err: &dyn Fn(String, String) -> PolicyError,
) -> Result<IpBlock, PolicyError> {
    let cidr: IpNet = block.cidr.parse().map_err(|_| {
        err(
            format!("{at}.ipBlock.cidr"),
            format!("{:?} is not a CIDR (e.g. 10.0.0.0/16)", block.cidr),
        )
    })?;
    let mut except = Vec::new();
    for (i, e) in block.except.iter().flatten().enumerate() {
        let field = format!("{at}.ipBlock.except[{i}]");
        let net: IpNet = e
            .parse()
            .map_err(|_| err(field.clone(), format!("{e:?} is not a CIDR")))?;
        // The API server requires every exception to lie strictly inside the cidr.
        if !(cidr.contains(&net) && net.prefix_len() > cidr.prefix_len()) {
            return Err(err(field, format!("{e} must be a strict subset of {cidr}")));
        }
        except.push(net);
    }
    Ok(IpBlock { cidr, except })
}

fn compile_ports(
    ports: Option<&[net::NetworkPolicyPort]>,
    field: &str,
    err: &dyn Fn(String, String) -> PolicyError,
) -> Result<Option<Vec<Port>>, PolicyError> {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(ports.len());
    for (i, p) in ports.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let protocol = match p.protocol.as_deref() {
            None => Protocol::Tcp,
            Some(s) => s.parse().map_err(|_| {
                err(
                    format!("{at}.protocol"),
                    format!("{s:?} is not one of \"TCP\", \"UDP\", \"SCTP\""),
                )
            })?,
        };
        let port = match (&p.port, p.end_port) {
            (None, None) => PortMatch::Any,
            (None, Some(_)) => {
                return Err(err(
                    format!("{at}.endPort"),
                    "may not be set without port".into(),
                ));
            }
            (Some(IntOrString::Int(n)), end) => {
                let start = port_number(*n).ok_or_else(|| {
                    err(
                        format!("{at}.port"),
                        format!("{n} is not between 1 and 65535"),
                    )
                })?;
                let end = match end {
                    None => start,
                    Some(e) => {
                        let e = port_number(e).ok_or_else(|| {
                            err(
                                format!("{at}.endPort"),
                                format!("{e} is not between 1 and 65535"),
                            )
                        })?;
                        if e < start {
                            return Err(err(
                                format!("{at}.endPort"),
                                format!("{e} must be greater than or equal to port {start}"),
                            ));
                        }
                        e
                    }
                };
                PortMatch::Range(start, end)
            }
            (Some(IntOrString::String(s)), end) => {
                if end.is_some() {
                    return Err(err(
                        format!("{at}.endPort"),
                        "may not be set when port is a name".into(),
                    ));
                }
                // A string is always a name to the API server (a quoted "80" is refused:
                // a port name must contain a letter).
                if !valid_port_name(s) {
                    return Err(err(
                        format!("{at}.port"),
                        format!(
                            "{s:?} is not a valid port name (IANA_SVC_NAME: at most 15 lowercase letters, digits and '-', with at least one letter); write a number without quotes for a port number"
                        ),
                    ));
                }
                PortMatch::Named(s.clone())
            }
        };
        out.push(Port { protocol, port });
    }
    Ok(Some(out))
}

fn port_number(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p > 0)
}

/// IANA_SVC_NAME as the API server validates it: 1–15 characters of `a-z0-9-`, at least
/// one letter, no leading/trailing or double hyphen.
pub fn valid_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}
