//! Zero-trust intent: network zones with CIDRs, trust levels and zone rules; service
//! identities; the service-to-service communication matrix.
//!
//! One Rust type serves as the model file's format and as the `ZeroTrustModel` custom
//! resource (`plinth.dev/v1alpha1`, cluster-scoped) the controller watches: the CRD is
//! generated from these types ([`ZeroTrustModel::crd`](kube_core::CustomResourceExt::crd)), so
//! the two can never disagree.
//!
//! - [`validate`]: every semantic check, each problem with the field path it is about.
//! - [`decide`]: the seed's three layers (trust, zone rules of both zones, matrix) with
//!   reasons.
//! - [`compile`]: the NetworkPolicies, Istio policies and cert-manager Certificates that
//!   enforce the intent.
//! - [`load`]: model files into validated models, errors with `file:line`.
//! - [`drift`]: what the cluster's NetworkPolicies allow against what intent allows.
//! - [`posture`]: coverage computed from the real objects.

pub mod compile;
pub mod decide;
pub mod drift;
pub mod duration;
pub mod load;
pub mod posture;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::Protocol;

/// The API group of plinth's own resources.
pub const GROUP: &str = "plinth.dev";

/// How far a party is trusted, in increasing order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TrustLevel {
    /// Anything from outside; never reaches trusted or privileged parties.
    Untrusted,
    /// Internal but exposed.
    Limited,
    /// Holds or serves sensitive data.
    Trusted,
    /// Administers the platform.
    Privileged,
}

impl TrustLevel {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustLevel::Untrusted => "untrusted",
            TrustLevel::Limited => "limited",
            TrustLevel::Trusted => "trusted",
            TrustLevel::Privileged => "privileged",
        }
    }
}

impl fmt::Display for TrustLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The zero-trust intent of a platform.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "plinth.dev",
    version = "v1alpha1",
    kind = "ZeroTrustModel",
    plural = "zerotrustmodels",
    shortname = "ztm",
    status = "ZeroTrustModelStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Objects","type":"integer","jsonPath":".status.objects"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZeroTrustModelSpec {
    /// The mesh's trust domain, the first part of SPIFFE principals
    /// (`TRUST_DOMAIN/ns/NS/sa/SA`). Default `cluster.local`.
    #[serde(default = "default_trust_domain")]
    pub trust_domain: String,
    /// The cluster's DNS domain, for certificate DNS names. Default `cluster.local`.
    #[serde(default = "default_cluster_domain")]
    pub cluster_domain: String,
    /// Where the cluster DNS runs; every identity may reach it on UDP and TCP 53.
    #[serde(default)]
    pub dns: Dns,
    /// How identities' certificates are issued; no Certificates are compiled without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<CertificateSettings>,
    /// The network zones.
    pub zones: Vec<Zone>,
    /// The service identities.
    pub identities: Vec<Identity>,
    /// Which service may open connections to which, on what port.
    #[serde(default)]
    pub matrix: Vec<MatrixEntry>,
}

fn default_trust_domain() -> String {
    "cluster.local".to_owned()
}

fn default_cluster_domain() -> String {
    "cluster.local".to_owned()
}

/// The cluster DNS.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dns {
    /// Its namespace. Default `kube-system`.
    pub namespace: String,
    /// Labels of its pods. Default `k8s-app: kube-dns`.
    pub pod_labels: BTreeMap<String, String>,
}

impl Default for Dns {
    fn default() -> Dns {
        Dns {
            namespace: "kube-system".to_owned(),
            pod_labels: BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())]),
        }
    }
}

/// cert-manager settings for identity certificates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSettings {
    /// The issuer.
    pub issuer_ref: IssuerRef,
    /// Validity, a Go duration. Default `2160h` (90 days).
    #[serde(default = "default_duration")]
    pub duration: String,
    /// Renew this long before expiry, a Go duration. Default `720h`.
    #[serde(default = "default_renew_before")]
    pub renew_before: String,
    /// `subject.organizations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
    /// `privateKey.rotationPolicy`. Default `Always` (a new key at every renewal).
    #[serde(default)]
    pub rotation_policy: RotationPolicy,
}

fn default_duration() -> String {
    "2160h".to_owned()
}

fn default_renew_before() -> String {
    "720h".to_owned()
}

/// cert-manager's `issuerRef`, always with explicit kind and group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerRef {
    /// Issuer name.
    pub name: String,
    /// `Issuer` or `ClusterIssuer` (or an external issuer's kind).
    pub kind: String,
    /// `cert-manager.io` or an external issuer's group.
    pub group: String,
}

/// `privateKey.rotationPolicy`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum RotationPolicy {
    /// A new private key at every issuance.
    #[default]
    Always,
    /// Keep the key.
    Never,
}

impl RotationPolicy {
    /// As cert-manager spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationPolicy::Always => "Always",
            RotationPolicy::Never => "Never",
        }
    }
}

