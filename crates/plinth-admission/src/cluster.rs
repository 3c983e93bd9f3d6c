//! What the webhook needs to know about the cluster for one request: the labels of the
//! request's namespace (from a watch cache, falling back to a live read for namespaces
//! created a moment ago) and, for namespace relabels, the pods already running there.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::ListParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use plinth_guard::pss;

/// Where namespace labels and pods come from.
#[derive(Clone)]
pub enum ClusterSource {
    /// A live cluster: namespaces from a watch cache, pods listed on demand.
    Live {
        /// Client for fallbacks and pod lists.
        client: Client,
        /// The namespace watch cache.
        namespaces: Store<Namespace>,
    },
    /// Fixed labels, no pods (tests and offline use).
    Fixed(BTreeMap<String, BTreeMap<String, String>>),
}

/// The answers for one request, fetched before the (synchronous) decision.
#[derive(Debug, Default)]
pub struct Prefetched {
    labels: BTreeMap<String, Result<BTreeMap<String, String>, String>>,
    pods: Option<Result<Vec<Pod>, String>>,
}

impl pss::Cluster for Prefetched {
    fn namespace_labels(&self, name: &str) -> Result<BTreeMap<String, String>, String> {
        self.labels
            .get(name)
            .cloned()
            .unwrap_or_else(|| Err(format!("namespace {name:?} was not looked up")))
    }

    fn pods(&self, _namespace: &str) -> Result<Vec<Pod>, String> {
        self.pods
            .clone()
            .unwrap_or_else(|| Err("pods were not listed".to_owned()))
    }
}

fn labels_of(ns: &Namespace) -> BTreeMap<String, String> {
    ns.metadata.labels.clone().unwrap_or_default()
}

impl ClusterSource {
    /// Fetches what deciding a request in `namespace` needs; `list_pods` for namespace
    /// updates, bounded by `timeout`.
    pub async fn prefetch(
        &self,
        namespace: &str,
        list_pods: bool,
        timeout: Duration,
    ) -> Prefetched {
        let mut out = Prefetched::default();
        if namespace.is_empty() {
            return out;
        }
        let labels = match self {
            ClusterSource::Fixed(map) => map
                .get(namespace)
                .cloned()
                .ok_or_else(|| format!("namespaces {namespace:?} not found")),
            ClusterSource::Live { client, namespaces } => {
                match namespaces.get(&ObjectRef::new(namespace)) {
                    Some(ns) => Ok(labels_of(&ns)),
                    None => {
                        let api: Api<Namespace> = Api::all(client.clone());
                        match tokio::time::timeout(timeout, api.get_opt(namespace)).await {
                            Ok(Ok(Some(ns))) => Ok(labels_of(&ns)),
                            Ok(Ok(None)) => Err(format!("namespaces {namespace:?} not found")),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("timed out reading the namespace".to_owned()),
                        }
                    }
                }
            }
        };
        out.labels.insert(namespace.to_owned(), labels);
        if list_pods {
            out.pods = Some(match self {
                ClusterSource::Fixed(_) => Ok(Vec::new()),
                ClusterSource::Live { client, .. } => {
                    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
                    // Like upstream, the whole namespace is listed: the warning says how many
                    // pods exist even though at most 3000 are evaluated.
                    let params = ListParams::default();
                    match tokio::time::timeout(timeout, api.list(&params)).await {
                        Ok(Ok(list)) => Ok(list.items),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("timed out listing pods".to_owned()),
                    }
                }
            });
        }
        out
    }
}
