//! Typed errors: what is wrong, where, and what would be accepted.

/// A NetworkPolicy the API server would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A field is invalid.
    #[error("NetworkPolicy {policy}: {field} {problem}")]
    Invalid {
        /// `NAMESPACE/NAME`.
        policy: String,
        /// The field's path, e.g. `spec.ingress[0].ports[1].endPort`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A pod, namespace or query that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// An object lacks a required field or has an invalid one.
    #[error("{object}: {field} {problem}")]
    Invalid {
        /// `Kind NAMESPACE/NAME`.
        object: String,
        /// The field's path.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The query names a pod that is not in the input.
    #[error("no pod {0} in the input (pods are named NAMESPACE/NAME)")]
    UnknownPod(String),
    /// A named port that the destination pod does not declare.
    #[error("pod {pod} declares no {protocol} container port named {name:?}")]
    UnknownPortName {
        /// The destination pod.
        pod: String,
        /// The port name.
        name: String,
        /// The protocol.
        protocol: String,
    },
    /// A query that cannot be read.
    #[error("{0}")]
    Query(String),
}
