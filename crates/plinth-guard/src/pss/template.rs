//! Where a pod spec lives in each resource Pod Security evaluates: pods themselves and
//! the eight workload resources with pod templates.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Pod, PodSpec, PodTemplate, PodTemplateSpec, ReplicationController,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The resources (group, resource) that carry a pod spec.
pub const POD_SPEC_RESOURCES: [(&str, &str); 9] = [
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "replicasets"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

/// Whether `group`/`resource` carries a pod spec.
pub fn has_pod_spec(group: &str, resource: &str) -> bool {
    POD_SPEC_RESOURCES.contains(&(group, resource))
}

/// Why a pod spec could not be taken from an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    /// The object is not a valid instance of its resource's kind.
    #[error("{0}")]
    Decode(String),
    /// The resource has no pod spec.
    #[error("unexpected object type: {resource} has no pod template")]
    Unsupported {
        /// `resource[.group]`.
        resource: String,
    },
}

type Extracted = Option<(ObjectMeta, PodSpec)>;

fn decode<T: DeserializeOwned>(object: &Value) -> Result<T, TemplateError> {
    T::deserialize(object).map_err(|e| TemplateError::Decode(e.to_string()))
}

fn from_template(template: PodTemplateSpec) -> Extracted {
    Some((
        template.metadata.unwrap_or_default(),
        template.spec.unwrap_or_default(),
    ))
}

pub(crate) fn extract(
    group: &str,
    resource: &str,
    object: &Value,
) -> Result<Extracted, TemplateError> {
    let template = match (group, resource) {
        ("", "pods") => {
            let pod: Pod = decode(object)?;
            return Ok(Some((pod.metadata, pod.spec.unwrap_or_default())));
        }
        // The only template that may be absent.
        ("", "replicationcontrollers") => {
            let rc: ReplicationController = decode(object)?;
            return Ok(rc.spec.and_then(|s| s.template).and_then(from_template));
        }
        ("", "podtemplates") => decode::<PodTemplate>(object)?.template,
        ("apps", "replicasets") => decode::<ReplicaSet>(object)?.spec.template,
        ("apps", "deployments") => Some(decode::<Deployment>(object)?.spec.template),
        ("apps", "statefulsets") => Some(decode::<StatefulSet>(object)?.spec.template),
        ("apps", "daemonsets") => Some(decode::<DaemonSet>(object)?.spec.template),
        ("batch", "jobs") => decode::<Job>(object)?.spec.map(|s| s.template),
        ("batch", "cronjobs") => decode::<CronJob>(object)?
            .spec
            .job_template
            .spec
            .map(|s| s.template),
        _ => {
            return Err(TemplateError::Unsupported {
                resource: if group.is_empty() {
                    resource.to_owned()
                } else {
                    format!("{resource}.{group}")
                },
            });
        }
    };
    // Outside ReplicationControllers the template is a value, not a pointer, upstream:
    // a missing one is an empty template, which every level allows.
    Ok(from_template(template.unwrap_or_default()))
}

/// The metadata and spec Pod Security evaluates for an object of `resource` in `group`:
/// a pod's own, or the pod template's of a ReplicationController, PodTemplate,
/// ReplicaSet, Deployment, StatefulSet, DaemonSet, Job or CronJob. `Ok(None)` for a
/// ReplicationController without a template. An error for an object that does not
/// decode as its resource's kind, or a resource without a pod spec.
pub fn pod_template(
    group: &str,
    resource: &str,
    object: &Value,
) -> Result<Option<(ObjectMeta, PodSpec)>, String> {
    extract(group, resource, object).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(group: &str, resource: &str, object: Value) -> Option<(Option<String>, Vec<String>)> {
        pod_template(group, resource, &object)
            .expect("extracts")
            .map(|(meta, spec)| {
                (
                    meta.annotations.and_then(|a| a.get("a").cloned()),
                    spec.containers.into_iter().map(|c| c.name).collect(),
                )
            })
    }

    #[test]
    fn finds_every_template() {
        let template = json!({"metadata": {"annotations": {"a": "t"}}, "spec": {"containers": [{"name": "c"}]}});
        let want = Some((Some("t".to_owned()), vec!["c".to_owned()]));
        let spec_template = json!({"spec": {"template": template}});
        for (group, resource) in [
            ("", "replicationcontrollers"),
            ("apps", "replicasets"),
            ("apps", "deployments"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
        ] {
            assert_eq!(
                names(group, resource, spec_template.clone()),
                want,
                "{resource}"
            );
        }
        assert_eq!(
            names("", "podtemplates", json!({"template": template})),
            want
        );
        assert_eq!(
            names(
                "batch",
                "cronjobs",
                json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}})
            ),
            want
        );
        assert_eq!(names("", "pods", template), want);
    }

    #[test]
    fn missing_templates() {
        assert_eq!(
            names("", "replicationcontrollers", json!({"spec": {}})),
            None
        );
        assert_eq!(
            names(
                "",
                "replicationcontrollers",
                json!({"spec": {"template": null}})
            ),
            None
        );
        assert_eq!(names("", "replicationcontrollers", json!({})), None);
        assert_eq!(
            names("apps", "deployments", json!({})),
            Some((None, vec![]))
        );
        assert_eq!(
            names("batch", "cronjobs", json!({"spec": {}})),
            Some((None, vec![]))
        );
    }

    #[test]
    fn errors() {
        let err = pod_template("", "services", &json!({})).expect_err("no pod spec");
        assert_eq!(err, "unexpected object type: services has no pod template");
        let err = pod_template("apps", "pods", &json!({})).expect_err("wrong group");
        assert_eq!(err, "unexpected object type: pods.apps has no pod template");
        assert!(pod_template("apps", "deployments", &json!({"spec": {"replicas": "x"}})).is_err());
    }
}
