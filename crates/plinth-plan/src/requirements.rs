//! The `Requirements` document (`plinth.io/v1alpha1`): what the platform must deliver.
//! Unknown fields, unknown workloads or frameworks and out-of-range values are refused
//! with the file and line of the offending value.

use plinth_core::manifest::{Document, ManifestError};
use serde::{Deserialize, Serialize};

use crate::{PlanError, single};

/// `kind` of requirements documents.
pub const KIND: &str = "Requirements";

/// A kind of workload the platform must run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Web front ends.
    WebApplication,
    /// Stateless services.
    Microservice,
    /// Batch jobs (interruptible).
    BatchJob,
    /// Model training (GPU).
    MlTraining,
    /// Model serving (GPU).
    MlInference,
    /// Databases (memory-heavy, stateful).
    Database,
    /// In-memory caches.
    Cache,
    /// Message brokers.
    MessageQueue,
}

/// A compliance framework the platform must be audited against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ComplianceFramework {
    /// AICPA SOC 2.
    #[serde(rename = "SOC2")]
    Soc2,
    /// PCI DSS (card data).
    #[serde(rename = "PCI-DSS")]
    PciDss,
    /// HIPAA (US health data).
    #[serde(rename = "HIPAA")]
    Hipaa,
    /// ISO/IEC 27001.
    #[serde(rename = "ISO27001")]
    Iso27001,
    /// EU GDPR.
    #[serde(rename = "GDPR")]
    Gdpr,
    /// Sarbanes-Oxley.
    #[serde(rename = "SOX")]
    Sox,
}

impl Workload {
    /// The name as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::WebApplication => "web-application",
            Workload::Microservice => "microservice",
            Workload::BatchJob => "batch-job",
            Workload::MlTraining => "ml-training",
            Workload::MlInference => "ml-inference",
            Workload::Database => "database",
            Workload::Cache => "cache",
            Workload::MessageQueue => "message-queue",
        }
    }
}

impl ComplianceFramework {
    /// The name as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceFramework::Soc2 => "SOC2",
            ComplianceFramework::PciDss => "PCI-DSS",
            ComplianceFramework::Hipaa => "HIPAA",
            ComplianceFramework::Iso27001 => "ISO27001",
            ComplianceFramework::Gdpr => "GDPR",
            ComplianceFramework::Sox => "SOX",
        }
    }
}

/// The `spec` of a `Requirements` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirements {
    /// Availability target as a fraction, `0 < a < 1` (0.9999 is "four nines").
    pub availability: f64,
    /// Recovery point objective: data loss tolerated, in minutes.
    pub rpo_minutes: i64,
    /// Recovery time objective: downtime tolerated, in minutes.
    pub rto_minutes: i64,
    /// Most nodes one workload cluster may grow to.
    pub max_nodes: i64,
    /// Most pods one cluster must hold.
    #[serde(default)]
    pub max_pods_per_cluster: Option<i64>,
    /// Expected yearly growth as a fraction (0.5 is 50% a year).
    #[serde(default)]
    pub expected_growth_rate: f64,
    /// Frameworks to comply with.
    #[serde(default)]
    pub compliance_frameworks: Vec<ComplianceFramework>,
    /// Workloads must be isolated from each other on the network.
    #[serde(default)]
    pub network_isolation: bool,
    /// Data at rest must be encrypted.
    #[serde(default)]
    pub encryption_at_rest: bool,
    /// Traffic must be encrypted in transit.
    #[serde(default)]
    pub encryption_in_transit: bool,
    /// Slowest acceptable pod start, in seconds.
    #[serde(default)]
    pub max_pod_startup_seconds: Option<i64>,
    /// Slowest acceptable service discovery, in milliseconds.
    #[serde(default)]
    pub max_service_discovery_latency_ms: Option<i64>,
    /// Target average resource utilisation as a fraction.
    #[serde(default)]
    pub resource_efficiency_target: Option<f64>,
    /// Run in more than one region.
    #[serde(default)]
    pub multi_region: bool,
    /// Regions to run in, primary first (default: the price sheet's region).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Failover and restore are automated.
    #[serde(default)]
    pub disaster_recovery_automation: bool,
    /// Upgrades must not interrupt service.
    #[serde(default)]
    pub zero_downtime_updates: bool,
    /// Node pools scale with demand.
    #[serde(default)]
    pub automated_scaling: bool,
    /// Workloads the platform must run.
    #[serde(default)]
    pub workloads: Vec<Workload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequirementsDocument {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<serde_json::Value>,
    spec: Requirements,
}

