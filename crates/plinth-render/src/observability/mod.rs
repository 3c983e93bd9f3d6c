//! The observability stack as Kubernetes objects: Prometheus (Prometheus Operator CRs with a
//! Thanos sidecar and optional remote write), Alertmanager, the ServiceMonitors and the Istio
//! PodMonitor, Prometheus' RBAC, Grafana with provisioned datasources and dashboards, Thanos
//! Query, Jaeger v2 and an OpenTelemetry Collector — all in one namespace (`monitoring` by
//! default), the one where [`crate::monitoring`]'s `PrometheusRule`s live.
//!
//! The seed's sketch (section 5.1) is fixed where it was wrong or unsafe:
//!
//! - credentials only by reference: the Thanos object-store configuration is a Secret *named*
//!   here (never rendered), remote write authenticates with a Secret reference, Grafana reads
//!   its admin user and password from files mounted from a Secret (`__FILE` variables);
//! - Jaeger has no operator CRD here, so it is a plain Deployment of Jaeger v2 (an
//!   OpenTelemetry Collector distribution) with in-memory storage bounded by
//!   [`TracingSettings::jaeger_max_traces`] — **production needs a real backend**
//!   (Elasticsearch/OpenSearch/Cassandra), memory storage loses every trace on restart and is
//!   not shared between replicas (hence one replica);
//! - the collector exports traces over OTLP (Jaeger v1's `jaeger` exporter no longer exists)
//!   and exposes metrics with the `prometheus` exporter, scraped by a ServiceMonitor;
//! - dashboards use metric names that exist today: kube-state-metrics v2
//!   (`kube_horizontalpodautoscaler_*`) and `istio_requests_total`;
//! - every image is pinned by tag; every workload runs as non-root with the `RuntimeDefault`
//!   seccomp profile, no capabilities, no privilege escalation, a read-only root file system
//!   and resource requests and limits (the restricted Pod Security level).
//!
//! Pure and deterministic: the same settings give the same objects in the same order.
//!
//! ```
//! use plinth_render::observability::{ObservabilitySettings, observability};
//!
//! let objects = observability(&ObservabilitySettings::default()).unwrap();
//! assert!(objects.iter().any(|o| o["kind"] == "Prometheus"));
//! assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "monitoring"
//!     || o["kind"] == "ClusterRole" || o["kind"] == "ClusterRoleBinding"));
//! ```

mod grafana;
mod prometheus;
mod tracing;

pub use grafana::{grafana_dashboards, grafana_datasources};
pub use tracing::{jaeger_config, otel_collector_config};

use grafana::*;
use prometheus::*;
use tracing::*;

use std::collections::BTreeMap;

use plinth_core::names::{is_dns_label, is_dns_subdomain};

use serde::Deserialize;
use serde_json::{Value, json};

/// What can be wrong with [`ObservabilitySettings`], or with serialising generated configuration.
#[derive(Debug, thiserror::Error)]
pub enum ObservabilityError {
    /// A setting is out of range or malformed.
    #[error("observability setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting's name, as spelled in the YAML (camelCase).
        field: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// Serialising a generated configuration file failed.
    #[error("serialising {what}: {message}")]
    Serialise {
        /// What was being serialised.
        what: &'static str,
        /// The serialiser's message.
        message: String,
    },
}

/// Container images, each pinned by tag (or digest). `:latest` and untagged images are rejected.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Images {
    /// Prometheus. Default `quay.io/prometheus/prometheus:v3.5.0`.
    pub prometheus: String,
    /// Alertmanager. Default `quay.io/prometheus/alertmanager:v0.28.1`.
    pub alertmanager: String,
    /// Thanos (sidecar and Query). Default `quay.io/thanos/thanos:v0.39.2`.
    pub thanos: String,
    /// Grafana. Default `docker.io/grafana/grafana:12.1.1`.
    pub grafana: String,
    /// Jaeger v2. Default `docker.io/jaegertracing/jaeger:2.10.0`.
    pub jaeger: String,
    /// OpenTelemetry Collector (contrib distribution, for `probabilistic_sampler`).
    /// Default `docker.io/otel/opentelemetry-collector-contrib:0.135.0`.
    pub otel_collector: String,
}

