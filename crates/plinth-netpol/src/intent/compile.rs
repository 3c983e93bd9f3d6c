//! Intent → enforcement objects, per identity:
//!
//! - `NetworkPolicy NAME-default-deny`: isolates the identity's pods in both directions.
//! - `NetworkPolicy NAME-allow`: ingress from every matrix source (namespace AND pod
//!   selector in one peer) and egress to every matrix target on the matrix's ports; the
//!   zone's address rules (`external`, `cidrs`, `any`) as `ipBlock`s; DNS egress to the
//!   cluster DNS pods on UDP and TCP 53 (not to everything, as the seed's `to: []` did).
//! - `PeerAuthentication NAME-mtls`: STRICT mTLS.
//! - `AuthorizationPolicy NAME-authz`: ALLOW with one rule per matrix source (its SPIFFE
//!   principal and the TCP ports). With no sources it has no rules — Istio's "allow
//!   nothing". Never `rules: [{}]`, which matches every request and so allows everything.
//!   Istio authorizes only what its proxies carry (TCP); UDP and SCTP entries are
//!   enforced by the NetworkPolicies alone.
//! - `Certificate NAME-tls` (when the model configures certificates): service DNS names
//!   and the SPIFFE URI, explicit `issuerRef` kind and group, duration, renewBefore and
//!   `privateKey.rotationPolicy`.
//!
//! Output is deterministic: identities, rules, peers and ports in sorted order, one file
//! per identity (`NAMESPACE/NAME.yaml`) and a `kustomization.yaml` listing them.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use serde_json::{Value, json};

use super::validate::parse_cidr;
use super::{Identity, Model, ZoneRule};
use crate::model::{NAMESPACE_NAME_LABEL, Protocol};

/// The label naming the model an object was compiled from.
pub const MODEL_LABEL: &str = "plinth.dev/zt-model";
/// The label naming the identity an object was compiled for.
pub const IDENTITY_LABEL: &str = "plinth.dev/zt-identity";
/// `app.kubernetes.io/managed-by`.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// One compiled object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The file it belongs in, relative to the output directory.
    pub file: String,
    /// The object.
    pub value: Value,
}

impl Object {
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or_default()
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        self.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }
}

/// What a model compiles to.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// Every object, in file order.
    pub objects: Vec<Object>,
}

impl Compiled {
    /// The files to write: each identity's objects as one multi-document YAML file, and a
    /// `kustomization.yaml` listing them.
    pub fn files(&self) -> Result<BTreeMap<String, String>, serde_saphyr::ser::Error> {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for o in &self.objects {
            let text = files.entry(o.file.clone()).or_default();
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(&serde_saphyr::to_string(&o.value)?);
        }
        let kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": files.keys().collect::<Vec<_>>(),
        });
        files.insert(
            "kustomization.yaml".to_owned(),
            serde_saphyr::to_string(&kustomization)?,
        );
        Ok(files)
    }
}

fn metadata(model: &Model, identity: &Identity, name: String) -> Value {
    json!({
        "name": name,
        "namespace": identity.namespace,
        "labels": {
            MANAGED_BY_LABEL: "plinth",
            MODEL_LABEL: model.name,
            IDENTITY_LABEL: identity.name,
        },
    })
}

fn pod_peer(identity: &Identity) -> Value {
    json!({
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: identity.namespace}},
        "podSelector": {"matchLabels": identity.pod_labels()},
    })
}

fn np_ports(ports: &BTreeSet<(Protocol, u16)>) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|(proto, port)| json!({"protocol": proto.as_str(), "port": port}))
            .collect(),
    )
}

/// The `ipBlock` peers of a zone rule that names addresses; `None` for a zone peer.
fn ip_peers(model: &Model, rule: &ZoneRule) -> Option<Vec<Value>> {
    let zone_nets: Vec<IpNet> = model
        .spec
        .zones
        .iter()
        .flat_map(|z| z.cidrs.iter().filter_map(|c| parse_cidr(c).ok()))
        .collect();
    let everything = |except_zones: bool| {
        ["0.0.0.0/0", "::/0"]
            .into_iter()
            .filter_map(|all| {
                let all: IpNet = all.parse().ok()?;
                let mut nets: Vec<IpNet> = zone_nets
                    .iter()
                    .filter(|n| except_zones && all.contains(*n) && n.prefix_len() > 0)
                    .copied()
                    .collect();
                nets.sort();
                nets.dedup();
                let except: Vec<String> = nets.iter().map(ToString::to_string).collect();
                Some(if except.is_empty() {
                    json!({"ipBlock": {"cidr": all.to_string()}})
                } else {
                    json!({"ipBlock": {"cidr": all.to_string(), "except": except}})
                })
            })
            .collect::<Vec<_>>()
    };
    if rule.external {
        Some(everything(true))
    } else if rule.any {
        Some(everything(false))
    } else if !rule.cidrs.is_empty() {
        let mut nets: Vec<IpNet> = rule
            .cidrs
            .iter()
            .filter_map(|c| parse_cidr(c).ok())
            .collect();
        nets.sort();
        nets.dedup();
        Some(
            nets.into_iter()
                .map(|c| json!({"ipBlock": {"cidr": c.to_string()}}))
                .collect(),
        )
    } else {
        None
    }
}

fn rule_ports(rule: &ZoneRule) -> BTreeSet<(Protocol, u16)> {
    rule.protocols
        .iter()
        .flat_map(|proto| rule.ports.iter().map(move |port| (*proto, *port)))
        .collect()
}

/// The SPIFFE principal Istio gives an identity's workloads.
pub fn principal(model: &Model, identity: &Identity) -> String {
    format!(
        "{}/ns/{}/sa/{}",
        model.spec.trust_domain,
        identity.namespace,
        identity.service_account()
    )
}

