//! Talking to Kubernetes API servers — the one crate through which plinth's shells reach
//! a cluster.
//!
//! - [`config`]: client configuration in kubectl's order (`--kubeconfig`, then
//!   `$KUBECONFIG`, then `~/.kube/config`, then in-cluster) with `--context`, and errors
//!   that name the file, the context or the server at fault.
//! - [`apply`]: server-side apply of arbitrary objects, with resource names from
//!   discovery (never guessed plurals), dry-run and strict field validation.
//! - [`applyset`]: a directory of manifests applied as one labelled set — ordered,
//!   validated before writing, pruned, summarised (`plinth apply`).
//! - [`crd`]: installing CustomResourceDefinitions and waiting until they are `Established`.
//! - [`watch_cache`]: a watch-fed, always-current local cache of one resource type.
//!
//! What this crate is not: it holds no domain logic. Engines (`plinth-sched`,
//! `plinth-guard`, ...) never depend on it; shells use it to feed them.
#![forbid(unsafe_code)]

pub mod apply;
pub mod applyset;
pub mod config;
pub mod crd;
pub mod watch_cache;

pub use apply::{Applier, ApplyError, ApplyOptions};
pub use config::{ClientOptions, ConfigError, Connection};

/// The Kubernetes minor version whose API plinth is compiled against (the k8s-openapi
/// feature chosen in the workspace manifest).
pub const KUBERNETES_API_VERSION: &str = "1.37";

#[cfg(test)]
mod tests {
    #[test]
    // The push exists only when the `v1_37` feature is on; that is what is being tested.
    #[allow(clippy::vec_init_then_push)]
    fn k8s_openapi_feature_matches_declared_api_version() {
        let mut compiled = Vec::new();
        k8s_openapi::k8s_if_1_37! { compiled.push("1.37"); }
        assert_eq!(compiled, [super::KUBERNETES_API_VERSION]);
    }
}