impl Default for Images {
    fn default() -> Self {
        Self {
            prometheus: "quay.io/prometheus/prometheus:v3.5.0".into(),
            alertmanager: "quay.io/prometheus/alertmanager:v0.28.1".into(),
            thanos: "quay.io/thanos/thanos:v0.39.2".into(),
            grafana: "docker.io/grafana/grafana:12.1.1".into(),
            jaeger: "docker.io/jaegertracing/jaeger:2.10.0".into(),
            otel_collector: "docker.io/otel/opentelemetry-collector-contrib:0.135.0".into(),
        }
    }
}

/// CPU and memory requests and limits of a container (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// CPU request, e.g. `500m`.
    pub cpu_request: String,
    /// Memory request, e.g. `2Gi`.
    pub memory_request: String,
    /// CPU limit.
    pub cpu_limit: String,
    /// Memory limit.
    pub memory_limit: String,
}

impl Resources {
    fn new(cpu_request: &str, memory_request: &str, cpu_limit: &str, memory_limit: &str) -> Self {
        Self {
            cpu_request: cpu_request.into(),
            memory_request: memory_request.into(),
            cpu_limit: cpu_limit.into(),
            memory_limit: memory_limit.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        })
    }
}

/// Remote write of every sample to a long-term store.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteWrite {
    /// The receiver's URL (`http(s)://…`).
    pub url: String,
    /// Secret (in the namespace) with keys `username` and `password` for basic auth, if the
    /// receiver needs it. Only the Secret's name is rendered.
    #[serde(default)]
    pub basic_auth_secret: Option<String>,
}

/// The `Prometheus` resource.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PrometheusSettings {
    /// Replicas (each a full copy; Thanos Query deduplicates). Default 2.
    pub replicas: u32,
    /// How long samples are kept locally (`30d`; Prometheus duration units). Default `30d`.
    pub retention: String,
    /// Storage class of the data volumes; the cluster default when absent. Default `fast-ssd`.
    pub storage_class: Option<String>,
    /// Size of each replica's data volume. Default `500Gi`.
    pub storage_size: String,
    /// Optional remote write.
    pub remote_write: Option<RemoteWrite>,
    /// Resources of the Prometheus container. Default 4 CPU / 8Gi requested, 8 / 16Gi limit.
    pub resources: Resources,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        Self {
            replicas: 2,
            retention: "30d".into(),
            storage_class: Some("fast-ssd".into()),
            storage_size: "500Gi".into(),
            remote_write: None,
            resources: Resources::new("4", "8Gi", "8", "16Gi"),
        }
    }
}

/// The `Alertmanager` resource.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertmanagerResourceSettings {
    /// Replicas (gossiping cluster). Default 3.
    pub replicas: u32,
    /// Secret holding `alertmanager.yaml` (rendered by the CLI from
    /// [`crate::monitoring::alertmanager_yaml`]). Default `alertmanager-main`.
    pub config_secret: String,
    /// Secrets mounted at `/etc/alertmanager/secrets/NAME/` (the `*_file` credentials of the
    /// configuration). Default `alertmanager-smtp`, `alertmanager-webhook`.
    pub secrets: Vec<String>,
    /// Size of each replica's volume (silences, notification log). Default `10Gi`.
    pub storage_size: String,
}

impl Default for AlertmanagerResourceSettings {
    fn default() -> Self {
        Self {
            replicas: 3,
            config_secret: "alertmanager-main".into(),
            secrets: vec!["alertmanager-smtp".into(), "alertmanager-webhook".into()],
            storage_size: "10Gi".into(),
        }
    }
}

/// Thanos: the sidecar's object store and the optional Query.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ThanosSettings {
    /// Secret holding the object-store configuration (bucket and credentials). Only referenced.
    /// Default `thanos-objstore-config`.
    pub objstore_secret_name: String,
    /// Key of that Secret. Default `thanos.yaml`.
    pub objstore_secret_key: String,
    /// Whether to deploy Thanos Query (Grafana then queries it). Default true.
    pub query_enabled: bool,
    /// Replicas of Thanos Query. Default 2.
    pub query_replicas: u32,
}

impl Default for ThanosSettings {
    fn default() -> Self {
        Self {
            objstore_secret_name: "thanos-objstore-config".into(),
            objstore_secret_key: "thanos.yaml".into(),
            query_enabled: true,
            query_replicas: 2,
        }
    }
}

