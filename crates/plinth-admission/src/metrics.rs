//! The webhook's Prometheus metrics. Every label is bounded: resources outside a fixed
//! list are reported as `other`, policies are the loaded constraints plus `PodSecurity`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a decided request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The resource (`pods`, `deployments`, ..., or `other`).
    pub resource: &'static str,
    /// `allowed`, `warned`, `denied` or `error`.
    pub decision: &'static str,
}

/// Labels of a denial.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabel {
    /// `PodSecurity` or `Kind/name` of a constraint.
    pub policy: String,
}

/// Labels of a rejected (undecidable) request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabel {
    /// `bad_request`, `too_large` or `deadline`.
    pub reason: &'static str,
}

/// Labels of a certificate reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `error`.
    pub result: &'static str,
}

/// All metrics of the webhook.
pub struct Metrics {
    /// Time from receiving a body to having the answer, by resource and decision.
    pub request_duration: Family<RequestLabels, Histogram>,
    /// Denials by policy.
    pub denials: Family<PolicyLabel, Counter>,
    /// Requests answered with HTTP 400/413 or a deadline error.
    pub rejected: Family<RejectLabel, Counter>,
    /// Certificate reloads.
    pub certificate_reloads: Family<ResultLabel, Counter>,
    /// Loaded constraints.
    pub constraints: Gauge,
    /// Loaded templates.
    pub templates: Gauge,
}

const RESOURCES: &[&str] = &[
    "pods",
    "namespaces",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "replicationcontrollers",
    "jobs",
    "cronjobs",
    "podtemplates",
    "services",
    "ingresses",
    "configmaps",
    "secrets",
];

/// The bounded label value for `resource`.
pub fn resource_label(resource: &str) -> &'static str {
    RESOURCES
        .iter()
        .find(|r| **r == resource)
        .copied()
        .unwrap_or("other")
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            // 25 µs .. ~3.3 s.
            request_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(25e-6, 2.0, 18))
            }),
            denials: Family::default(),
            rejected: Family::default(),
            certificate_reloads: Family::default(),
            constraints: Gauge::default(),
            templates: Gauge::default(),
        };
        // The bounded label values exist from the start, so rates and alerts see 0
        // instead of an absent series.
        for reason in ["bad_request", "too_large", "deadline"] {
            drop(m.rejected.get_or_create(&RejectLabel { reason }));
        }
        for result in ["ok", "error"] {
            drop(m.certificate_reloads.get_or_create(&ResultLabel { result }));
        }
        let r = registry.sub_registry_with_prefix("plinth_guard");
        r.register(
            "request_duration_seconds",
            "Time to decide an admission request, by resource and decision",
            m.request_duration.clone(),
        );
        r.register(
            "denials",
            "Denied admission requests, by policy",
            m.denials.clone(),
        );
        r.register(
            "rejected_requests",
            "Requests that could not be decided (malformed, too large, past the deadline)",
            m.rejected.clone(),
        );
        r.register(
            "certificate_reloads",
            "Reloads of the serving certificate from disk",
            m.certificate_reloads.clone(),
        );
        r.register("constraints", "Constraints loaded", m.constraints.clone());
        r.register(
            "templates",
            "ConstraintTemplates loaded",
            m.templates.clone(),
        );
        m
    }
}
