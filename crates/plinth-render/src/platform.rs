//! The platform description (`kind: Platform`, `plinth.io/v1alpha1`): the enterprise
//! choices `plinth render` turns into a GitOps tree.

use std::collections::BTreeMap;

use plinth_core::manifest::{Document, ManifestError};
use plinth_core::names::is_dns_label;
use serde::{Deserialize, Serialize};

/// `apiVersion` of platform documents.
pub const API_VERSION: &str = "plinth.io/v1alpha1";
/// `kind` of platform documents.
pub const KIND: &str = "Platform";

/// A platform document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformDocument {
    /// `plinth.io/v1alpha1`.
    pub api_version: String,
    /// `Platform`.
    pub kind: String,
    /// Its name (labels every rendered object).
    pub metadata: Metadata,
    /// The choices.
    pub spec: PlatformSpec,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The platform's name.
    pub name: String,
}

/// The enterprise choices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformSpec {
    /// Workload namespaces.
    pub namespaces: Vec<NamespaceSpec>,
    /// Render the seed's five PriorityClasses. Default true.
    #[serde(default = "yes")]
    pub priority_classes: bool,
    /// PodDisruptionBudgets.
    #[serde(default)]
    pub disruption_budgets: Vec<DisruptionBudget>,
    /// HorizontalPodAutoscalers.
    #[serde(default)]
    pub autoscalers: Vec<Autoscaler>,
    /// VerticalPodAutoscalers.
    #[serde(default)]
    pub vertical_autoscalers: Vec<VerticalAutoscaler>,
    /// Access for groups of people.
    #[serde(default)]
    pub access: Vec<Access>,
    /// Registries images may come from (the AllowedImageRegistries constraint).
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// API server audit policy.
    #[serde(default)]
    pub audit: Audit,
    /// Encryption of Secrets at rest.
    #[serde(default)]
    pub encryption: Encryption,
    /// A zero-trust model file, relative to the platform file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_trust_model: Option<String>,
    /// Alert rules and Alertmanager routing.
    #[serde(default)]
    pub monitoring: crate::monitoring::MonitoringSettings,
    /// The observability stack (Prometheus with Thanos, Alertmanager, Grafana, Jaeger,
    /// the OpenTelemetry Collector, monitors).
    #[serde(default)]
    pub observability: crate::observability::ObservabilitySettings,
    /// The cluster autoscaler and its node pools (default: the seed's five pools).
    #[serde(default)]
    pub cluster_autoscaler: crate::operations::AutoscalerSettings,
    /// Falco runtime-security rules.
    #[serde(default)]
    pub falco: crate::operations::FalcoSettings,
    /// trivy-operator settings.
    #[serde(default)]
    pub trivy: crate::operations::TrivySettings,
}

fn yes() -> bool {
    true
}

/// Pod Security level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No restrictions.
    Privileged,
    /// Known privilege escalations prevented.
    Baseline,
    /// Hardened.
    Restricted,
}

impl Level {
    /// As the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// A workload namespace.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSpec {
    /// Name.
    pub name: String,
    /// Pod Security `enforce` level (`audit` and `warn` are always `restricted`, so
    /// what would fail the strict level is visible). Default restricted.
    #[serde(default = "restricted")]
    pub pod_security: Level,
    /// Compliance frameworks, as `compliance.plinth.io/<framework>: "true"` labels.
    #[serde(default)]
    pub compliance: Vec<String>,
    /// Other labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// A ResourceQuota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Container defaults and bounds (a LimitRange).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

fn restricted() -> Level {
    Level::Restricted
}

/// A ResourceQuota, optionally scoped to PriorityClasses.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    /// `spec.hard` (quantities as strings, as Kubernetes writes them).
    pub hard: BTreeMap<String, String>,
    /// Count only pods of these PriorityClasses.
    #[serde(default)]
    pub priority_classes: Vec<String>,
}

/// A LimitRange for containers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Default requests.
    #[serde(default)]
    pub default_request: BTreeMap<String, String>,
    /// Default limits.
    #[serde(default)]
    pub default_limit: BTreeMap<String, String>,
    /// Largest allowed.
    #[serde(default)]
    pub max: BTreeMap<String, String>,
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisruptionBudget {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Pods it protects.
    pub selector: BTreeMap<String, String>,
    /// `minAvailable` (a count or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<String>,
    /// `maxUnavailable` (a count or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<String>,
}

/// A HorizontalPodAutoscaler (`autoscaling/v2`) with the seed's behaviour policies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Autoscaler {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The Deployment it scales.
    pub deployment: String,
    /// Minimum replicas.
    pub min_replicas: i32,
    /// Maximum replicas.
    pub max_replicas: i32,
    /// Target average CPU utilisation (percent of requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_utilization: Option<i32>,
    /// Target average memory utilisation (percent of requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_utilization: Option<i32>,
}

/// A VerticalPodAutoscaler.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerticalAutoscaler {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The Deployment it sizes.
    pub deployment: String,
    /// `Off`, `Initial`, `Recreate` or `InPlaceOrRecreate`.
    #[serde(default = "vpa_mode")]
    pub update_mode: String,
    /// Smallest recommendation.
    #[serde(default)]
    pub min_allowed: BTreeMap<String, String>,
    /// Largest recommendation.
    #[serde(default)]
    pub max_allowed: BTreeMap<String, String>,
}

fn vpa_mode() -> String {
    "Recreate".to_owned()
}

