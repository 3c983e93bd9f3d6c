//! `plinth version`.

use plinth_kube::ConfigError;
use plinth_testenv::Versions;
use serde_json::json;

use super::Outcome;
use crate::cli::{ClusterArgs, Format};
use crate::output;

/// What is known about the server.
enum Server {
    Connected {
        version: String,
        url: String,
        origin: String,
    },
    NotConfigured,
    Unreachable(String),
}

/// Prints versions; a cluster named explicitly (`--kubeconfig`, `--context`) must be
/// reachable, an implicit one is reported on.
pub async fn run(cluster: &ClusterArgs, format: Format) -> anyhow::Result<Outcome> {
    let pins = Versions::pinned();
    let opts = cluster.options();
    let server = match plinth_kube::config::connect(&opts).await {
        Ok((_, conn, info)) => Server::Connected {
            version: info.git_version,
            url: conn.server(),
            origin: conn.origin.to_string(),
        },
        Err(e) if opts.is_explicit() => return Err(e.into()),
        Err(ConfigError::NotFound) => Server::NotConfigured,
        Err(e) => Server::Unreachable(e.to_string()),
    };
    let plinth_version = env!("CARGO_PKG_VERSION");
    match format {
        Format::Json => {
            let server = match &server {
                Server::Connected {
                    version,
                    url,
                    origin,
                } => json!({"version": version, "url": url, "origin": origin}),
                Server::NotConfigured => json!(null),
                Server::Unreachable(e) => json!({"error": e}),
            };
            output::json(&json!({
                "plinth": plinth_version,
                "kubernetesApi": plinth_kube::KUBERNETES_API_VERSION,
                "upstream": {
                    "kubernetes": format!("v{}", pins.kubernetes),
                    "etcd": format!("v{}", pins.etcd),
                    "clusterApi": format!("v{}", pins.cluster_api),
                    "clusterApiProviderAws": format!("v{}", pins.cluster_api_provider_aws),
                    "opa": format!("v{}", pins.opa),
                    "npGuard": format!("v{}", pins.npguard),
                    "helm": format!("v{}", pins.helm),
                },
                "server": server,
            }));
        }
        Format::Table => {
            output::line(format!("plinth          {plinth_version}"));
            output::line(format!(
                "Kubernetes API  {} (k8s-openapi feature v{})",
                plinth_kube::KUBERNETES_API_VERSION,
                plinth_kube::KUBERNETES_API_VERSION.replace('.', "_")
            ));
            output::line(format!(
                "upstream pins   kubernetes v{}, etcd v{}, cluster-api v{}, cluster-api-provider-aws v{}, opa v{}, np-guard v{}, helm v{}",
                pins.kubernetes,
                pins.etcd,
                pins.cluster_api,
                pins.cluster_api_provider_aws,
                pins.opa,
                pins.npguard,
                pins.helm
            ));
            output::line(match &server {
                Server::Connected {
                    version,
                    url,
                    origin,
                } => format!("server          {version} at {url} ({origin})"),
                Server::NotConfigured => {
                    "server          none configured (start one with `plinth dev up`)".to_owned()
                }
                Server::Unreachable(e) => format!("server          unavailable: {e}"),
            });
        }
    }
    Ok(Outcome::Ok)
}
