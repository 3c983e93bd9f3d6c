//! Connectivity inputs from ordinary manifests: Namespaces (labels), Pods (labels,
//! container ports, optional `status.podIP`) and NetworkPolicies, every error with its
//! file and line. Other kinds are ignored.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use plinth_core::manifest::{Document, ManifestError};

use crate::engine::{Index, IpBlockMode};
use crate::error::{ModelError, PolicyError};
use crate::model::{self, Pod};
use crate::policy::Policy;

/// The namespace objects without one are put in (as `kubectl apply` would).
pub const DEFAULT_NAMESPACE: &str = "default";

/// `spec.ingress[0].ports[1]` → `["spec", "ingress", "0", "ports", "1"]`.
fn segments(field: &str) -> Vec<String> {
    field
        .split(['.', '['])
        .map(|s| s.trim_end_matches(']').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Builds an index from `docs`; every refused document is reported.
pub fn index(docs: &[Document], mode: IpBlockMode) -> Result<Index, Vec<ManifestError>> {
    let mut errors = Vec::new();
    let mut namespaces = BTreeMap::new();
    let mut pods = Vec::new();
    let mut policies = Vec::new();
    let mut seen = BTreeMap::new();
    for doc in docs {
        let is_core = doc.api_version() == Some("v1");
        match (doc.kind(), is_core, doc.api_version()) {
            (Some("Namespace"), true, _) => match doc.parse::<core::Namespace>() {
                Ok(ns) => {
                    let (name, labels) = model::namespace_labels(&ns);
                    namespaces.insert(name, labels);
                }
                Err(e) => errors.push(e),
            },
            (Some("Pod"), true, _) => match doc.parse::<core::Pod>() {
                Ok(p) => match Pod::from_object(&p, DEFAULT_NAMESPACE) {
                    Ok(pod) => {
                        if let Some(previous) = seen.insert(pod.id(), doc.location()) {
                            errors.push(doc.error_at(
                                &["metadata", "name"],
                                format!("pod {} is defined twice (first at {previous})", pod.id()),
                            ));
                        }
                        pods.push(pod);
                    }
                    Err(ModelError::Invalid { field, problem, .. }) => {
                        let mut path = vec!["spec".to_owned()];
                        if field.starts_with("metadata") || field.starts_with("status") {
                            path.clear();
                        }
                        path.extend(segments(&field));
                        errors.push(doc.error_at(&path, problem));
                    }
                    Err(other) => errors.push(doc.error_at(&[] as &[&str], other.to_string())),
                },
                Err(e) => errors.push(e),
            },
            (Some("NetworkPolicy"), _, Some("networking.k8s.io/v1")) => {
                match doc.parse::<net::NetworkPolicy>() {
                    Ok(p) => match Policy::compile(&p, DEFAULT_NAMESPACE) {
                        Ok(policy) => policies.push(policy),
                        Err(PolicyError::Invalid {
                            policy,
                            field,
                            problem,
                        }) => {
                            errors.push(doc.error_at(
                                &segments(&field),
                                format!("NetworkPolicy {policy}: {problem}"),
                            ));
                        }
                    },
                    Err(e) => errors.push(e),
                }
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(Index::new(namespaces, pods, policies, mode))
    } else {
        Err(errors)
    }
}