/// Grafana.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GrafanaSettings {
    /// Replicas. Default 1 (the SQLite database is per pod; use an external database for more).
    pub replicas: u32,
    /// Secret with the admin credentials, mounted as files. Default `grafana-admin`.
    pub admin_secret_name: String,
    /// Key of the admin user name in that Secret. Default `admin-user`.
    pub admin_user_key: String,
    /// Key of the admin password in that Secret. Default `admin-password`.
    pub admin_password_key: String,
}

impl Default for GrafanaSettings {
    fn default() -> Self {
        Self {
            replicas: 1,
            admin_secret_name: "grafana-admin".into(),
            admin_user_key: "admin-user".into(),
            admin_password_key: "admin-password".into(),
        }
    }
}

/// Tracing: sampling in the collector and Jaeger's storage bound.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TracingSettings {
    /// Fraction of traces kept (0–1), applied by the collector's `probabilistic_sampler`.
    /// Default 0.1 (the seed's `sampling_rate`).
    pub sampling_ratio: f64,
    /// Traces Jaeger keeps in memory before evicting the oldest. Default 100000.
    pub jaeger_max_traces: u32,
}

impl Default for TracingSettings {
    fn default() -> Self {
        Self {
            sampling_ratio: 0.1,
            jaeger_max_traces: 100_000,
        }
    }
}

/// Everything the observability stack depends on (`camelCase` in YAML; unknown fields are errors).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ObservabilitySettings {
    /// Namespace of every namespaced object. Default `monitoring`.
    pub namespace: String,
    /// The cluster's name: the `cluster` external label and the collector's
    /// `k8s.cluster.name` resource attribute. Default `production-cluster`.
    pub cluster_name: String,
    /// More external labels of every series (besides `cluster`).
    pub external_labels: BTreeMap<String, String>,
    /// Labels of the `PrometheusRule`s that `ruleSelector` matches; must equal
    /// [`crate::monitoring::MonitoringSettings::rule_selector_labels`].
    /// Default `prometheus: enterprise`.
    pub rule_selector_labels: BTreeMap<String, String>,
    /// Labels that `serviceMonitorSelector` and `podMonitorSelector` match; every monitor
    /// rendered here carries them. Default `monitoring: enabled` (the seed's).
    pub monitor_selector_labels: BTreeMap<String, String>,
    /// Pinned images.
    pub images: Images,
    /// The `Prometheus` resource.
    pub prometheus: PrometheusSettings,
    /// The `Alertmanager` resource.
    pub alertmanager: AlertmanagerResourceSettings,
    /// Thanos.
    pub thanos: ThanosSettings,
    /// Grafana.
    pub grafana: GrafanaSettings,
    /// Tracing.
    pub tracing: TracingSettings,
}

impl Default for ObservabilitySettings {
    fn default() -> Self {
        Self {
            namespace: "monitoring".into(),
            cluster_name: "production-cluster".into(),
            external_labels: BTreeMap::new(),
            rule_selector_labels: BTreeMap::from([("prometheus".into(), "enterprise".into())]),
            monitor_selector_labels: BTreeMap::from([("monitoring".into(), "enabled".into())]),
            images: Images::default(),
            prometheus: PrometheusSettings::default(),
            alertmanager: AlertmanagerResourceSettings::default(),
            thanos: ThanosSettings::default(),
            grafana: GrafanaSettings::default(),
            tracing: TracingSettings::default(),
        }
    }
}

/// Name of the `Prometheus` and `Alertmanager` resources (StatefulSets `prometheus-main`,
/// `alertmanager-main`).
pub const STACK_NAME: &str = "main";
/// Name of Prometheus' ServiceAccount, ClusterRole and ClusterRoleBinding.
pub const PROMETHEUS_SERVICE_ACCOUNT: &str = "prometheus-main";
/// UID of the provisioned Prometheus (or Thanos Query) datasource in Grafana.
pub const PROMETHEUS_DATASOURCE_UID: &str = "prometheus";
/// UID of the provisioned Jaeger datasource in Grafana.
pub const JAEGER_DATASOURCE_UID: &str = "jaeger";

pub(super) const SA_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
pub(super) const SA_CA: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> ObservabilityError {
    ObservabilityError::InvalidSetting {
        field,
        reason: reason.into(),
    }
}