/// Access for a group of people.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Access {
    /// The group (as the authenticator names it).
    pub group: String,
    /// `view`, `edit` or `admin` (Kubernetes' aggregated roles), or `platform-operator`.
    pub role: String,
    /// Namespaces (none: cluster-wide, only for `view` and `platform-operator`).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

/// The API server audit policy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audit {
    /// Namespaces whose requests are logged with bodies (`RequestResponse`).
    #[serde(default)]
    pub sensitive_namespaces: Vec<String>,
}

/// Encryption at rest.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Encryption {
    /// A KMS v2 plugin; without one, a local AES-GCM key is generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<Kms>,
    /// Resources to encrypt. Default `secrets`.
    #[serde(default = "secrets")]
    pub resources: Vec<String>,
}

impl Default for Encryption {
    fn default() -> Encryption {
        Encryption {
            kms: None,
            resources: secrets(),
        }
    }
}

fn secrets() -> Vec<String> {
    vec!["secrets".to_owned()]
}

/// A KMS v2 provider.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kms {
    /// Provider name.
    pub name: String,
    /// The plugin's socket, `unix:///...`.
    pub endpoint: String,
}

/// A validated platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    /// Its name.
    pub name: String,
    /// The choices.
    pub spec: PlatformSpec,
}

/// Reads the one Platform document of `docs`, every problem with `file:line`.
pub fn from_documents(docs: &[Document]) -> Result<Option<Platform>, Vec<ManifestError>> {
    let Some(doc) = docs.iter().find(|d| d.kind() == Some(KIND)) else {
        return Ok(None);
    };
    let parsed: PlatformDocument = doc.parse().map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut err = |path: &[&str], msg: String| errors.push(doc.error_at(path, msg));
    if parsed.api_version != API_VERSION {
        err(&["apiVersion"], format!("a Platform is {API_VERSION}"));
    }
    if !is_dns_label(&parsed.metadata.name) {
        err(&["metadata", "name"], "must be a DNS label".into());
    }
    let spec = &parsed.spec;
    let mut names = BTreeMap::new();
    for (i, ns) in spec.namespaces.iter().enumerate() {
        let at = i.to_string();
        if !is_dns_label(&ns.name) {
            err(
                &["spec", "namespaces", &at, "name"],
                format!("{:?} is not a namespace name", ns.name),
            );
        }
        if let Some(first) = names.insert(ns.name.as_str(), i) {
            err(
                &["spec", "namespaces", &at, "name"],
                format!("defined twice (first namespaces[{first}])"),
            );
        }
        for (fi, f) in ns.compliance.iter().enumerate() {
            if !is_dns_label(&f.to_ascii_lowercase()) {
                err(
                    &["spec", "namespaces", &at, "compliance", &fi.to_string()],
                    format!("{f:?} is not a framework name"),
                );
            }
        }
        if let Some(q) = &ns.quota
            && q.hard.is_empty()
        {
            err(
                &["spec", "namespaces", &at, "quota", "hard"],
                "must set at least one limit".into(),
            );
        }
    }
    for (i, b) in spec.disruption_budgets.iter().enumerate() {
        if b.min_available.is_some() == b.max_unavailable.is_some() {
            err(
                &["spec", "disruptionBudgets", &i.to_string()],
                "set exactly one of minAvailable and maxUnavailable".into(),
            );
        }
        if b.selector.is_empty() {
            err(
                &["spec", "disruptionBudgets", &i.to_string(), "selector"],
                "must select pods".into(),
            );
        }
    }
    for (i, a) in spec.autoscalers.iter().enumerate() {
        if a.min_replicas < 1 || a.max_replicas < a.min_replicas {
            err(
                &["spec", "autoscalers", &i.to_string()],
                "need 1 <= minReplicas <= maxReplicas".into(),
            );
        }
        if a.cpu_utilization.is_none() && a.memory_utilization.is_none() {
            err(
                &["spec", "autoscalers", &i.to_string()],
                "set cpuUtilization or memoryUtilization".into(),
            );
        }
    }
    for (i, a) in spec.access.iter().enumerate() {
        let at = i.to_string();
        if !matches!(
            a.role.as_str(),
            "view" | "edit" | "admin" | "platform-operator"
        ) {
            err(
                &["spec", "access", &at, "role"],
                format!("{:?} is not view, edit, admin or platform-operator", a.role),
            );
        }
        if a.namespaces.is_empty() && matches!(a.role.as_str(), "edit" | "admin") {
            err(
                &["spec", "access", &at, "namespaces"],
                format!("{} must be limited to namespaces", a.role),
            );
        }
    }
    if let Err(e) = spec.monitoring.validate() {
        err(&["spec", "monitoring"], e.to_string());
    }
    if let Err(e) = spec.observability.validate() {
        err(&["spec", "observability"], e.to_string());
    }
    if spec.monitoring.rule_selector_labels != spec.observability.rule_selector_labels {
        err(
            &["spec", "monitoring", "ruleSelectorLabels"],
            "must equal spec.observability.ruleSelectorLabels, or Prometheus would not load the rules".into(),
        );
    }
    if spec.monitoring.namespace != spec.observability.namespace {
        err(
            &["spec", "monitoring", "namespace"],
            "must equal spec.observability.namespace (Prometheus reads rules from its own namespace)".into(),
        );
    }
    if let Some(k) = &spec.encryption.kms
        && !k.endpoint.starts_with("unix://")
    {
        err(
            &["spec", "encryption", "kms", "endpoint"],
            "must be a unix:// socket".into(),
        );
    }
    if errors.is_empty() {
        Ok(Some(Platform {
            name: parsed.metadata.name,
            spec: parsed.spec,
        }))
    } else {
        Err(errors)
    }
}
