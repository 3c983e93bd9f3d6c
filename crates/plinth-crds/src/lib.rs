//! Typed Rust models of third-party custom resources — Cluster API and its AWS provider,
//! Gatekeeper, Istio, cert-manager, Prometheus Operator, VPA — generated from the
//! upstream CRD YAML by one script, and plinth's own CRDs.
//!
//! Holds types only. Empty until the first capability that needs typed CRDs lands.
#![forbid(unsafe_code)]