pub(super) fn check_name(field: &'static str, v: &str) -> Result<(), ObservabilityError> {
    if is_dns_subdomain(v) {
        Ok(())
    } else {
        Err(invalid(field, format!("{v:?} is not a DNS subdomain name")))
    }
}

pub(super) fn check_replicas(field: &'static str, v: u32) -> Result<(), ObservabilityError> {
    if (1..=100).contains(&v) {
        Ok(())
    } else {
        Err(invalid(field, format!("{v} is not between 1 and 100")))
    }
}

/// A Kubernetes quantity as far as these settings need: digits (optionally with a decimal
/// part) and an optional binary/decimal suffix.
pub(super) fn check_quantity(field: &'static str, v: &str) -> Result<(), ObservabilityError> {
    let number_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, suffix) = v.split_at(number_end);
    let number_ok = !number.is_empty()
        && number.bytes().any(|b| b.is_ascii_digit())
        && number.matches('.').count() <= 1;
    let suffix_ok = [
        "", "m", "k", "M", "G", "T", "P", "Ki", "Mi", "Gi", "Ti", "Pi",
    ]
    .contains(&suffix);
    if number_ok && suffix_ok {
        Ok(())
    } else {
        Err(invalid(field, format!("{v:?} is not a quantity")))
    }
}

/// Prometheus' duration as the CRD's pattern allows: units in order y w d h m s ms.
pub(super) fn check_duration(field: &'static str, v: &str) -> Result<(), ObservabilityError> {
    let err = || invalid(field, format!("{v:?} is not a duration like 30d or 1w3d"));
    if v.is_empty() {
        return Err(err());
    }
    if v == "0" {
        return Ok(());
    }
    let units = ["y", "w", "d", "h", "m", "s", "ms"];
    let mut rest = v;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let after = &rest[digits..];
        // "ms" before "m": the longest unit that matches.
        let unit = units
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, u)| after.starts_with(**u))
            .max_by_key(|(_, u)| u.len())
            .ok_or_else(err)?;
        next_unit = unit.0 + 1;
        rest = &after[unit.1.len()..];
    }
    Ok(())
}

pub(super) fn check_image(field: &'static str, v: &str) -> Result<(), ObservabilityError> {
    let last = v.rsplit('/').next().unwrap_or(v);
    let pinned = v.contains("@sha256:") || last.split_once(':').is_some_and(|(_, t)| !t.is_empty());
    let latest = last.split_once(':').is_some_and(|(_, t)| t == "latest");
    if v.is_empty() || v.contains(char::is_whitespace) || !pinned || latest {
        Err(invalid(
            field,
            format!("{v:?} is not an image pinned by tag or digest (no :latest)"),
        ))
    } else {
        Ok(())
    }
}

pub(super) fn check_label_value(field: &'static str, v: &str) -> Result<(), ObservabilityError> {
    let ok = !v.is_empty()
        && v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(invalid(field, format!("{v:?} is not a label value")))
    }
}

pub(super) fn check_labels(
    field: &'static str,
    labels: &BTreeMap<String, String>,
    allow_empty: bool,
) -> Result<(), ObservabilityError> {
    if labels.is_empty() && !allow_empty {
        return Err(invalid(field, "empty: the selector would match everything"));
    }
    for (k, v) in labels {
        let name = k.rsplit('/').next().unwrap_or(k);
        if name.is_empty() || name.len() > 63 || k.contains(char::is_whitespace) {
            return Err(invalid(field, format!("{k:?} is not a label key")));
        }
        check_label_value(field, v)?;
    }
    Ok(())
}

