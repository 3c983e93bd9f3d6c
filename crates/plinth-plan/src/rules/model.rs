//! The plan's shape: what `plinth plan` outputs (camelCase JSON keys).

use std::collections::BTreeMap;

use serde::Serialize;

/// The architecture recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Clusters and where they run.
    pub topology: Topology,
    /// Node pools of each cluster of the pool's role.
    pub node_pools: Vec<NodePool>,
    /// Network choices.
    pub networking: Networking,
    /// Storage choices.
    pub storage: Storage,
    /// Security controls.
    pub security: Security,
    /// Metrics, logs, traces.
    pub monitoring: Monitoring,
    /// Backup schedule and retention.
    pub backup: Backup,
    /// Monthly and annual cost from the price sheet.
    pub cost: Cost,
    /// Implementation phases, in order.
    pub timeline: Vec<Phase>,
    /// Sum of the phases' weeks.
    pub total_weeks: u32,
    /// Risks and their mitigations.
    pub risks: Vec<Risk>,
}

/// Shape of the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopologyType {
    /// Workload clusters in two or more regions plus a management cluster.
    MultiRegionHa,
    /// One workload cluster across three zones.
    SingleRegionHa,
    /// One cluster across two zones.
    Basic,
}

/// What a cluster is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterRole {
    /// Runs the workloads.
    Workload,
    /// Runs cluster lifecycle management (Cluster API, GitOps) for the others.
    Management,
}

/// Clusters and the reason for their shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Topology {
    /// The shape.
    #[serde(rename = "type")]
    pub kind: TopologyType,
    /// Why this shape.
    pub reason: String,
    /// The clusters.
    pub clusters: Vec<Cluster>,
}

/// One cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// Suggested name.
    pub name: String,
    /// What it is for.
    pub role: ClusterRole,
    /// Region.
    pub region: String,
    /// Availability zones.
    pub zones: Vec<String>,
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
    /// Effect (`NoSchedule`, ...).
    pub effect: String,
}

/// One node pool, present in every cluster of `clusterRole`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePool {
    /// Name.
    pub name: String,
    /// What runs there.
    pub purpose: String,
    /// Which clusters have this pool.
    pub cluster_role: ClusterRole,
    /// Instance type.
    pub instance_type: String,
    /// Fewest nodes (per cluster).
    pub min_nodes: u32,
    /// Most nodes (per cluster).
    pub max_nodes: u32,
    /// Spot capacity.
    pub spot: bool,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<Taint>,
}

/// Service mesh choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMesh {
    /// Whether a mesh is recommended.
    pub required: bool,
    /// Which one.
    #[serde(rename = "type")]
    pub kind: String,
    /// Mutual TLS between workloads.
    pub mtls: bool,
    /// Why.
    pub reason: String,
}

/// Network choices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Networking {
    /// CNI plugin.
    pub cni: String,
    /// NetworkPolicies enforced, default deny.
    pub network_policies: bool,
    /// Service mesh.
    pub service_mesh: ServiceMesh,
    /// Ingress implementation.
    pub ingress: String,
    /// Web application firewall in front of the ingress.
    pub waf: bool,
    /// NAT gateways per cluster (one per zone).
    pub nat_gateways_per_cluster: u32,
}

/// A StorageClass.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageClass {
    /// Name.
    pub name: String,
    /// CSI provisioner.
    pub provisioner: String,
    /// EBS volume type.
    pub volume_type: String,
    /// Encrypted at rest.
    pub encrypted: bool,
    /// `Retain` or `Delete`.
    pub reclaim_policy: String,
}

/// Storage choices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    /// StorageClasses.
    pub storage_classes: Vec<StorageClass>,
    /// CSI drivers.
    pub csi_drivers: Vec<String>,
    /// Root volume per node, GB.
    pub node_root_volume_gb: u32,
    /// Volume snapshots.
    pub snapshot_controller: bool,
}

/// Security controls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Security {
    /// Pod Security Standards level enforced on workload namespaces.
    pub pod_security_standard: String,
    /// Admission plugins and webhooks.
    pub admission: Vec<String>,
    /// API server audit level.
    pub audit_log_level: String,
    /// How Secrets are encrypted in etcd.
    pub secrets_encryption: String,
    /// Runtime threat detection.
    pub runtime_security: Vec<String>,
    /// Image vulnerability scanning.
    pub image_scanning: String,
    /// Frameworks the controls are mapped to.
    pub compliance_frameworks: Vec<String>,
}

/// Prometheus sizing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Replicas.
    pub replicas: u32,
    /// Local retention.
    pub retention: String,
    /// Volume per replica, GB.
    pub storage_gb: u32,
    /// Global view across clusters (Thanos).
    pub federation: bool,
}

/// Log store sizing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Logging {
    /// Replicas.
    pub replicas: u32,
    /// Searchable retention.
    pub retention: String,
    /// Volume per replica, GB.
    pub storage_gb: u32,
    /// Retention of archived audit logs (object storage).
    pub audit_archive_retention: String,
}

/// Tracing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracing {
    /// Enabled.
    pub enabled: bool,
    /// Head sampling rate.
    pub sampling_rate: f64,
}

/// Observability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// Metrics.
    pub metrics: Metrics,
    /// Logs.
    pub logging: Logging,
    /// Traces.
    pub tracing: Tracing,
    /// Alert receivers.
    pub alert_receivers: Vec<String>,
}

/// Backup policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// Tool.
    pub tool: String,
    /// Interval between backups (never longer than the RPO).
    pub frequency: String,
    /// The interval as a cron schedule.
    pub schedule: String,
    /// How long backups are kept (`"365d"`).
    pub retention: String,
    /// Which rule set the retention.
    pub retention_reason: String,
    /// Copies kept in a second region.
    pub cross_region: bool,
    /// That region.
    pub target_region: Option<String>,
    /// Automated failover and restore.
    pub automated_restore: bool,
    /// RTO target.
    pub rto_target: String,
}

/// Monthly cost by category.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Monthly {
    /// Nodes and control planes.
    pub compute: f64,
    /// Node root volumes.
    pub storage: f64,
    /// NAT gateways.
    pub networking: f64,
    /// Metrics and log volumes.
    pub monitoring: f64,
    /// KMS keys.
    pub security: f64,
    /// Sum of the above.
    pub total: f64,
}

/// How one pool's compute cost was computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolCost {
    /// Pool name.
    pub pool: String,
    /// Instance type.
    pub instance_type: String,
    /// Price per node-hour applied (after any spot discount).
    pub hourly: f64,
    /// Expected nodes per cluster.
    pub expected_nodes: f64,
    /// Clusters with this pool.
    pub clusters: u32,
    /// hourly × expected nodes × clusters × hours per month.
    pub monthly: f64,
}

/// Cost estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// Currency of all figures.
    pub currency: String,
    /// Date of the price sheet.
    pub price_date: String,
    /// Region of the price sheet.
    pub price_region: String,
    /// Monthly cost by category.
    pub monthly: Monthly,
    /// Twelve months at the monthly total.
    pub annual: f64,
    /// Compute cost per pool.
    pub pools: Vec<PoolCost>,
    /// Every assumption and every cost left out.
    pub assumptions: Vec<String>,
}

/// One implementation phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    /// Name.
    pub phase: String,
    /// Duration in weeks.
    pub weeks: u32,
}

/// Severity or likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// One risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// What may go wrong.
    pub risk: String,
    /// How bad.
    pub impact: Level,
    /// How likely.
    pub probability: Level,
    /// What to do about it.
    pub mitigation: String,
}
