//! The monitoring stack's alerting: Prometheus alert rules (as Prometheus Operator
//! `PrometheusRule` objects and as a plain rule file for `promtool`) and the Alertmanager
//! configuration that routes them.
//!
//! The rules cover the seed's platform (section 5.1) with the metric names that exist today:
//! kube-state-metrics v2 (`kube_horizontalpodautoscaler_*`, no `kube_hpa_*`), Istio's
//! `istio_requests_total` (not `istio_request_total`), no `OutOfDisk` node condition (it was
//! removed from Kubernetes), kubelet volume statistics, the API server's request metrics and
//! cert-manager's expiry timestamp — and plinth's own components (scheduler, guard webhook,
//! zero-trust controller). Every alert carries a `severity` label (`critical`,
//! `warning` or `info`) and the annotations `summary`, `description` and `runbook_url`; the
//! runbook is the Prometheus Operator's where one exists for that alert, plinth's otherwise.
//!
//! The Alertmanager configuration routes by severity and namespace, inhibits a warning when
//! the same alert is critical in the same namespace, and refers to secrets only through
//! `*_file` fields (files mounted from Kubernetes Secrets): no credential ever appears in the
//! rendered text.
//!
//! Everything here is pure and deterministic: the same settings give byte-identical output.
//!
//! ```
//! use plinth_render::monitoring::{MonitoringSettings, alert_names, prometheus_rules};
//!
//! let settings = MonitoringSettings::default();
//! let rules = prometheus_rules(&settings).unwrap();
//! assert!(rules.iter().all(|r| r["kind"] == "PrometheusRule"));
//! assert!(alert_names(&settings).unwrap().contains(&"KubeNodeNotReady".to_string()));
//! ```

mod alertmanager;
mod components;
mod rules;

pub use alertmanager::{alertmanager_config, alertmanager_yaml, receivers};
pub use rules::{alert_names, prometheus_rules, rule_file_yaml, rule_groups};

use std::collections::BTreeMap;

use plinth_core::names::is_dns_label;

use serde_json::{Map, Value, json};

/// What can be wrong with [`MonitoringSettings`], or with turning the output into YAML.
#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    /// A setting is out of range or malformed.
    #[error("monitoring setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting's name, as spelled in [`MonitoringSettings`].
        field: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// Serialising the output as YAML failed.
    #[error("serialising {what} as YAML: {message}")]
    Yaml {
        /// What was being serialised.
        what: &'static str,
        /// The serialiser's message.
        message: String,
    },
}

/// Thresholds of the alert rules.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Thresholds {
    /// `KubePersistentVolumeFillingUp` (warning) when the free fraction of a volume is below
    /// this and the volume is predicted to fill within four days. Default 0.15.
    pub pvc_free_warning_ratio: f64,
    /// `KubePersistentVolumeFillingUp` (critical) when the free fraction is below this.
    /// Default 0.03.
    pub pvc_free_critical_ratio: f64,
    /// `KubeAPIServerErrorsHigh` when the fraction of API requests answered with 5xx exceeds
    /// this. Default 0.05.
    pub apiserver_error_ratio: f64,
    /// `KubeAPIServerLatencyHigh` when the p99 latency of a verb exceeds this many seconds.
    /// Default 1.
    pub apiserver_p99_latency_seconds: f64,
    /// `IstioHigh5xxRate` when the fraction of a service's requests answered with 5xx exceeds
    /// this. Default 0.05.
    pub istio_5xx_ratio: f64,
    /// `IstioHighRequestLatency` when a service's p99 latency exceeds this many milliseconds.
    /// Default 1000.
    pub istio_p99_latency_ms: f64,
    /// `CertManagerCertExpirySoon` (warning) when a certificate expires within this many
    /// days. Default 21.
    pub certificate_warning_days: u32,
    /// `CertManagerCertExpirySoon` (critical) when a certificate expires within this many
    /// days. Default 7.
    pub certificate_critical_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            pvc_free_warning_ratio: 0.15,
            pvc_free_critical_ratio: 0.03,
            apiserver_error_ratio: 0.05,
            apiserver_p99_latency_seconds: 1.0,
            istio_5xx_ratio: 0.05,
            istio_p99_latency_ms: 1000.0,
            certificate_warning_days: 21,
            certificate_critical_days: 7,
        }
    }
}

