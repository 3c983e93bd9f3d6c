//! Alerts on plinth's own components: the enterprise scheduler (`plinth_scheduler_*`),
//! the guard webhook (`plinth_guard_*`) and the zero-trust controller (`plinth_zt_*`).
//! The metric names are those the components register; a test in the `plinth` crate
//! checks every name used here against their real registries.

use super::*;

/// Scheduling attempts slower than this at p99 (seconds) mean the engine or its cache is
/// in trouble: a healthy attempt takes microseconds.
const SCHEDULER_ATTEMPT_P99_SECONDS: f64 = 0.1;
/// Admission p99 above this (seconds) eats into every API write; the API server's own
/// webhook timeout is far above it, so this warns long before requests fail.
const GUARD_P99_SECONDS: f64 = 0.05;
/// Share of admission requests the guard could not decide.
const GUARD_REJECTED_RATIO: f64 = 0.01;

pub(super) fn group() -> Group {
    Group {
        name: "plinth-components",
        alerts: vec![
        Alert {
            name: "PlinthSchedulerPodsUnschedulable",
            expr: r#"sum(plinth_scheduler_pending_pods{queue="unschedulable"}) > 0"#.to_string(),
            for_: "15m",
            severity: Severity::Warning,
            summary: "Pods wait for the enterprise scheduler and fit nowhere.".to_string(),
            description: "Pods have been unschedulable for 15 minutes; `plinth explain pod NS/NAME` says why."
                .to_string(),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthSchedulerAttemptLatencyHigh",
            expr: format!(
                "histogram_quantile(0.99, sum by (le) (rate(plinth_scheduler_scheduling_attempt_duration_seconds_bucket[5m]))) > {SCHEDULER_ATTEMPT_P99_SECONDS}"
            ),
            for_: "10m",
            severity: Severity::Warning,
            summary: "Scheduling attempts are slow.".to_string(),
            description: format!(
                "p99 scheduling attempt latency has been above {SCHEDULER_ATTEMPT_P99_SECONDS}s for 10 minutes."
            ),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthSchedulerBindErrors",
            expr: r#"sum(rate(plinth_scheduler_bind_errors_total{reason="other"}[5m])) > 0"#
                .to_string(),
            for_: "10m",
            severity: Severity::Warning,
            summary: "Bindings fail.".to_string(),
            description: "The enterprise scheduler's bindings have been failing for 10 minutes (conflicts and deleted pods are not counted)."
                .to_string(),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthSchedulerNoLeader",
            expr: "sum(plinth_scheduler_leader) < 1".to_string(),
            for_: "5m",
            severity: Severity::Critical,
            summary: "No enterprise scheduler instance leads.".to_string(),
            description: "Scheduler instances run but none has held the lease for 5 minutes: pods with schedulerName enterprise-scheduler stay pending."
                .to_string(),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthSchedulerProfilesUnreadable",
            expr: "sum(rate(plinth_scheduler_profile_watch_errors_total[5m])) > 0".to_string(),
            for_: "10m",
            severity: Severity::Warning,
            summary: "The enterprise scheduler cannot read its profiles ConfigMap.".to_string(),
            description: "Watching the workload-profiles ConfigMap has failed for 10 minutes. A replica that never read it schedules nothing and stays out of the leader election (its /readyz names the error); one that read it keeps the last good profiles but misses edits."
                .to_string(),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthGuardLatencyHigh",
            expr: format!(
                "histogram_quantile(0.99, sum by (le) (rate(plinth_guard_request_duration_seconds_bucket[5m]))) > {GUARD_P99_SECONDS}"
            ),
            for_: "10m",
            severity: Severity::Warning,
            summary: "The admission webhook is slow.".to_string(),
            description: format!(
                "p99 admission latency has been above {GUARD_P99_SECONDS}s for 10 minutes; every create and update waits for it."
            ),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthGuardRequestsRejected",
            expr: format!(
                "sum(rate(plinth_guard_rejected_requests_total[5m])) / sum(rate(plinth_guard_request_duration_seconds_count[5m])) > {GUARD_REJECTED_RATIO}"
            ),
            for_: "10m",
            severity: Severity::Warning,
            summary: "The admission webhook cannot decide requests.".to_string(),
            description: format!(
                "More than {}% of admission requests have been malformed, too large or past their deadline for 10 minutes.",
                GUARD_REJECTED_RATIO * 100.0
            ),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthZeroTrustReconcileErrors",
            expr: r#"sum(rate(plinth_zt_reconciles_total{result="error"}[10m])) > 0"#.to_string(),
            for_: "15m",
            severity: Severity::Warning,
            summary: "The zero-trust controller keeps failing.".to_string(),
            description: "Reconciliations of ZeroTrustModels have been failing for 15 minutes: intent may not be enforced."
                .to_string(),
            runbook: Runbook::Plinth,
        },
        Alert {
            name: "PlinthZeroTrustModelNotReady",
            expr: r#"sum by (reason) (increase(plinth_zt_model_outcomes_total{reason!="Reconciled"}[15m])) > 0"#
                .to_string(),
            for_: "15m",
            severity: Severity::Warning,
            summary: "A zero-trust model is not fully in force.".to_string(),
            description: "Models have been reported {{ $labels.reason }} for 15 minutes; `kubectl get zerotrustmodels` shows which and why."
                .to_string(),
            runbook: Runbook::Plinth,
        },
    ],
    }
}
