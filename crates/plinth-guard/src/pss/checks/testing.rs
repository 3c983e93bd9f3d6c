//! Test helpers: pods from JSON, and a check's outcome as plain strings.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::CheckFn;

/// A pod's metadata and spec from `{"metadata": …, "spec": …}`.
pub(crate) fn pod(value: Value) -> (ObjectMeta, PodSpec) {
    let meta = value
        .get("metadata")
        .cloned()
        .map(|m| serde_json::from_value(m).expect("metadata"))
        .unwrap_or_default();
    let spec = value
        .get("spec")
        .cloned()
        .map(|s| serde_json::from_value(s).expect("spec"))
        .unwrap_or_default();
    (meta, spec)
}

/// `Some("reason (detail)")` when `check` forbids the pod, `None` when it allows it.
pub(crate) fn outcome(check: CheckFn, value: Value) -> Option<String> {
    let (meta, spec) = pod(value);
    check(&meta, &spec).map(|v| format!("{} ({})", v.reason, v.detail))
}