/// Where Alertmanager sends notifications. Secrets are paths of mounted files, never values.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertmanagerSettings {
    /// URL of the webhook receiver (e.g. an in-cluster incident bridge). Not a secret.
    pub webhook_url: String,
    /// File holding the webhook's bearer token, if it needs one.
    pub webhook_credentials_file: Option<String>,
    /// SMTP server as `host:port`.
    pub smtp_smarthost: String,
    /// Sender address of notification mails.
    pub smtp_from: String,
    /// SMTP user name.
    pub smtp_auth_username: String,
    /// File holding the SMTP password.
    pub smtp_auth_password_file: String,
    /// Address paged for critical alerts of the platform's own namespaces (and of alerts
    /// without a namespace: nodes, API server).
    pub platform_email_to: String,
    /// Address paged for critical alerts of every other namespace.
    pub workload_email_to: String,
    /// Namespaces operated by the platform team.
    pub platform_namespaces: Vec<String>,
}

impl Default for AlertmanagerSettings {
    fn default() -> Self {
        Self {
            webhook_url: "http://alert-webhook.monitoring.svc:8080/alerts".to_string(),
            webhook_credentials_file: Some(
                "/etc/alertmanager/secrets/alertmanager-webhook/token".to_string(),
            ),
            smtp_smarthost: "smtp.example.com:587".to_string(),
            smtp_from: "alertmanager@example.com".to_string(),
            smtp_auth_username: "alertmanager".to_string(),
            smtp_auth_password_file: "/etc/alertmanager/secrets/alertmanager-smtp/password"
                .to_string(),
            platform_email_to: "platform-oncall@example.com".to_string(),
            workload_email_to: "app-oncall@example.com".to_string(),
            platform_namespaces: [
                "cert-manager",
                "gatekeeper-system",
                "istio-system",
                "kube-system",
                "monitoring",
                "plinth-system",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Everything the monitoring rules and the Alertmanager configuration depend on.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MonitoringSettings {
    /// Namespace of the `PrometheusRule` objects. Default `monitoring`.
    pub namespace: String,
    /// Labels the Prometheus resource's `ruleSelector` matches. Default
    /// `prometheus: enterprise` (the seed's selector).
    pub rule_selector_labels: BTreeMap<String, String>,
    /// Base of the Prometheus Operator runbooks, used for alerts that have one.
    pub upstream_runbook_base_url: String,
    /// Base of plinth's runbooks: `{base}/{alertname in lower case}`.
    pub runbook_base_url: String,
    /// Alert thresholds.
    pub thresholds: Thresholds,
    /// Alertmanager receivers and routing.
    pub alertmanager: AlertmanagerSettings,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        Self {
            namespace: "monitoring".to_string(),
            rule_selector_labels: BTreeMap::from([(
                "prometheus".to_string(),
                "enterprise".to_string(),
            )]),
            upstream_runbook_base_url: "https://runbooks.prometheus-operator.dev/runbooks"
                .to_string(),
            runbook_base_url: "https://plinth-dev.github.io/plinth/runbooks".to_string(),
            thresholds: Thresholds::default(),
            alertmanager: AlertmanagerSettings::default(),
        }
    }
}

/// Severity of an alert: the `severity` label Alertmanager routes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Pages someone now.
    Critical,
    /// Needs attention during working hours.
    Warning,
    /// Context only; never notifies.
    Info,
}

impl Severity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// Where an alert's runbook lives.
#[derive(Debug, Clone, Copy)]
enum Runbook {
    /// The Prometheus Operator's runbook at `{upstream base}/{path}`.
    Upstream(&'static str),
    /// plinth's runbook at `{plinth base}/{alertname in lower case}`.
    Plinth,
}

/// One alerting rule before rendering.
struct Alert {
    name: &'static str,
    expr: String,
    for_: &'static str,
    severity: Severity,
    summary: String,
    description: String,
    runbook: Runbook,
}

/// A rule group before rendering.
struct Group {
    /// Short name; the group is `plinth.{name}` and the PrometheusRule `plinth-{name}`.
    name: &'static str,
    alerts: Vec<Alert>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MonitoringError {
    MonitoringError::InvalidSetting {
        field,
        reason: reason.into(),
    }
}

fn check_ratio(field: &'static str, v: f64) -> Result<(), MonitoringError> {
    if v.is_finite() && v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{v} is not a fraction between 0 and 1"),
        ))
    }
}

fn check_positive(field: &'static str, v: f64) -> Result<(), MonitoringError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(field, format!("{v} is not a positive number")))
    }
}

fn check_url(field: &'static str, v: &str) -> Result<(), MonitoringError> {
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && !v.contains(char::is_whitespace)
        && v.len() > "https://".len();
    if ok {
        Ok(())
    } else {
        Err(invalid(field, format!("{v:?} is not an http(s) URL")))
    }
}

