//! Pod Security Standards, exactly as Kubernetes' Pod Security admission
//! (`k8s.io/pod-security-admission` v0.37) decides them.
//!
//! - [`evaluate`] a pod or pod template at a [`LevelVersion`]: every check of
//!   `baseline` and `restricted` at every policy version v1.0 to v1.37 (`latest`), with
//!   upstream's messages ([`Evaluation::forbidden_reason`],
//!   [`Evaluation::forbidden_detail`]).
//! - [`policy_to_evaluate`]: a namespace's [`Policy`] from its
//!   `pod-security.kubernetes.io/*` labels.
//! - [`pod_template`]: the pod spec of pods and the eight workload resources.
//! - [`validate`]: the admission decision for a request, with upstream's warnings,
//!   audit annotations and statuses.
//!
//! ```
//! use plinth_guard::pss::{LevelVersion, evaluate, pod_template};
//! let pod = serde_json::json!({
//!     "metadata": {"name": "web"},
//!     "spec": {"hostNetwork": true, "containers": [{"name": "app", "image": "nginx"}]},
//! });
//! let (meta, spec) = pod_template("", "pods", &pod).unwrap().unwrap();
//! let baseline: LevelVersion = "baseline:v1.30".parse().unwrap();
//! let result = evaluate(&baseline, &meta, &spec);
//! assert_eq!(result.forbidden_detail(), "host namespaces (hostNetwork=true)");
//! ```

mod admission;
mod checks;
mod evaluate;
mod level;
mod policy;
mod printable;
#[cfg(test)]
mod properties;
mod quote;
mod template;

pub use admission::{
    AUDIT_VIOLATIONS_ANNOTATION, Cluster, Config, ENFORCE_POLICY_ANNOTATION, ERROR_ANNOTATION,
    EXEMPT_ANNOTATION, Exemptions, Operation, Request, Response, Status, validate,
};
pub use evaluate::{CheckResult, Evaluation, check_ids, evaluate};
pub use level::{
    Level, LevelVersion, MAX_MINOR, ParseLevelError, ParseLevelVersionError, ParseVersionError,
    Version,
};
pub use policy::{
    AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL, FieldError,
    LABEL_PREFIX, Policy, WARN_LEVEL_LABEL, WARN_VERSION_LABEL, aggregate_errors,
    policy_to_evaluate,
};
pub use quote::go_quote;
pub use template::{POD_SPEC_RESOURCES, has_pod_spec, pod_template};
