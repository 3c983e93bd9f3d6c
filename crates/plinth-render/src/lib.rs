//! The render engine: a platform description becomes a deterministic tree of manifests —
//! namespaces with Pod Security labels, PriorityClasses, quotas, autoscaling, network
//! policies, RBAC, audit and encryption configuration, policy objects and the monitoring
//! stack — with sorted keys and a stable order so renders diff cleanly in Git.
//!
//! Pure: no network, no files, no randomness (the encryption key is the caller's).
//! [`platform`] reads and validates the `Platform` description; [`tree`] renders it
//! (with other engines' objects: Gatekeeper policies from plinth-guard, PriorityClasses
//! from plinth-sched, zero-trust objects and monitoring passed in) into folders with
//! kustomizations, plus the API server's audit policy and encryption configuration;
//! [`monitoring`] holds the alert rules (as `PrometheusRule` objects and as a plain rule
//! file for `promtool`) and the Alertmanager configuration; [`observability`] the stack
//! that runs them (Prometheus with Thanos, Alertmanager, monitors, Grafana with
//! dashboards, Jaeger, the OpenTelemetry Collector); [`operations`] the cluster
//! autoscaler (flags and priority expander from the node pools), Falco rules and
//! trivy-operator settings.
#![forbid(unsafe_code)]

pub mod monitoring;
pub mod observability;
pub mod operations;
pub mod platform;
pub mod tree;
