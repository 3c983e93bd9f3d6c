//! Evaluating a pod (or pod template) at a level and version, and upstream's aggregate
//! of the failures: `ForbiddenReason()` and `ForbiddenDetail()`.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::checks::active_checks;
use super::level::LevelVersion;

/// What upstream reports for a failed check whose reason is empty. None of the checks
/// here produces one; kept so the aggregate is exactly upstream's.
const UNKNOWN_FORBIDDEN_REASON: &str = "unknown forbidden reason";

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's ID, e.g. `runAsNonRoot` or `procMount_restricted`.
    pub id: &'static str,
    /// Short reason, e.g. `runAsNonRoot != true`.
    pub reason: String,
    /// What exactly is wrong, e.g. `pod or container "c" must set securityContext.runAsNonRoot=true`.
    pub detail: String,
}

/// The outcome of evaluating a pod at one level and version: the failed checks, in
/// upstream's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    failures: Vec<CheckResult>,
}

impl Evaluation {
    /// True when no check failed.
    pub fn allowed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failed checks, in evaluation order.
    pub fn failures(&self) -> &[CheckResult] {
        &self.failures
    }

    fn reasons(&self) -> impl Iterator<Item = &str> {
        self.failures.iter().map(|f| {
            if f.reason.is_empty() {
                UNKNOWN_FORBIDDEN_REASON
            } else {
                f.reason.as_str()
            }
        })
    }

    /// The reasons joined with `", "`, e.g. `host namespaces, privileged`; empty when allowed.
    pub fn forbidden_reason(&self) -> String {
        self.reasons().collect::<Vec<_>>().join(", ")
    }

    /// Each failure as `reason (detail)` (or just `reason` without detail), joined with
    /// `", "`; empty when allowed.
    pub fn forbidden_detail(&self) -> String {
        let mut out = String::new();
        for (i, (reason, failure)) in self.reasons().zip(&self.failures).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(reason);
            if !failure.detail.is_empty() {
                out.push_str(" (");
                out.push_str(&failure.detail);
                out.push(')');
            }
        }
        out
    }
}

/// Evaluates a pod's (or pod template's) metadata and spec at `lv`.
///
/// `privileged` allows everything. `latest` and versions newer than
/// [`MAX_MINOR`](super::level::MAX_MINOR) use the newest checks. Only the metadata's
/// annotations are read. Allocates nothing when the pod passes (beyond what individual
/// checks need for annotation lookups at versions before v1.19).
pub fn evaluate(lv: &LevelVersion, meta: &ObjectMeta, spec: &PodSpec) -> Evaluation {
    let mut failures = Vec::new();
    for check in active_checks(lv.level, lv.version.effective_minor()) {
        if let Some(violation) = (check.run)(meta, spec) {
            failures.push(CheckResult {
                id: check.id,
                reason: violation.reason.to_owned(),
                detail: violation.detail,
            });
        }
    }
    Evaluation { failures }
}

