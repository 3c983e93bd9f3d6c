//! Zero trust against a live cluster — the shell around `plinth-netpol`.
//!
//! - [`cluster`]: what the cluster enforces, read into the engine's inputs (namespaces,
//!   pods, NetworkPolicies) so `plinth zt verify --cluster` decides exactly as
//!   `--manifests` would over the same objects.
//! - [`controller`]: watches `ZeroTrustModel` resources and keeps their compiled objects
//!   in the cluster with server-side apply and owner references, prunes what intent no
//!   longer produces, repairs hand edits, and reports status conditions.
//! - [`metrics`]: the controller's Prometheus metrics.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod controller;
pub mod metrics;

pub use cluster::ClusterError;
