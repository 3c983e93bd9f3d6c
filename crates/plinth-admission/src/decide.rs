//! One admission decision from both policy engines: Pod Security (upstream semantics,
//! upstream messages) and the Gatekeeper-compatible constraints. A request is denied
//! when either denies; warnings and audit annotations of both are kept.

use std::sync::Arc;
use std::time::Instant;

use plinth_guard::gatekeeper::{Point, PolicySet, Review, Violation};
use plinth_guard::pss;

use crate::review::{Decision, Operation, Request};

/// The policies one decision is made with.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Pod Security admission configuration (defaults and exemptions).
    pub pss: pss::Config,
    /// Templates and constraints.
    pub policies: Arc<PolicySet>,
}

/// A decision and what it was made of (for metrics and logs).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What to answer.
    pub decision: Decision,
    /// Pod Security denied the request.
    pub pss_denied: bool,
    /// Every constraint violation, whatever its action.
    pub violations: Vec<Violation>,
}

fn pss_operation(op: Operation) -> pss::Operation {
    match op {
        Operation::Create => pss::Operation::Create,
        Operation::Update => pss::Operation::Update,
        Operation::Delete => pss::Operation::Delete,
        Operation::Connect => pss::Operation::Connect,
    }
}

impl Guard {
    /// Decides `request`. `cluster` answers namespace labels and (for namespace updates)
    /// the namespace's pods; `deadline` bounds the work.
    pub fn decide(
        &self,
        request: &Request,
        cluster: &dyn pss::Cluster,
        deadline: Instant,
    ) -> Outcome {
        let pss_request = pss::Request {
            operation: pss_operation(request.operation),
            group: &request.resource_group,
            resource: &request.resource,
            subresource: &request.sub_resource,
            name: &request.name,
            namespace: &request.namespace,
            username: &request.username,
            object: request.object.as_ref(),
            old_object: request.old_object.as_ref(),
        };
        let pss = pss::validate(&self.pss, &pss_request, cluster, deadline);

        let violations = if self.policies.is_empty() {
            Vec::new()
        } else {
            let review = request.gatekeeper_review();
            let is_namespace = request.kind == "Namespace" && request.group.is_empty();
            let labels = if is_namespace || request.namespace.is_empty() {
                None
            } else {
                cluster.namespace_labels(&request.namespace).ok()
            };
            self.policies.evaluate(
                &Review {
                    request: review,
                    namespace_labels: labels.as_ref(),
                },
                Point::Webhook,
            )
        };

        let denials: Vec<String> = violations
            .iter()
            .filter(|v| v.denies())
            .map(Violation::line)
            .collect();
        let mut decision = Decision {
            allowed: pss.allowed && denials.is_empty(),
            warnings: pss.warnings.clone(),
            audit_annotations: pss.audit_annotations.clone(),
            ..Decision::default()
        };
        decision
            .warnings
            .extend(violations.iter().filter(|v| v.warns()).map(Violation::line));
        let dryrun: Vec<String> = violations
            .iter()
            .filter(|v| !v.denies() && !v.warns())
            .map(Violation::line)
            .collect();
        if !dryrun.is_empty() {
            decision
                .audit_annotations
                .insert("dryrun-violations".into(), dryrun.join("\n"));
        }
        match (&pss.status, denials.is_empty()) {
            (Some(status), _) if !pss.allowed => {
                decision.code = status.code;
                decision.reason = status.reason.clone();
                decision.message = status.message.clone();
                for line in &denials {
                    decision.message.push('\n');
                    decision.message.push_str(line);
                }
            }
            (_, false) => {
                decision.code = 403;
                decision.reason = "Forbidden".into();
                decision.message = denials.join("\n");
            }
            _ => {}
        }
        Outcome {
            decision,
            pss_denied: !pss.allowed,
            violations,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;
    use crate::review::parse;

    struct Fixed(BTreeMap<String, BTreeMap<String, String>>);

    impl pss::Cluster for Fixed {
        fn namespace_labels(&self, name: &str) -> Result<BTreeMap<String, String>, String> {
            self.0
                .get(name)
                .cloned()
                .ok_or_else(|| format!("namespace {name} not found"))
        }
        fn pods(&self, _: &str) -> Result<Vec<Pod>, String> {
            Ok(Vec::new())
        }
    }

    fn cluster() -> Fixed {
        let ns = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        Fixed(
            [
                (
                    "locked".to_owned(),
                    ns(&[("pod-security.kubernetes.io/enforce", "restricted")]),
                ),
                (
                    "watched".to_owned(),
                    ns(&[("pod-security.kubernetes.io/warn", "restricted")]),
                ),
                ("open".to_owned(), BTreeMap::new()),
            ]
            .into(),
        )
    }

    fn pod_review(namespace: &str, image: &str, privileged: bool) -> Request {
        let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "web", "namespace": namespace, "operation": "CREATE", "userInfo": {"username": "dev"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": namespace},
                "spec": {"containers": [{"name": "app", "image": image, "securityContext": {"privileged": privileged}}]}}}});
        parse(body.to_string().as_bytes()).unwrap()
    }

    fn guard() -> Guard {
        let mut set = plinth_guard::library::policy_set(&[]).unwrap();
        set.add_constraint(&json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sAllowedRepos",
            "metadata": {"name": "repos"}, "spec": {"parameters": {"repos": ["registry.k8s.io/"]}}}))
            .unwrap();
        set.add_constraint(&json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sDisallowedTags",
            "metadata": {"name": "tags"}, "spec": {"enforcementAction": "dryrun", "parameters": {"tags": ["latest"]}}}))
            .unwrap();
        Guard {
            pss: pss::Config::default(),
            policies: Arc::new(set),
        }
    }

    fn decide(r: &Request) -> Outcome {
        guard().decide(
            r,
            &cluster(),
            Instant::now() + std::time::Duration::from_secs(5),
        )
    }

    #[test]
    fn pod_security_denies_in_upstream_form() {
        let o = decide(&pod_review("locked", "registry.k8s.io/pause:3.10", true));
        assert!(!o.decision.allowed && o.pss_denied);
        assert_eq!(o.decision.code, 403);
        assert!(
            o.decision.message.starts_with(
                "pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"app\" must not set securityContext.privileged=true)"
            ),
            "{}",
            o.decision.message
        );
        assert_eq!(
            o.decision.audit_annotations["enforce-policy"],
            "restricted:latest"
        );
    }

    #[test]
    fn warn_namespaces_admit_with_warnings() {
        let o = decide(&pod_review("watched", "registry.k8s.io/pause:3.10", true));
        assert!(o.decision.allowed, "{:?}", o.decision);
        assert!(
            o.decision.warnings[0]
                .starts_with("would violate PodSecurity \"restricted:latest\": privileged")
        );
    }

    #[test]
    fn constraints_deny_and_dryrun_only_annotates() {
        let o = decide(&pod_review("open", "docker.io/library/nginx:latest", false));
        assert!(!o.decision.allowed);
        assert_eq!(
            o.decision.message,
            "[repos] container <app> has an invalid image repo <docker.io/library/nginx:latest>, allowed repos are [\"registry.k8s.io/\"]"
        );
        assert!(
            o.decision.audit_annotations["dryrun-violations"]
                .starts_with("[tags] container <app> uses a disallowed tag")
        );
        let ok = decide(&pod_review("open", "registry.k8s.io/pause:3.10", false));
        assert!(ok.decision.allowed, "{:?}", ok.decision);
    }

    #[test]
    fn both_engines_denying_report_both() {
        let o = decide(&pod_review("locked", "docker.io/x:1", true));
        let lines: Vec<&str> = o.decision.message.lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].starts_with("[repos]"));
    }
}
