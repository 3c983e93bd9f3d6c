//! What a live cluster enforces, read into the engine's inputs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use kube::Client;
use kube::api::{Api, ListParams};
use plinth_netpol::engine::{Index, IpBlockMode};
use plinth_netpol::model::{self, Pod};
use plinth_netpol::policy::Policy;

/// Why the cluster's state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A list request failed.
    #[error("listing {what}: {source}")]
    List {
        /// What was listed.
        what: &'static str,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An object the API server accepted does not read as the engine expects.
    #[error("{0}")]
    Object(String),
}

async fn list<K>(client: &Client, what: &'static str) -> Result<Vec<K>, ClusterError>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let mut items = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|source| ClusterError::List { what, source })?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        items.extend(page.items);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}

/// Namespaces, pods and NetworkPolicies of the cluster as an index. Pods that have
/// finished (`Succeeded`/`Failed`) are left out: they have no traffic.
pub async fn index(client: &Client, mode: IpBlockMode) -> Result<Index, ClusterError> {
    let (namespaces, pods, policies) = tokio::try_join!(
        list::<core::Namespace>(client, "namespaces"),
        list::<core::Pod>(client, "pods"),
        list::<net::NetworkPolicy>(client, "networkpolicies"),
    )?;
    let namespaces: BTreeMap<_, _> = namespaces.iter().map(model::namespace_labels).collect();
    let mut engine_pods = Vec::with_capacity(pods.len());
    for p in &pods {
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        engine_pods.push(Pod::from_object(p, "").map_err(|e| ClusterError::Object(e.to_string()))?);
    }
    engine_pods.sort_by_key(Pod::id);
    let mut compiled = Vec::with_capacity(policies.len());
    for p in &policies {
        compiled.push(Policy::compile(p, "").map_err(|e| ClusterError::Object(e.to_string()))?);
    }
    Ok(Index::new(namespaces, engine_pods, compiled, mode))
}
