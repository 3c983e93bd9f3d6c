//! The `ManagedCluster` document (`plinth.io/v1alpha1`): the seed's `ClusterSpec` in
//! Kubernetes style. Types only; [`crate::load`] reads and validates them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A cluster the fleet manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedCluster {
    /// `plinth.io/v1alpha1`.
    pub api_version: String,
    /// `ManagedCluster`.
    pub kind: String,
    /// Name (and optional labels) of the cluster.
    pub metadata: Metadata,
    /// What the cluster is.
    pub spec: ClusterSpec,
}

/// The parts of `metadata` a cluster uses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The cluster's name: an RFC 1123 label, the prefix of every object's name.
    #[serde(default)]
    pub name: String,
    /// Labels copied onto the Cluster object.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The cluster's specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// What the cluster is for; decides bastion and TLS hardening.
    pub tier: Tier,
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// `vMAJOR.MINOR.PATCH`, e.g. `v1.28.5`.
    pub kubernetes_version: String,
    /// The control plane's machines.
    pub control_plane: ControlPlane,
    /// Worker pools, one MachineDeployment each.
    #[serde(default)]
    pub node_pools: Vec<NodePool>,
    /// Address ranges and zones.
    pub networking: Networking,
    /// Machine images pinned per Kubernetes version (`v1.29.4: ami-0abc...`): the
    /// machines of a version boot that AMI; a version without an entry uses the AWS
    /// provider's image lookup for it. `fleet upgrade` switches the machine templates
    /// to the target version's image together with the version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub machine_images: BTreeMap<String, String>,
    /// Add-ons by name (see [`crate::addons::KNOWN`]).
    #[serde(default)]
    pub addons: Vec<String>,
    /// Backup intent (kept with the spec; not rendered into Cluster API objects).
    #[serde(default)]
    pub backup: Backup,
    /// Monitoring intent (kept with the spec; not rendered into Cluster API objects).
    #[serde(default)]
    pub monitoring: Monitoring,
    /// API server and kubelet hardening.
    #[serde(default)]
    pub security: Security,
}

/// The seed's cluster tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Development: no bastion, no TLS hardening by default.
    Development,
    /// Staging: bastion and TLS hardening, as production.
    Staging,
    /// Production: bastion and TLS hardening.
    Production,
    /// Disaster recovery standby.
    DisasterRecovery,
}

impl Tier {
    /// The tier's name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Development => "development",
            Tier::Staging => "staging",
            Tier::Production => "production",
            Tier::DisasterRecovery => "disaster-recovery",
        }
    }

    /// Production and staging get a bastion host and a TLS floor (the seed's rule).
    pub fn hardened(self) -> bool {
        matches!(self, Tier::Production | Tier::Staging)
    }
}

/// The control plane's machines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlane {
    /// Odd (etcd quorum); 3 by default.
    #[serde(default = "default_cp_replicas")]
    pub replicas: u32,
    /// EC2 instance type; `c5.xlarge` by default.
    #[serde(default = "default_cp_instance")]
    pub instance_type: String,
    /// Root volume in GiB (at least 8); 120 by default.
    #[serde(default = "default_cp_volume")]
    pub root_volume_size: u32,
}

fn default_cp_replicas() -> u32 {
    3
}
fn default_cp_instance() -> String {
    "c5.xlarge".to_owned()
}
fn default_cp_volume() -> u32 {
    120
}

/// One worker pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePool {
    /// Unique within the cluster; an RFC 1123 label.
    pub name: String,
    /// EC2 instance type.
    pub machine_type: String,
    /// Lower autoscaling bound and initial replica count.
    #[serde(default)]
    pub min_nodes: u32,
    /// Upper autoscaling bound.
    pub max_nodes: u32,
    /// Root volume in GiB (at least 8); 80 by default.
    #[serde(default = "default_pool_volume")]
    pub root_volume_size: u32,
    /// Spot instances.
    #[serde(default)]
    pub spot: bool,
    /// Highest hourly price in USD (a decimal string such as `"1.50"`); only with `spot`;
    /// without it AWS caps at the on-demand price.
    #[serde(default)]
    pub spot_max_price: Option<String>,
    /// Dedicated tenancy.
    #[serde(default)]
    pub dedicated: bool,
    /// Node labels set by the kubelet at registration.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Node taints set at registration.
    #[serde(default)]
    pub taints: Vec<Taint>,
}

