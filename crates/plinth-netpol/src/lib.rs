//! The zero-trust engine: network zones, trust levels, a communication matrix and service
//! identities compile into NetworkPolicies, Istio PeerAuthentication/AuthorizationPolicies
//! and cert-manager Certificates; a NetworkPolicy semantics engine answers "may A reach B
//! on port P?" with the exact Kubernetes rules and an explanation.
//!
//! Pure: no network. In place today: the semantics engine — [`policy`] compiles and
//! validates `networking.k8s.io/v1` NetworkPolicies as the API server would, [`engine`]
//! decides connections with reasons, [`map`] computes every allowed connection between
//! pods, [`manifests`] reads the inputs from YAML. The model,
//! the compiler and the shells are still to come (issue 6).
#![forbid(unsafe_code)]

pub mod engine;
pub mod error;
pub mod manifests;
pub mod map;
pub mod model;
pub mod policy;
pub mod portset;

pub use engine::{Endpoint, Index, IpBlockMode, PortQuery, Side, Verdict};
pub use error::{ModelError, PolicyError};
pub use map::Connection;
pub use model::{Pod, Protocol};
pub use policy::{Direction, Policy};
pub use portset::PortSet;