impl Requirements {
    /// Whether `w` is declared.
    pub fn has(&self, w: Workload) -> bool {
        self.workloads.contains(&w)
    }

    /// Whether any ML workload is declared.
    pub fn has_ml(&self) -> bool {
        self.has(Workload::MlTraining) || self.has(Workload::MlInference)
    }

    /// Out-of-range values as (path under `spec`, message).
    fn problems(&self) -> Vec<(Vec<String>, String)> {
        let mut p = Vec::new();
        let mut bad = |field: &str, msg: String| p.push((vec![field.to_owned()], msg));
        if !(self.availability > 0.0 && self.availability < 1.0) {
            bad(
                "availability",
                format!(
                    "{} is not a fraction strictly between 0 and 1 (write 0.9999 for 99.99%)",
                    self.availability
                ),
            );
        }
        if self.rpo_minutes < 0 {
            bad(
                "rpoMinutes",
                format!("{} minutes is negative", self.rpo_minutes),
            );
        }
        if self.rto_minutes < 0 {
            bad(
                "rtoMinutes",
                format!("{} minutes is negative", self.rto_minutes),
            );
        }
        if self.max_nodes < 1 {
            bad("maxNodes", format!("{} must be at least 1", self.max_nodes));
        }
        if let Some(n) = self.max_pods_per_cluster
            && n < 1
        {
            bad("maxPodsPerCluster", format!("{n} must be at least 1"));
        }
        if !(self.expected_growth_rate >= 0.0 && self.expected_growth_rate.is_finite()) {
            bad(
                "expectedGrowthRate",
                format!(
                    "{} must be a fraction of at least 0 (0.5 is 50% a year)",
                    self.expected_growth_rate
                ),
            );
        }
        if let Some(s) = self.max_pod_startup_seconds
            && s < 1
        {
            bad("maxPodStartupSeconds", format!("{s} must be at least 1"));
        }
        if let Some(ms) = self.max_service_discovery_latency_ms
            && ms < 1
        {
            bad(
                "maxServiceDiscoveryLatencyMs",
                format!("{ms} must be at least 1"),
            );
        }
        if let Some(t) = self.resource_efficiency_target
            && !(t > 0.0 && t <= 1.0)
        {
            bad(
                "resourceEfficiencyTarget",
                format!("{t} is not a fraction in (0, 1]"),
            );
        }
        if self.multi_region && self.regions.len() < 2 {
            bad(
                "regions",
                format!(
                    "multiRegion needs at least 2 regions, {} given",
                    self.regions.len()
                ),
            );
        }
        for (i, r) in self.regions.iter().enumerate() {
            if r.is_empty()
                || !r
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                p.push((
                    vec!["regions".to_owned(), i.to_string()],
                    format!("{r:?} is not a region name such as us-east-1"),
                ));
            } else if self.regions[..i].contains(r) {
                p.push((
                    vec!["regions".to_owned(), i.to_string()],
                    format!("region {r:?} is listed twice"),
                ));
            }
        }
        for (i, w) in self.workloads.iter().enumerate() {
            if self.workloads[..i].contains(w) {
                p.push((
                    vec!["workloads".to_owned(), i.to_string()],
                    format!("workload {} is listed twice", w.as_str()),
                ));
            }
        }
        for (i, f) in self.compliance_frameworks.iter().enumerate() {
            if self.compliance_frameworks[..i].contains(f) {
                p.push((
                    vec!["complianceFrameworks".to_owned(), i.to_string()],
                    format!("framework {} is listed twice", f.as_str()),
                ));
            }
        }
        p
    }
}

/// Reads and validates one requirements document.
pub fn from_document(doc: &Document) -> Result<Requirements, PlanError> {
    let parsed: RequirementsDocument = doc.parse().map_err(|e| PlanError::Invalid(vec![e]))?;
    let req = parsed.spec;
    let mut errors: Vec<ManifestError> = req
        .problems()
        .into_iter()
        .map(|(path, msg)| {
            let mut full = vec!["spec".to_owned()];
            full.extend(path);
            doc.error_at(&full, msg)
        })
        .collect();
    if errors.is_empty()
        && let Err(msg) = crate::rules::check_capacity(&req)
    {
        errors.push(doc.error_at(&["spec", "maxNodes"], msg));
    }
    if errors.is_empty() {
        Ok(req)
    } else {
        Err(PlanError::Invalid(errors))
    }
}

/// Finds the one `Requirements` document in `docs` (read from `file`) and validates it.
pub fn from_documents(docs: &[Document], file: &str) -> Result<Requirements, PlanError> {
    from_document(single(docs, KIND, file)?)
}
