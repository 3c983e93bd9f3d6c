//! Typed Rust models of third-party custom resources, generated from the upstream CRD
//! YAML by one script (`tools/gen-crds`, kopium) and never edited by hand:
//!
//! - [`capi::v1beta2`]: Cluster API v1beta2 — core (Cluster, MachineDeployment,
//!   Machine, ClusterResourceSet), the kubeadm control plane and bootstrap templates;
//! - [`capa::v1beta2`]: the AWS provider (AWSCluster, AWSMachineTemplate).
//!
//! The pinned upstream versions are those of `tools/k8s/versions.env`; `tools/test`
//! fails when a generated file is stale. Types only: the crate depends on kube-core and
//! kube-derive, never on a client, so engines may use it.
#![forbid(unsafe_code)]

/// Cluster API (`cluster.x-k8s.io`, `controlplane.cluster.x-k8s.io`,
/// `bootstrap.cluster.x-k8s.io`, `addons.cluster.x-k8s.io`).
pub mod capi {
    /// Version v1beta2 of the Cluster API groups.
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod v1beta2 {
        pub mod cluster;
        pub mod cluster_resource_set;
        pub mod kubeadm_config_template;
        pub mod kubeadm_control_plane;
        pub mod machine;
        pub mod machine_deployment;
    }
}

/// Cluster API's AWS provider (`infrastructure.cluster.x-k8s.io`).
pub mod capa {
    /// Version v1beta2 of the AWS provider's group.
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod v1beta2 {
        pub mod aws_cluster;
        pub mod aws_machine_template;
    }
}
