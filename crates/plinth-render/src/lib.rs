//! The render engine: a platform description becomes a deterministic tree of manifests —
//! namespaces with Pod Security labels, PriorityClasses, quotas, autoscaling, network
//! policies, RBAC, audit and encryption configuration, policy objects and the monitoring
//! stack — with sorted keys and a stable order so renders diff cleanly in Git.
//!
//! Pure: no network. Empty until the render capability lands.
#![forbid(unsafe_code)]
