//! The zero-trust engine: network zones, trust levels, a communication matrix and service
//! identities compile into NetworkPolicies, Istio PeerAuthentication/AuthorizationPolicies
//! and cert-manager Certificates; a NetworkPolicy semantics engine answers "may A reach B
//! on port P?" with the exact Kubernetes rules and an explanation.
//!
//! Pure: no network. [`policy`] compiles and validates `networking.k8s.io/v1`
//! NetworkPolicies as the API server would, [`engine`] decides connections with reasons,
//! [`map`] computes every allowed connection between pods and [`render`] draws it by
//! workload, [`manifests`] reads the inputs from YAML. [`intent`] is the zero-trust model
//! (also the `ZeroTrustModel` custom resource): its three-layer decision, its compiler,
//! drift against enforced state and the posture computed from real objects.
#![forbid(unsafe_code)]

pub mod engine;
pub mod error;
pub mod intent;
pub mod manifests;
pub mod map;
pub mod model;
pub mod policy;
pub mod portset;
pub mod render;

pub use engine::{Endpoint, Index, IpBlockMode, PortQuery, Side, Verdict};
pub use error::{ModelError, PolicyError};
pub use map::Connection;
pub use model::{Pod, Protocol};
pub use policy::{Direction, Policy};
pub use portset::PortSet;