fn default_pool_volume() -> u32 {
    80
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value (may be empty).
    #[serde(default)]
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// A taint's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    /// `NoSchedule`.
    NoSchedule,
    /// `PreferNoSchedule`.
    PreferNoSchedule,
    /// `NoExecute`.
    NoExecute,
}

impl TaintEffect {
    /// The effect as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// Address ranges and zones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Networking {
    /// The VPC (IPv4, /16 to /24).
    pub vpc_cidr: String,
    /// Pod addresses; must not overlap the VPC or the services.
    pub pod_cidr: String,
    /// Service addresses; must not overlap the VPC or the pods.
    pub service_cidr: String,
    /// Zones for subnets (one private and one public each); default: the region's
    /// `a`, `b` and `c` zones.
    #[serde(default)]
    pub availability_zones: Vec<String>,
}

/// Backup intent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backup {
    /// Whether backups are wanted.
    #[serde(default)]
    pub enabled: bool,
    /// `hourly`, `daily` or `weekly`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// How long backups are kept: a number of days or hours (`30d`, `12h`).
    #[serde(default)]
    pub retention: Option<String>,
}

/// Monitoring intent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Monitoring {
    /// Prometheus.
    #[serde(default)]
    pub prometheus: bool,
    /// Grafana.
    #[serde(default)]
    pub grafana: bool,
    /// Jaeger tracing.
    #[serde(default)]
    pub jaeger: bool,
}

/// API server and kubelet hardening. Anonymous kubelet auth and the kubelet read-only
/// port are always off; there is no switch for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Security {
    /// API server audit log and policy (default on).
    #[serde(default = "yes")]
    pub audit_logging: bool,
    /// Secrets encrypted at rest with an EncryptionConfiguration read from a Secret of
    /// the management cluster (default on).
    #[serde(default = "yes")]
    pub encryption_at_rest: bool,
    /// The Secret (in the objects' namespace) holding the EncryptionConfiguration under
    /// the key `encryption-config.yaml`; default `NAME-encryption-config`. plinth never
    /// writes key material into rendered objects.
    #[serde(default)]
    pub encryption_config_secret: Option<String>,
    /// The API server's TLS floor; default `VersionTLS12` for production and staging,
    /// the server's default otherwise.
    #[serde(default)]
    pub tls_min_version: Option<TlsVersion>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            audit_logging: true,
            encryption_at_rest: true,
            encryption_config_secret: None,
            tls_min_version: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// A TLS protocol floor, as the API server's `--tls-min-version` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2.
    VersionTLS12,
    /// TLS 1.3.
    VersionTLS13,
}

impl TlsVersion {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::VersionTLS12 => "VersionTLS12",
            TlsVersion::VersionTLS13 => "VersionTLS13",
        }
    }
}

impl ManagedCluster {
    /// The zones subnets go into: the spec's, or the region's `a`, `b`, `c`.
    pub fn availability_zones(&self) -> Vec<String> {
        if self.spec.networking.availability_zones.is_empty() {
            ["a", "b", "c"]
                .iter()
                .map(|z| format!("{}{z}", self.spec.region))
                .collect()
        } else {
            self.spec.networking.availability_zones.clone()
        }
    }

    /// The API server's TLS floor, if any.
    pub fn tls_min_version(&self) -> Option<TlsVersion> {
        self.spec
            .security
            .tls_min_version
            .or(if self.spec.tier.hardened() {
                Some(TlsVersion::VersionTLS12)
            } else {
                None
            })
    }

    /// The Secret holding the EncryptionConfiguration.
    pub fn encryption_secret(&self) -> String {
        self.spec
            .security
            .encryption_config_secret
            .clone()
            .unwrap_or_else(|| format!("{}-encryption-config", self.metadata.name))
    }
}
