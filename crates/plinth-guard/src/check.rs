//! Offline checks (`plinth check`): manifests in, what admission would decide for each
//! object out — Pod Security at the level of the object's namespace (taken from
//! Namespace objects in the same input, or overridden), and every constraint.
//!
//! Unlike the API server, workloads are judged on their pod template at the enforce
//! level: in CI, a Deployment whose pods would be rejected is the error to catch.

use std::collections::BTreeMap;

use plinth_core::manifest::Document;
use serde::Serialize;
use serde_json::{Value, json};

use crate::gatekeeper::{Action, Point, PolicySet, Review, synthetic_review};
use crate::pss::{self, Level, LevelVersion, Policy};

/// How objects are checked.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// One Pod Security level for every object, instead of namespace labels.
    pub pss: Option<LevelVersion>,
    /// The policy of namespaces without labels (and of namespaces not in the input).
    pub defaults: Policy,
}

/// One policy finding about an object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// `PodSecurity` or `Kind/name` of the constraint.
    pub policy: String,
    /// The message, in the form admission would give it.
    pub message: String,
    /// `deny`, `warn` or `dryrun`.
    pub action: String,
}

/// The verdict on one object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ObjectResult {
    /// `KIND/NAMESPACE/NAME` (`KIND/NAME` when cluster-scoped).
    pub object: String,
    /// `file:line` of the object.
    pub location: String,
    /// Whether admission would accept it.
    pub allowed: bool,
    /// Denials, warnings and dry-run findings.
    pub violations: Vec<Finding>,
}

/// Kinds that are cluster-scoped (objects of other kinds without a namespace are taken
/// to be in `default`, as `kubectl apply` would put them).
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConstraintTemplate",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// The resource name Pod Security knows a pod-carrying kind by.
fn pod_resource(group: &str, kind: &str) -> Option<&'static str> {
    Some(match (group, kind) {
        ("", "Pod") => "pods",
        ("", "ReplicationController") => "replicationcontrollers",
        ("", "PodTemplate") => "podtemplates",
        ("apps", "ReplicaSet") => "replicasets",
        ("apps", "Deployment") => "deployments",
        ("apps", "StatefulSet") => "statefulsets",
        ("apps", "DaemonSet") => "daemonsets",
        ("batch", "Job") => "jobs",
        ("batch", "CronJob") => "cronjobs",
        _ => return None,
    })
}

fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks every object of `docs` (Namespaces among them supply labels).
pub fn check(docs: &[Document], policies: &PolicySet, options: &CheckOptions) -> Vec<ObjectResult> {
    let namespaces: BTreeMap<String, BTreeMap<String, String>> = docs
        .iter()
        .filter(|d| d.kind() == Some("Namespace") && d.api_version() == Some("v1"))
        .filter_map(|d| {
            let name = d.value().pointer("/metadata/name")?.as_str()?.to_owned();
            Some((name, labels(d.value())))
        })
        .collect();
    docs.iter()
        .map(|doc| check_one(doc, &namespaces, policies, options))
        .collect()
}