impl ObservabilitySettings {
    /// Checks every setting; [`observability`] calls this first.
    pub fn validate(&self) -> Result<(), ObservabilityError> {
        if !is_dns_label(&self.namespace) {
            return Err(invalid(
                "namespace",
                format!("{:?} is not a DNS label", self.namespace),
            ));
        }
        check_label_value("clusterName", &self.cluster_name)?;
        check_labels("externalLabels", &self.external_labels, true)?;
        for k in self.external_labels.keys() {
            let ok = k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !k.starts_with(|c: char| c.is_ascii_digit());
            if !ok || k == "cluster" || k.starts_with("__") {
                return Err(invalid(
                    "externalLabels",
                    format!("{k:?} is not a Prometheus label name other than `cluster`"),
                ));
            }
        }
        check_labels("ruleSelectorLabels", &self.rule_selector_labels, false)?;
        check_labels(
            "monitorSelectorLabels",
            &self.monitor_selector_labels,
            false,
        )?;
        let i = &self.images;
        for (field, v) in [
            ("images.prometheus", &i.prometheus),
            ("images.alertmanager", &i.alertmanager),
            ("images.thanos", &i.thanos),
            ("images.grafana", &i.grafana),
            ("images.jaeger", &i.jaeger),
            ("images.otelCollector", &i.otel_collector),
        ] {
            check_image(field, v)?;
        }
        let p = &self.prometheus;
        check_replicas("prometheus.replicas", p.replicas)?;
        check_duration("prometheus.retention", &p.retention)?;
        if let Some(c) = &p.storage_class {
            check_name("prometheus.storageClass", c)?;
        }
        check_quantity("prometheus.storageSize", &p.storage_size)?;
        for (field, v) in [
            ("prometheus.resources.cpuRequest", &p.resources.cpu_request),
            (
                "prometheus.resources.memoryRequest",
                &p.resources.memory_request,
            ),
            ("prometheus.resources.cpuLimit", &p.resources.cpu_limit),
            (
                "prometheus.resources.memoryLimit",
                &p.resources.memory_limit,
            ),
        ] {
            check_quantity(field, v)?;
        }
        if let Some(rw) = &p.remote_write {
            let ok = (rw.url.starts_with("https://") || rw.url.starts_with("http://"))
                && rw.url.len() > "https://".len()
                && !rw.url.contains(char::is_whitespace)
                && !rw.url.contains('@');
            if !ok {
                return Err(invalid(
                    "prometheus.remoteWrite.url",
                    format!(
                        "{:?} is not an http(s) URL without user information",
                        rw.url
                    ),
                ));
            }
            if let Some(s) = &rw.basic_auth_secret {
                check_name("prometheus.remoteWrite.basicAuthSecret", s)?;
            }
        }
        let a = &self.alertmanager;
        check_replicas("alertmanager.replicas", a.replicas)?;
        check_name("alertmanager.configSecret", &a.config_secret)?;
        for s in &a.secrets {
            check_name("alertmanager.secrets", s)?;
        }
        check_quantity("alertmanager.storageSize", &a.storage_size)?;
        let t = &self.thanos;
        check_name("thanos.objstoreSecretName", &t.objstore_secret_name)?;
        check_secret_key("thanos.objstoreSecretKey", &t.objstore_secret_key)?;
        check_replicas("thanos.queryReplicas", t.query_replicas)?;
        let g = &self.grafana;
        check_replicas("grafana.replicas", g.replicas)?;
        check_name("grafana.adminSecretName", &g.admin_secret_name)?;
        check_secret_key("grafana.adminUserKey", &g.admin_user_key)?;
        check_secret_key("grafana.adminPasswordKey", &g.admin_password_key)?;
        if g.admin_user_key == g.admin_password_key {
            return Err(invalid(
                "grafana.adminPasswordKey",
                "must differ from adminUserKey",
            ));
        }
        let r = self.tracing.sampling_ratio;
        if !(r.is_finite() && r > 0.0 && r <= 1.0) {
            return Err(invalid(
                "tracing.samplingRatio",
                format!("{r} is not a fraction in (0, 1]"),
            ));
        }
        if self.tracing.jaeger_max_traces == 0 {
            return Err(invalid("tracing.jaegerMaxTraces", "must be at least 1"));
        }
        Ok(())
    }
}

pub(super) fn check_secret_key(field: &'static str, v: &str) -> Result<(), ObservabilityError> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(invalid(field, format!("{v:?} is not a Secret key")))
    }
}

/// The observability stack's objects for `settings`, in a stable order: RBAC, Prometheus,
/// Alertmanager, monitors, Thanos Query (if enabled), Grafana, Jaeger, the collector.
pub fn observability(settings: &ObservabilitySettings) -> Result<Vec<Value>, ObservabilityError> {
    settings.validate()?;
    let s = settings;
    let mut out = Vec::new();
    out.extend(prometheus_rbac(s));
    out.push(prometheus(s));
    out.push(service_account(s, "alertmanager-main"));
    out.push(alertmanager(s));
    out.extend(monitors(s));
    if s.thanos.query_enabled {
        out.extend(thanos_query(s));
    }
    out.extend(grafana(s)?);
    out.extend(jaeger(s)?);
    out.extend(otel_collector(s)?);
    Ok(out)
}

