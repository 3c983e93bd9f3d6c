//! Pod Security admission: the decision for one admission request, as upstream's
//! `admission` package makes it behind kube-apiserver's `PodSecurity` plugin.
//!
//! - Namespaces: invalid `pod-security.kubernetes.io/*` labels are rejected; tightening
//!   the enforce level warns about existing pods that would violate it.
//! - Pods: enforce (deny), audit (annotation) and warn (warning) at the namespace's
//!   policy; updates that change no image and add no container are not re-evaluated.
//! - Workloads with pod templates: audit and warn only, never enforced.
//!
//! Pure and synchronous: the namespace labels and pods come from a [`Cluster`] the
//! caller provides, and the only clock reading is for the deadline of the existing-pods
//! check. Like the in-tree plugin, only `CREATE` and `UPDATE` of namespaces, pods and
//! the pod-template resources are evaluated; every other request is allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;

use super::policy::Policy;
use super::quote::go_quote;
use super::template::has_pod_spec;

mod namespaces;
mod pods;

/// Audit annotation: the enforced policy, e.g. `restricted:latest`.
pub const ENFORCE_POLICY_ANNOTATION: &str = "enforce-policy";
/// Audit annotation: what the audit level would reject.
pub const AUDIT_VIOLATIONS_ANNOTATION: &str = "audit-violations";
/// Audit annotation: why the request was exempt (`namespace`, `user`, `runtimeClass`).
pub const EXEMPT_ANNOTATION: &str = "exempt";
/// Audit annotation: an error met while deciding.
pub const ERROR_ANNOTATION: &str = "error";

/// Who and what is exempt from Pod Security. Matching is exact; empty values never match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exemptions {
    /// Requesting users.
    pub usernames: BTreeSet<String>,
    /// Namespaces.
    pub namespaces: BTreeSet<String>,
    /// Pods (and templates) with these `runtimeClassName`s.
    pub runtime_classes: BTreeSet<String>,
}

impl Exemptions {
    fn has(set: &BTreeSet<String>, value: &str) -> bool {
        !value.is_empty() && set.contains(value)
    }

    /// `namespace` is exempt.
    pub fn namespace(&self, namespace: &str) -> bool {
        Exemptions::has(&self.namespaces, namespace)
    }

    /// `username` is exempt.
    pub fn user(&self, username: &str) -> bool {
        Exemptions::has(&self.usernames, username)
    }

    /// A pod with this `runtimeClassName` is exempt.
    pub fn runtime_class(&self, runtime_class: Option<&str>) -> bool {
        runtime_class.is_some_and(|rc| Exemptions::has(&self.runtime_classes, rc))
    }
}

/// The admission configuration (upstream's `PodSecurityConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The policy of namespaces without labels (`privileged:latest` for every mode by default).
    pub defaults: Policy,
    /// What is exempt.
    pub exemptions: Exemptions,
}

/// The operation of an admission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `CREATE`.
    Create,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `CONNECT`.
    Connect,
}

/// An admission request, as much of it as Pod Security reads.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The operation.
    pub operation: Operation,
    /// The API group of the resource (`""` for core).
    pub group: &'a str,
    /// The resource, e.g. `pods`, `deployments`, `namespaces`.
    pub resource: &'a str,
    /// The subresource (empty for the main resource).
    pub subresource: &'a str,
    /// The object's name (may be empty on create with `generateName`).
    pub name: &'a str,
    /// The namespace (for namespaces: the namespace's own name).
    pub namespace: &'a str,
    /// The requesting user.
    pub username: &'a str,
    /// The new object.
    pub object: Option<&'a serde_json::Value>,
    /// The old object (updates).
    pub old_object: Option<&'a serde_json::Value>,
}

/// What admission needs from the cluster.
pub trait Cluster {
    /// The labels of namespace `name`.
    fn namespace_labels(&self, name: &str) -> Result<BTreeMap<String, String>, String>;
    /// The pods in `namespace`.
    fn pods(&self, namespace: &str) -> Result<Vec<Pod>, String>;
}

/// The status of a denied request, as in a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// HTTP code: 403 (Forbidden), 422 (Invalid), 400 (BadRequest) or 500 (InternalError).
    pub code: u16,
    /// `Forbidden`, `Invalid`, `BadRequest` or `InternalError`.
    pub reason: String,
    /// The message the user sees.
    pub message: String,
}

/// The admission decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Why not, when denied.
    pub status: Option<Status>,
    /// Warnings for the user.
    pub warnings: Vec<String>,
    /// Audit annotations, unprefixed (kube-apiserver adds `pod-security.kubernetes.io/`).
    pub audit_annotations: BTreeMap<String, String>,
}

impl Response {
    /// Allowed, with nothing to say.
    pub fn allow() -> Response {
        Response {
            allowed: true,
            status: None,
            warnings: Vec::new(),
            audit_annotations: BTreeMap::new(),
        }
    }

    fn with_annotation(mut self, key: &str, value: impl Into<String>) -> Response {
        self.audit_annotations.insert(key.to_owned(), value.into());
        self
    }

    fn exempt(why: &str) -> Response {
        Response::allow().with_annotation(EXEMPT_ANNOTATION, why)
    }

    /// Denied for a policy violation: `pods "name" is forbidden: {error}`.
    fn forbidden(request: &Request<'_>, error: &str) -> Response {
        let resource = if request.group.is_empty() {
            request.resource.to_owned()
        } else {
            format!("{}.{}", request.resource, request.group)
        };
        let message = if request.name.is_empty() {
            format!("{resource} is forbidden: {error}")
        } else {
            format!(
                "{resource} {} is forbidden: {error}",
                go_quote(request.name)
            )
        };
        Response::denied(403, "Forbidden", message)
    }

    /// Denied with `status`, recording `{message}: {error}` (or the message alone) as
    /// the `error` audit annotation.
    fn error(code: u16, reason: &str, message: String, error: Option<&str>) -> Response {
        let detail = match error {
            Some(e) => format!("{message}: {e}"),
            None => message.clone(),
        };
        Response::denied(code, reason, message).with_annotation(ERROR_ANNOTATION, detail)
    }

    fn bad_request(message: &str, error: Option<&str>) -> Response {
        Response::error(400, "BadRequest", message.to_owned(), error)
    }

    fn denied(code: u16, reason: &str, message: String) -> Response {
        Response {
            allowed: false,
            status: Some(Status {
                code,
                reason: reason.to_owned(),
                message,
            }),
            warnings: Vec::new(),
            audit_annotations: BTreeMap::new(),
        }
    }
}

/// Decides an admission request.
///
/// `deadline` is when the request times out; checking existing pods on a namespace
/// update takes at most half the time left, and at most one second.
pub fn validate(
    config: &Config,
    request: &Request<'_>,
    cluster: &dyn Cluster,
    deadline: Instant,
) -> Response {
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return Response::allow();
    }
    match (request.group, request.resource) {
        ("", "namespaces") => namespaces::validate(config, request, cluster, deadline),
        ("", "pods") => pods::validate_pod(config, request, cluster),
        (group, resource) if has_pod_spec(group, resource) => {
            pods::validate_controller(config, request, cluster)
        }
        _ => Response::allow(),
    }
}

/// Why an object in a request could not be read.
fn decode<T: serde::de::DeserializeOwned>(object: Option<&serde_json::Value>) -> Result<T, String> {
    let object = object.ok_or_else(|| "the request has no object".to_owned())?;
    T::deserialize(object).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
