//! A real Kubernetes control plane — the upstream etcd and kube-apiserver, built from
//! their Go modules — for plinth's integration tests and for `plinth dev`.
//!
//! - [`upstream`]: builds and verifies the pinned binaries in a cache outside the repo.
//! - [`pki`]: fresh certificate authorities, serving and client certificates, and
//!   service-account keys for every control plane; mints further users.
//! - [`control_plane`]: starts etcd and kube-apiserver on loopback (TLS everywhere,
//!   `Node,RBAC`), waits for `/readyz`, writes a kubeconfig, stops cleanly.
//! - [`process`]: child processes that die with the test process, even on panic or abort.
//! - [`crds`]: upstream CRDs from pinned Go modules, cached and installed.
//! - [`gomod`]: the directory of a Go module at a version, from the module proxy.
//! - [`shared`]: one control plane per test binary, one namespace per test.
//!
//! ```no_run
//! # async fn demo() -> Result<(), plinth_testenv::Error> {
//! let env = plinth_testenv::shared();
//! let client = env.client().await?;
//! let ns = env.namespace(&client, "demo").await?;
//! # let _ = ns; Ok(()) }
//! ```
//!
//! What this crate is not: a fake. Nothing here imitates the API server; it only runs and
//! connects to the real one.

pub mod control_plane;
pub mod crds;
mod error;
pub mod gomod;
pub mod pki;
pub mod process;
pub mod shared;
pub mod upstream;
pub mod versions;

pub use control_plane::{ControlPlane, StartOptions};
pub use error::Error;
pub use shared::{TestEnv, shared};
pub use upstream::{Binaries, Binary, cache_root};
pub use versions::Versions;