/// Compiles a validated model.
pub fn compile(model: &Model) -> Compiled {
    let mut identities: Vec<&Identity> = model.spec.identities.iter().collect();
    identities.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut objects = Vec::new();
    for identity in identities {
        let file = format!("{}/{}.yaml", identity.namespace, identity.name);
        let mut push = |value: Value| {
            objects.push(Object {
                file: file.clone(),
                value,
            })
        };
        let selector = json!({"matchLabels": identity.pod_labels()});
        if let Some(c) = &model.spec.certificates {
            push(certificate(model, identity, c));
        }
        push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(model, identity, format!("{}-default-deny", identity.name)),
            "spec": {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]},
        }));
        push(allow_policy(model, identity));
        push(json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": metadata(model, identity, format!("{}-mtls", identity.name)),
            "spec": {"selector": selector, "mtls": {"mode": "STRICT"}},
        }));
        push(authorization_policy(model, identity));
    }
    Compiled { objects }
}

/// `(protocol, port)` pairs.
type Ports = BTreeSet<(Protocol, u16)>;
/// Per peer identity (by namespace and name): the identity and its ports.
type ByPeer<'m> = BTreeMap<(String, String), (&'m Identity, Ports)>;

/// Matrix ports per peer identity, in one direction.
fn matrix_ports<'m>(model: &'m Model, identity: &Identity, inbound: bool) -> ByPeer<'m> {
    let mut by_peer = ByPeer::new();
    for m in &model.spec.matrix {
        let (me, other) = if inbound {
            (&m.to, &m.from)
        } else {
            (&m.from, &m.to)
        };
        if *me != identity.name {
            continue;
        }
        if let Some(peer) = model.identity(other) {
            by_peer
                .entry((peer.namespace.clone(), peer.name.clone()))
                .or_insert_with(|| (peer, BTreeSet::new()))
                .1
                .insert((m.protocol, m.port));
        }
    }
    by_peer
}

fn allow_policy(model: &Model, identity: &Identity) -> Value {
    let zone = model.zone(&identity.zone);
    let mut ingress = Vec::new();
    for (peer, ports) in matrix_ports(model, identity, true).into_values() {
        ingress.push(json!({"from": [pod_peer(peer)], "ports": np_ports(&ports)}));
    }
    let mut egress = Vec::new();
    for (peer, ports) in matrix_ports(model, identity, false).into_values() {
        egress.push(json!({"to": [pod_peer(peer)], "ports": np_ports(&ports)}));
    }
    if let Some(zone) = zone {
        for rule in &zone.ingress {
            if let Some(peers) = ip_peers(model, rule) {
                ingress.push(json!({"from": peers, "ports": np_ports(&rule_ports(rule))}));
            }
        }
        for rule in &zone.egress {
            if let Some(peers) = ip_peers(model, rule) {
                egress.push(json!({"to": peers, "ports": np_ports(&rule_ports(rule))}));
            }
        }
    }
    let dns = &model.spec.dns;
    egress.push(json!({
        "to": [{
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: dns.namespace}},
            "podSelector": {"matchLabels": dns.pod_labels},
        }],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }));
    let mut spec = json!({
        "podSelector": {"matchLabels": identity.pod_labels()},
        "policyTypes": ["Ingress", "Egress"],
        "egress": egress,
    });
    if !ingress.is_empty() {
        spec["ingress"] = Value::Array(ingress);
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(model, identity, format!("{}-allow", identity.name)),
        "spec": spec,
    })
}

fn authorization_policy(model: &Model, identity: &Identity) -> Value {
    let mut rules = Vec::new();
    for (peer, ports) in matrix_ports(model, identity, true).into_values() {
        let tcp: Vec<String> = ports
            .iter()
            .filter(|(proto, _)| *proto == Protocol::Tcp)
            .map(|(_, port)| port.to_string())
            .collect();
        if tcp.is_empty() {
            continue;
        }
        rules.push(json!({
            "from": [{"source": {"principals": [principal(model, peer)]}}],
            "to": [{"operation": {"ports": tcp}}],
        }));
    }
    let mut spec = json!({
        "selector": {"matchLabels": identity.pod_labels()},
        "action": "ALLOW",
    });
    // No rules at all is Istio's allow-nothing; `rules: [{}]` would allow everything.
    if !rules.is_empty() {
        spec["rules"] = Value::Array(rules);
    }
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": metadata(model, identity, format!("{}-authz", identity.name)),
        "spec": spec,
    })
}

fn certificate(model: &Model, identity: &Identity, c: &super::CertificateSettings) -> Value {
    let (svc, ns, domain) = (
        &identity.name,
        &identity.namespace,
        &model.spec.cluster_domain,
    );
    let mut subject = json!({"organizationalUnits": [identity.zone]});
    if !c.organizations.is_empty() {
        subject["organizations"] = json!(c.organizations);
    }
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata(model, identity, format!("{svc}-tls")),
        "spec": {
            "secretName": format!("{svc}-tls"),
            "duration": c.duration,
            "renewBefore": c.renew_before,
            "subject": subject,
            "dnsNames": [
                svc.to_string(),
                format!("{svc}.{ns}"),
                format!("{svc}.{ns}.svc"),
                format!("{svc}.{ns}.svc.{domain}"),
            ],
            "uris": [format!("spiffe://{}", principal(model, identity))],
            "usages": ["server auth", "client auth", "digital signature"],
            "privateKey": {
                "algorithm": "ECDSA",
                "size": 256,
                "rotationPolicy": c.rotation_policy.as_str(),
            },
            "issuerRef": {
                "name": c.issuer_ref.name,
                "kind": c.issuer_ref.kind,
                "group": c.issuer_ref.group,
            },
        },
    })
}