/// A network zone.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Zone {
    /// Name (a DNS label).
    pub name: String,
    /// The address ranges of the zone; no two zones' ranges overlap.
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// The trust level of the zone (and the default of its identities).
    pub trust_level: TrustLevel,
    /// What may enter the zone.
    #[serde(default)]
    pub ingress: Vec<ZoneRule>,
    /// What may leave the zone.
    #[serde(default)]
    pub egress: Vec<ZoneRule>,
}

/// A zone-level rule: one kind of peer, ports and protocols.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoneRule {
    /// Peer: another (or the same) zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Peer: any address outside every zone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// Peer: these address ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<String>,
    /// Peer: anything.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any: bool,
    /// How far the addresses of `cidrs` are trusted (only with `cidrs`). Default
    /// `untrusted`, like every address outside the zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_level: Option<TrustLevel>,
    /// Ports (at least one).
    #[serde(deserialize_with = "de_ports")]
    pub ports: Vec<u16>,
    /// Protocols. Default `[TCP]`.
    #[serde(default = "default_protocols")]
    pub protocols: Vec<Protocol>,
}

/// A port number, refused with a message people understand (not "expected u16").
fn de_port<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = i64::deserialize(d)?;
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a port (1-65535)")))
}

fn de_ports<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    Vec::<i64>::deserialize(d)?
        .into_iter()
        .map(|n| {
            u16::try_from(n)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a port (1-65535)")))
        })
        .collect()
}

fn default_protocols() -> Vec<Protocol> {
    vec![Protocol::Tcp]
}

/// A service identity: the pods with these labels in this namespace, running as this
/// service account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    /// The service's name (a DNS label); names the compiled objects.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Service account. Default: the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// The labels that select the service's pods. Default `app: NAME`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The zone it runs in.
    pub zone: String,
    /// Its trust level. Default: the zone's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_level: Option<TrustLevel>,
}

impl Identity {
    /// The service account, defaulted.
    pub fn service_account(&self) -> &str {
        self.service_account.as_deref().unwrap_or(&self.name)
    }

    /// The pod labels, defaulted.
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        if self.labels.is_empty() {
            BTreeMap::from([("app".to_owned(), self.name.clone())])
        } else {
            self.labels.clone()
        }
    }

    /// `NAMESPACE/NAME`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One allowed service-to-service connection.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatrixEntry {
    /// Source identity name.
    pub from: String,
    /// Destination identity name.
    pub to: String,
    /// Destination port.
    #[serde(deserialize_with = "de_port")]
    pub port: u16,
    /// Protocol. Default TCP.
    #[serde(default)]
    pub protocol: Protocol,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// What the controller reports on a model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZeroTrustModelStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many objects the model compiles to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<i64>,
    /// `Ready` (and why not).
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// A status condition, as `metav1.Condition`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// The generation it was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A validated model: the spec plus lookups.
#[derive(Debug, Clone)]
pub struct Model {
    /// The model's name (`metadata.name`).
    pub name: String,
    /// The spec, as written.
    pub spec: ZeroTrustModelSpec,
    zones: BTreeMap<String, usize>,
    identities: BTreeMap<String, usize>,
}

impl Model {
    /// Validates `spec`; every problem with its field path.
    pub fn new(
        name: impl Into<String>,
        spec: ZeroTrustModelSpec,
    ) -> Result<Model, Vec<validate::Problem>> {
        let problems = validate::validate(&spec);
        if !problems.is_empty() {
            return Err(problems);
        }
        let zones = spec
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.name.clone(), i))
            .collect();
        let identities = spec
            .identities
            .iter()
            .enumerate()
            .map(|(i, z)| (z.name.clone(), i))
            .collect();
        Ok(Model {
            name: name.into(),
            spec,
            zones,
            identities,
        })
    }

    /// The zone named `name`.
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.get(name).map(|&i| &self.spec.zones[i])
    }

    /// The identity named `name`, or the one whose `NAMESPACE/NAME` or
    /// `NAMESPACE/SERVICE_ACCOUNT` is `name`.
    pub fn identity(&self, name: &str) -> Option<&Identity> {
        if let Some(&i) = self.identities.get(name) {
            return Some(&self.spec.identities[i]);
        }
        let (ns, rest) = name.split_once('/')?;
        self.spec
            .identities
            .iter()
            .find(|i| i.namespace == ns && i.name == rest)
            .or_else(|| {
                self.spec
                    .identities
                    .iter()
                    .find(|i| i.namespace == ns && i.service_account() == rest)
            })
    }

    /// The trust level of an identity (its own, or its zone's).
    pub fn trust_of(&self, identity: &Identity) -> TrustLevel {
        identity.trust_level.unwrap_or_else(|| {
            self.zone(&identity.zone)
                .map_or(TrustLevel::Untrusted, |z| z.trust_level)
        })
    }

    /// The identities whose pod labels and namespace match a pod's.
    pub fn identities_of_pod<'a>(
        &'a self,
        namespace: &'a str,
        labels: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Identity> + 'a {
        self.spec.identities.iter().filter(move |i| {
            i.namespace == namespace
                && i.pod_labels()
                    .iter()
                    .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
        })
    }
}
