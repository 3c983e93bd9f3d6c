//! The zero-trust engine: network zones, trust levels, a communication matrix and service
//! identities compile into NetworkPolicies, Istio PeerAuthentication/AuthorizationPolicies
//! and cert-manager Certificates; a NetworkPolicy semantics engine answers "may A reach B
//! on port P?" with the exact Kubernetes rules and an explanation.
//!
//! Pure: no network. Empty until the zero-trust issue lands.
#![forbid(unsafe_code)]
