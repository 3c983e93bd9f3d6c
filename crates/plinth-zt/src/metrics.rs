//! The zero-trust controller's Prometheus metrics (prefix `plinth_zt_`). Labels are
//! bounded (results and reasons) — never model or object names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `result` label of reconciliations.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `success` or `error` (retried).
    pub result: &'static str,
}

/// `reason` label of the models' `Ready` condition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `Reconciled`, `InvalidModel`, `APIUnavailable` or `ApplyFailed`.
    pub reason: &'static str,
}

/// Every `Ready` reason the controller sets.
pub const REASONS: &[&str] = &[
    "Reconciled",
    "InvalidModel",
    "APIUnavailable",
    "ApplyFailed",
];

/// All metrics.
#[derive(Debug)]
pub struct Metrics {
    /// Reconciliations by result.
    pub reconciles: Family<ResultLabel, Counter>,
    /// Duration of one reconciliation.
    pub reconcile_duration: Histogram,
    /// Outcomes written to models' status, by reason (a model that stays unready keeps
    /// adding to its reason on every resync).
    pub outcomes: Family<ReasonLabel, Counter>,
    /// Objects applied by the last reconciliation of each model, summed.
    pub applied_objects: Gauge,
}

impl Metrics {
    /// Creates the metrics and registers them under `plinth_zt_`.
    pub fn new(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            reconciles: Family::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            outcomes: Family::default(),
            applied_objects: Gauge::default(),
        };
        // Every label value exists from the start, so rates and alerts see 0 instead of
        // an absent series.
        for result in ["success", "error"] {
            drop(m.reconciles.get_or_create(&ResultLabel { result }));
        }
        for reason in REASONS {
            drop(m.outcomes.get_or_create(&ReasonLabel { reason }));
        }
        let r = registry.sub_registry_with_prefix("plinth_zt");
        r.register(
            "reconciles",
            "Reconciliations of ZeroTrustModels, by result",
            m.reconciles.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Duration of one reconciliation",
            m.reconcile_duration.clone(),
        );
        r.register(
            "model_outcomes",
            "Ready reasons written to ZeroTrustModel status, by reason",
            m.outcomes.clone(),
        );
        r.register(
            "applied_objects",
            "Objects applied by the latest reconciliation",
            m.applied_objects.clone(),
        );
        m
    }

    /// The counter of `reason`, when it is one of [`REASONS`].
    pub fn outcome(&self, reason: &str) {
        if let Some(r) = REASONS.iter().find(|r| **r == reason) {
            self.outcomes
                .get_or_create(&ReasonLabel { reason: r })
                .inc();
        }
    }
}
