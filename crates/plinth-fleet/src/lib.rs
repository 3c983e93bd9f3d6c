//! The fleet engine: a `ManagedCluster` spec becomes Cluster API v1beta2 objects (core,
//! kubeadm, AWS provider); lifecycle planning decides what to change, in which order
//! (control plane first, one minor version at a time) and whether it is safe; health,
//! cost and recommendations are computed from the real objects.
//!
//! Pure: objects in, plans out; the management cluster is driven by the binary's shell.
//! Empty until the fleet issue lands.
#![forbid(unsafe_code)]
