//! The fleet engine: a `ManagedCluster` spec becomes Cluster API v1beta2 objects (core,
//! kubeadm, AWS provider); lifecycle planning decides what to change, in which order
//! (control plane first, one minor version at a time) and whether it is safe; health,
//! cost and recommendations are computed from the real objects.
//!
//! Pure: objects in, plans out; the management cluster is driven by the binary's shell.
//!
//! Today: [`spec`] (the `ManagedCluster` document), [`load`] (reading and validating it
//! with `file:line` errors), [`network`] (subnets per availability zone), [`addons`] (the
//! known add-ons), [`render()`] (the Cluster API objects), [`upgrade`] (ordered,
//! resumable upgrade plans from live objects and what blocks a rollout), [`cost`]
//! (monthly cost from a price sheet) and [`recommend`] (recommendations from the spec).
#![forbid(unsafe_code)]

pub mod addons;
pub mod cost;
pub mod load;
pub mod network;
pub mod recommend;
pub mod render;
pub mod spec;
pub mod upgrade;
mod validate;
pub mod version;

pub use load::{API_VERSION, KIND, clusters, from_document};
pub use render::{RenderSettings, addons_without_manifests, render};
pub use spec::ManagedCluster;

/// Why a cluster could not be rendered (validation through [`load`] rules these out; they
/// are reported, not assumed, for specs built in code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// The networking section cannot be laid out.
    #[error("networking: {0}")]
    Network(#[from] network::NetworkError),
    /// `kubernetesVersion` is not `vMAJOR.MINOR.PATCH`.
    #[error("kubernetesVersion: {0}")]
    Version(#[from] version::VersionError),
    /// An add-on's manifests cannot be delivered.
    #[error("add-on {addon}: {location}{}{message}", if location.is_empty() { "" } else { ": " })]
    AddonManifest {
        /// The add-on's name.
        addon: String,
        /// `file:line` of the offending document (empty when none).
        location: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}