fn check_one(
    doc: &Document,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    policies: &PolicySet,
    options: &CheckOptions,
) -> ObjectResult {
    let value = doc.value();
    let kind = doc.kind().unwrap_or_default();
    let api_version = doc.api_version().unwrap_or_default();
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let cluster_scoped =
        CLUSTER_SCOPED.contains(&kind) || api_version.starts_with("constraints.gatekeeper.sh/");
    let namespace = if cluster_scoped {
        String::new()
    } else {
        value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_owned()
    };
    let object = if cluster_scoped {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{namespace}/{name}")
    };
    let ns_labels = if kind == "Namespace" {
        Some(labels(value))
    } else {
        namespaces.get(&namespace).cloned()
    };
    let mut violations = Vec::new();

    if let Some(resource) = pod_resource(group, kind) {
        let policy = match &options.pss {
            Some(lv) => Policy {
                enforce: *lv,
                audit: LevelVersion::default(),
                warn: LevelVersion::default(),
            },
            None => {
                pss::policy_to_evaluate(&ns_labels.clone().unwrap_or_default(), &options.defaults).0
            }
        };
        match pss::pod_template(group, resource, value) {
            Ok(Some((meta, spec))) => {
                if policy.enforce.level != Level::Privileged {
                    let e = pss::evaluate(&policy.enforce, &meta, &spec);
                    if !e.allowed() {
                        violations.push(Finding {
                            policy: "PodSecurity".into(),
                            message: format!(
                                "violates PodSecurity \"{}\": {}",
                                policy.enforce,
                                e.forbidden_detail()
                            ),
                            action: "deny".into(),
                        });
                    }
                }
                if policy.warn.level != Level::Privileged && policy.warn != policy.enforce {
                    let e = pss::evaluate(&policy.warn, &meta, &spec);
                    if !e.allowed() {
                        violations.push(Finding {
                            policy: "PodSecurity".into(),
                            message: format!(
                                "would violate PodSecurity \"{}\": {}",
                                policy.warn,
                                e.forbidden_detail()
                            ),
                            action: "warn".into(),
                        });
                    }
                }
            }
            Ok(None) => {}
            Err(e) => violations.push(Finding {
                policy: "PodSecurity".into(),
                message: format!("cannot read the pod spec: {e}"),
                action: "deny".into(),
            }),
        }
    }

    if !policies.is_empty() {
        let mut review = synthetic_review(value);
        review["operation"] = json!("CREATE");
        if !cluster_scoped {
            review["namespace"] = json!(namespace);
        }
        for v in policies.evaluate(
            &Review {
                request: &review,
                namespace_labels: ns_labels.as_ref(),
            },
            Point::Offline,
        ) {
            let action = if v.denies() {
                Action::Deny
            } else if v.warns() {
                Action::Warn
            } else {
                Action::Dryrun
            };
            violations.push(Finding {
                policy: format!("{}/{}", v.constraint_kind, v.constraint_name),
                message: v.message,
                action: action.as_str().into(),
            });
        }
    }
    let location = doc.location();
    ObjectResult {
        object,
        location: format!("{}:{}", location.file(), location.line()),
        allowed: !violations.iter().any(|v| v.action == "deny"),
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: locked
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: v1.30
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: locked
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - name: app
        image: registry.k8s.io/pause:3.10
---
apiVersion: v1
kind: Pod
metadata:
  name: loose
spec:
  containers:
  - name: app
    image: docker.io/library/nginx:latest
"#;

    fn docs() -> Vec<Document> {
        plinth_core::manifest::parse_str("in.yaml", INPUT).unwrap()
    }

    #[test]
    fn namespace_labels_in_the_input_set_the_level() {
        let r = check(&docs(), &PolicySet::new(), &CheckOptions::default());
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].object, "Deployment/locked/web");
        assert_eq!(r[1].location, "in.yaml:10");
        assert!(!r[1].allowed);
        assert!(
            r[1].violations[0].message.starts_with(
                "violates PodSecurity \"restricted:v1.30\": host namespaces (hostNetwork=true)"
            ),
            "{:?}",
            r[1].violations
        );
        assert!(
            r[2].allowed,
            "the default namespace is privileged by default"
        );
        assert_eq!(r[0].object, "Namespace/locked");
    }

    #[test]
    fn override_and_constraints() {
        let set = crate::library::defaults().unwrap();
        let opts = CheckOptions {
            pss: Some("baseline".parse().unwrap()),
            ..CheckOptions::default()
        };
        let r = check(&docs(), &set, &opts);
        let loose = &r[2];
        assert!(!loose.allowed);
        let policies: Vec<&str> = loose.violations.iter().map(|v| v.policy.as_str()).collect();
        assert!(
            policies.contains(&"K8sDisallowedTags/no-latest-tag"),
            "{policies:?}"
        );
        assert!(
            policies.contains(&"K8sAllowedRepos/allowed-repos"),
            "{policies:?}"
        );
        let repos = loose
            .violations
            .iter()
            .find(|v| v.policy == "K8sAllowedRepos/allowed-repos")
            .unwrap();
        assert_eq!(repos.action, "dryrun");
        // The namespace has no owner label.
        assert!(!r[0].allowed);
    }
}