/// The IDs of the checks that run for `lv`, in evaluation order.
pub fn check_ids(lv: &LevelVersion) -> Vec<&'static str> {
    active_checks(lv.level, lv.version.effective_minor())
        .iter()
        .map(|c| c.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pss::checks::testing::pod;
    use crate::pss::level::{Level, Version};
    use serde_json::json;

    fn lv(s: &str) -> LevelVersion {
        s.parse().expect("level:version")
    }

    /// A pod that violates every check.
    fn violates_everything() -> serde_json::Value {
        json!({
            "metadata": {"annotations": {
                "container.apparmor.security.beta.kubernetes.io/c": "unconfined",
                "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
            }},
            "spec": {
                "hostNetwork": true,
                "securityContext": {
                    "seccompProfile": {"type": "Unconfined"},
                    "seLinuxOptions": {"type": "bad"},
                    "sysctls": [{"name": "kernel.msgmax", "value": "1"}],
                    "windowsOptions": {"hostProcess": true},
                    "runAsUser": 0,
                },
                "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
                "containers": [{
                    "name": "c",
                    "ports": [{"containerPort": 80, "hostPort": 80}],
                    "livenessProbe": {"httpGet": {"host": "x", "port": 80}},
                    "securityContext": {
                        "privileged": true,
                        "procMount": "Unmasked",
                        "capabilities": {"add": ["SYS_ADMIN"]},
                    },
                }],
            },
        })
    }

    fn reasons_at(lv_text: &str) -> String {
        let (meta, spec) = pod(violates_everything());
        evaluate(&lv(lv_text), &meta, &spec).forbidden_reason()
    }

    #[test]
    fn effective_check_sets_by_version() {
        // The reasons upstream reports for a pod violating everything (spec §1.4).
        let b0 = "forbidden AppArmor profile, non-default capabilities, host namespaces, hostPath volumes, hostPort, privileged, procMount, seLinuxOptions, seccompProfile, forbidden sysctls, hostProcess";
        let b34 = "forbidden AppArmor profile, non-default capabilities, host namespaces, hostPath volumes, hostPort, probe or lifecycle host, privileged, procMount, seLinuxOptions, seccompProfile, forbidden sysctls, hostProcess";
        assert_eq!(reasons_at("baseline:v1.0"), b0);
        assert_eq!(reasons_at("baseline:v1.33"), b0);
        assert_eq!(reasons_at("baseline:v1.34"), b34);
        assert_eq!(reasons_at("baseline:latest"), b34);
        assert_eq!(reasons_at("baseline:v1.999"), b34);
        assert_eq!(
            reasons_at("restricted:v1.7"),
            "forbidden AppArmor profile, non-default capabilities, host namespaces, hostPort, privileged, procMount, seLinuxOptions, seccompProfile, forbidden sysctls, hostProcess, restricted volume types, runAsNonRoot != true"
        );
        assert_eq!(
            reasons_at("restricted:v1.18"),
            "forbidden AppArmor profile, non-default capabilities, host namespaces, hostPort, privileged, procMount, seLinuxOptions, seccompProfile, forbidden sysctls, hostProcess, allowPrivilegeEscalation != false, restricted volume types, runAsNonRoot != true"
        );
        assert_eq!(
            reasons_at("restricted:v1.21"),
            "forbidden AppArmor profile, non-default capabilities, host namespaces, hostPort, privileged, procMount, seLinuxOptions, forbidden sysctls, hostProcess, allowPrivilegeEscalation != false, restricted volume types, runAsNonRoot != true, seccompProfile"
        );
        assert_eq!(
            reasons_at("restricted:v1.22"),
            "forbidden AppArmor profile, host namespaces, hostPort, privileged, procMount, seLinuxOptions, forbidden sysctls, hostProcess, allowPrivilegeEscalation != false, unrestricted capabilities, restricted volume types, runAsNonRoot != true, seccompProfile"
        );
        assert_eq!(
            reasons_at("restricted:v1.33"),
            "forbidden AppArmor profile, host namespaces, hostPort, privileged, procMount, seLinuxOptions, forbidden sysctls, hostProcess, allowPrivilegeEscalation != false, unrestricted capabilities, restricted volume types, runAsNonRoot != true, runAsUser=0, seccompProfile"
        );
        assert_eq!(
            reasons_at("restricted:v1.34"),
            "forbidden AppArmor profile, host namespaces, hostPort, probe or lifecycle host, privileged, procMount, seLinuxOptions, forbidden sysctls, hostProcess, allowPrivilegeEscalation != false, unrestricted capabilities, restricted volume types, runAsNonRoot != true, runAsUser=0, seccompProfile"
        );
        let r35 = "forbidden AppArmor profile, host namespaces, hostPort, probe or lifecycle host, privileged, seLinuxOptions, forbidden sysctls, hostProcess, allowPrivilegeEscalation != false, unrestricted capabilities, procMount, restricted volume types, runAsNonRoot != true, runAsUser=0, seccompProfile";
        assert_eq!(reasons_at("restricted:v1.35"), r35);
        assert_eq!(reasons_at("restricted:latest"), r35);
        assert_eq!(reasons_at("privileged:v1.0"), "");
        assert_eq!(reasons_at("privileged:latest"), "");
    }

    #[test]
    fn aggregate_strings() {
        let (meta, spec) = pod(json!({"spec": {
            "hostNetwork": true,
            "containers": [{"name": "c1", "securityContext": {"privileged": true}}],
        }}));
        let e = evaluate(&lv("baseline"), &meta, &spec);
        assert!(!e.allowed());
        assert_eq!(e.forbidden_reason(), "host namespaces, privileged");
        assert_eq!(
            e.forbidden_detail(),
            r#"host namespaces (hostNetwork=true), privileged (container "c1" must not set securityContext.privileged=true)"#
        );
        assert_eq!(
            e.failures().iter().map(|f| f.id).collect::<Vec<_>>(),
            ["hostNamespaces", "privileged"]
        );
        let synthetic = Evaluation {
            failures: vec![
                CheckResult {
                    id: "x",
                    reason: String::new(),
                    detail: "d".into(),
                },
                CheckResult {
                    id: "y",
                    reason: "r".into(),
                    detail: String::new(),
                },
            ],
        };
        assert_eq!(synthetic.forbidden_reason(), "unknown forbidden reason, r");
        assert_eq!(
            synthetic.forbidden_detail(),
            "unknown forbidden reason (d), r"
        );
    }

    #[test]
    fn edge_cases_from_upstream() {
        let check = |lv_text: &str, p: serde_json::Value| {
            let (meta, spec) = pod(p);
            evaluate(&lv(lv_text), &meta, &spec).forbidden_detail()
        };
        // An empty pod spec passes everything.
        assert_eq!(check("restricted", json!({})), "");
        let windows = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "c"}]}});
        assert_eq!(
            check("restricted", windows),
            r#"runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)"#
        );
        let user_ns = json!({"spec": {
            "hostUsers": false,
            "securityContext": {"runAsUser": 0, "runAsNonRoot": false, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {
                "procMount": "Unmasked", "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
            }}],
        }});
        assert_eq!(
            check("restricted:latest", user_ns.clone()),
            r#"procMount (container "c" must not set securityContext.procMount to "Unmasked")"#
        );
        assert_eq!(
            check("restricted:v1.34", user_ns.clone()),
            r#"procMount (container "c" must not set securityContext.procMount to "Unmasked"), runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false), runAsUser=0 (pod must not set runAsUser=0)"#
        );
        assert_eq!(check("baseline:latest", user_ns), "");
        let caps = json!({"spec": {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["NET_RAW", "CHOWN"]}}}]}});
        assert!(
            check("restricted:v1.21", caps).starts_with(
                r#"non-default capabilities (container "c" must not include "NET_RAW" in securityContext.capabilities.add)"#
            )
        );
        let ann = json!({"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}},
                         "spec": {"securityContext": {"runAsNonRoot": true},
                                  "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false}}]}});
        assert_eq!(
            check("restricted:v1.18", ann),
            r#"seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")"#
        );
    }

    #[test]
    fn check_ids_follow_versions() {
        assert_eq!(
            check_ids(&LevelVersion::new(Level::Restricted, Version::Minor(8))).len(),
            13
        );
        assert!(check_ids(&LevelVersion::PRIVILEGED_LATEST).is_empty());
    }
}