fn check_label_value(field: &'static str, v: &str) -> Result<(), MonitoringError> {
    if v.is_empty() || v.contains(['"', '\\', '\n']) {
        Err(invalid(
            field,
            format!("{v:?} is empty or contains a quote, backslash or newline"),
        ))
    } else {
        Ok(())
    }
}

fn check_absolute_path(field: &'static str, v: &str) -> Result<(), MonitoringError> {
    if v.starts_with('/') && !v.contains('\n') {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{v:?} is not an absolute path of a mounted secret file"),
        ))
    }
}

impl MonitoringSettings {
    /// Checks every setting; the render functions call this first.
    pub fn validate(&self) -> Result<(), MonitoringError> {
        if !is_dns_label(&self.namespace) {
            return Err(invalid(
                "namespace",
                format!("{:?} is not a DNS label", self.namespace),
            ));
        }
        if self.rule_selector_labels.is_empty() {
            return Err(invalid(
                "rule_selector_labels",
                "empty: Prometheus' ruleSelector would not pick the rules",
            ));
        }
        for (k, v) in &self.rule_selector_labels {
            if k.is_empty() || v.len() > 63 || k.contains(char::is_whitespace) {
                return Err(invalid(
                    "rule_selector_labels",
                    format!("{k:?}: {v:?} is not a valid label"),
                ));
            }
        }
        check_url("upstream_runbook_base_url", &self.upstream_runbook_base_url)?;
        check_url("runbook_base_url", &self.runbook_base_url)?;
        let t = &self.thresholds;
        check_ratio(
            "thresholds.pvc_free_warning_ratio",
            t.pvc_free_warning_ratio,
        )?;
        check_ratio(
            "thresholds.pvc_free_critical_ratio",
            t.pvc_free_critical_ratio,
        )?;
        if t.pvc_free_critical_ratio >= t.pvc_free_warning_ratio {
            return Err(invalid(
                "thresholds.pvc_free_critical_ratio",
                "must be below pvc_free_warning_ratio",
            ));
        }
        check_ratio("thresholds.apiserver_error_ratio", t.apiserver_error_ratio)?;
        check_positive(
            "thresholds.apiserver_p99_latency_seconds",
            t.apiserver_p99_latency_seconds,
        )?;
        check_ratio("thresholds.istio_5xx_ratio", t.istio_5xx_ratio)?;
        check_positive("thresholds.istio_p99_latency_ms", t.istio_p99_latency_ms)?;
        if t.certificate_critical_days == 0
            || t.certificate_critical_days >= t.certificate_warning_days
        {
            return Err(invalid(
                "thresholds.certificate_critical_days",
                "must be at least 1 and below certificate_warning_days",
            ));
        }
        let a = &self.alertmanager;
        check_url("alertmanager.webhook_url", &a.webhook_url)?;
        if let Some(f) = &a.webhook_credentials_file {
            check_absolute_path("alertmanager.webhook_credentials_file", f)?;
        }
        if !a.smtp_smarthost.contains(':') || a.smtp_smarthost.contains(char::is_whitespace) {
            return Err(invalid(
                "alertmanager.smtp_smarthost",
                format!("{:?} is not host:port", a.smtp_smarthost),
            ));
        }
        for (field, v) in [
            ("alertmanager.smtp_from", &a.smtp_from),
            ("alertmanager.platform_email_to", &a.platform_email_to),
            ("alertmanager.workload_email_to", &a.workload_email_to),
        ] {
            if !v.contains('@') || v.contains(char::is_whitespace) {
                return Err(invalid(field, format!("{v:?} is not an e-mail address")));
            }
        }
        check_label_value("alertmanager.smtp_auth_username", &a.smtp_auth_username)?;
        check_absolute_path(
            "alertmanager.smtp_auth_password_file",
            &a.smtp_auth_password_file,
        )?;
        if a.platform_namespaces.is_empty() {
            return Err(invalid("alertmanager.platform_namespaces", "empty"));
        }
        for ns in &a.platform_namespaces {
            if !is_dns_label(ns) {
                return Err(invalid(
                    "alertmanager.platform_namespaces",
                    format!("{ns:?} is not a DNS label"),
                ));
            }
        }
        Ok(())
    }
}

/// `v` as YAML (`what` names it in errors).
pub(super) fn to_yaml(what: &'static str, v: &Value) -> Result<String, MonitoringError> {
    // Plain (not folded) scalars: PromQL and templates stay on one greppable line.
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(v, options).map_err(|e| MonitoringError::Yaml {
        what,
        message: e.to_string(),
    })
}