pub(super) fn labels(name: &str, component: &str) -> Value {
    json!({"app.kubernetes.io/name": name, "app.kubernetes.io/component": component})
}

pub(super) fn meta(s: &ObservabilitySettings, name: &str, component: &str) -> Value {
    json!({"name": name, "namespace": s.namespace, "labels": labels(name, component)})
}

pub(super) fn service_account(s: &ObservabilitySettings, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": meta(s, name, "observability"),
        "automountServiceAccountToken": false})
}

pub(super) fn prometheus_rbac(s: &ObservabilitySettings) -> Vec<Value> {
    let name = PROMETHEUS_SERVICE_ACCOUNT;
    vec![
        // Prometheus reads the API server's /metrics and the kubelets' with its token.
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": meta(s, name, "prometheus"),
            "automountServiceAccountToken": true}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels(name, "prometheus")},
        "rules": [
            {"apiGroups": [""], "resources": ["nodes", "nodes/metrics", "services", "endpoints", "pods"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
            {"nonResourceURLs": ["/metrics", "/metrics/cadvisor"], "verbs": ["get"]},
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": labels(name, "prometheus")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": s.namespace}]}),
    ]
}

/// The tag of a pinned image (`v3.5.0` of `quay.io/prometheus/prometheus:v3.5.0`).
pub(super) fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split_once(':').map(|(_, t)| t)
}

pub(super) fn pod_security_context(uid: u32) -> Value {
    json!({"runAsNonRoot": true, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"}})
}

pub(super) fn container_security_context() -> Value {
    json!({"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
        "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}})
}

pub(super) fn volume_claim(storage_class: Option<&String>, size: &str) -> Value {
    let mut spec = json!({"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}}});
    if let Some(c) = storage_class {
        spec["storageClassName"] = json!(c);
    }
    json!({"volumeClaimTemplate": {"spec": spec}})
}

pub(super) struct Workload<'a> {
    name: &'a str,
    component: &'a str,
    replicas: u32,
    uid: u32,
    container: Value,
    volumes: Value,
}

pub(super) fn deployment(s: &ObservabilitySettings, w: Workload<'_>) -> Value {
    let mut container = w.container;
    container["securityContext"] = container_security_context();
    container["imagePullPolicy"] = json!("IfNotPresent");
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": meta(s, w.name, w.component),
    "spec": {
        "replicas": w.replicas,
        "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
        "template": {
            "metadata": {"labels": labels(w.name, w.component)},
            "spec": {
                "serviceAccountName": w.name,
                "automountServiceAccountToken": false,
                "securityContext": pod_security_context(w.uid),
                "containers": [container],
                "volumes": w.volumes,
            },
        },
    }})
}

pub(super) fn service(
    s: &ObservabilitySettings,
    name: &str,
    component: &str,
    ports: Value,
) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": meta(s, name, component),
        "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": ports}})
}

pub(super) fn http_probe(path: &str, port: &str) -> Value {
    json!({"httpGet": {"path": path, "port": port}, "periodSeconds": 10, "timeoutSeconds": 5,
        "failureThreshold": 3})
}

pub(super) fn to_yaml(what: &'static str, v: &Value) -> Result<String, ObservabilityError> {
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(v, options).map_err(|e| ObservabilityError::Serialise {
        what,
        message: e.to_string(),
    })
}

pub(super) fn to_json(what: &'static str, v: &Value) -> Result<String, ObservabilityError> {
    serde_json::to_string_pretty(v).map_err(|e| ObservabilityError::Serialise {
        what,
        message: e.to_string(),
    })
}

pub(super) fn config_map(
    s: &ObservabilitySettings,
    name: &str,
    component: &str,
    data: BTreeMap<&str, String>,
) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(s, name, component),
        "data": data})
}

pub(super) fn prometheus_url(s: &ObservabilitySettings) -> String {
    if s.thanos.query_enabled {
        format!("http://thanos-query.{}.svc:10902", s.namespace)
    } else {
        format!("http://prometheus-operated.{}.svc:9090", s.namespace)
    }
}

pub(super) fn jaeger_query_url(s: &ObservabilitySettings) -> String {
    format!("http://jaeger.{}.svc:16686", s.namespace)
}
