//! Admission of pods (enforce, audit, warn) and of workloads with pod templates (audit
//! and warn only).

use k8s_openapi::api::core::v1::{Container, EphemeralContainer, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    AUDIT_VIOLATIONS_ANNOTATION, Cluster, Config, ENFORCE_POLICY_ANNOTATION, ERROR_ANNOTATION,
    Request, Response, decode,
};
use crate::pss::evaluate::{Evaluation, evaluate};
use crate::pss::level::{Level, LevelVersion};
use crate::pss::policy::{FieldError, Policy, aggregate_errors, policy_to_evaluate};
use crate::pss::quote::go_quote;
use crate::pss::template::{TemplateError, extract};

/// Pod subresources that never change what Pod Security checks.
const IGNORED_SUBRESOURCES: [&str; 8] = [
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

pub(super) fn validate_pod(
    config: &Config,
    request: &Request<'_>,
    cluster: &dyn Cluster,
) -> Response {
    if IGNORED_SUBRESOURCES.contains(&request.subresource) {
        return Response::allow();
    }
    if config.exemptions.namespace(request.namespace) {
        return Response::exempt("namespace");
    }
    if config.exemptions.user(request.username) {
        return Response::exempt("user");
    }
    let labels = match cluster.namespace_labels(request.namespace) {
        Ok(labels) => labels,
        Err(e) => {
            return Response::error(
                500,
                "InternalError",
                format!(
                    "Internal error occurred: failed to lookup namespace {}",
                    go_quote(request.namespace)
                ),
                Some(&e),
            );
        }
    };
    let (policy, errors) = policy_to_evaluate(&labels, &config.defaults);
    if errors.is_empty() && policy.fully_privileged() {
        return Response::allow().with_annotation(
            ENFORCE_POLICY_ANNOTATION,
            LevelVersion::PRIVILEGED_LATEST.to_string(),
        );
    }
    let pod: Pod = match decode(request.object) {
        Ok(pod) => pod,
        Err(e) => return Response::bad_request("failed to decode object", Some(&e)),
    };
    if request.operation == super::Operation::Update {
        let old: Pod = match decode(request.old_object) {
            Ok(pod) => pod,
            Err(e) => return Response::bad_request("failed to decode old object", Some(&e)),
        };
        if !significant_update(pod.spec.as_ref(), old.spec.as_ref()) {
            return Response::allow();
        }
    }
    let spec = pod.spec.unwrap_or_default();
    evaluate_pod(
        config,
        &policy,
        &errors,
        &pod.metadata,
        &spec,
        request,
        true,
    )
}

pub(super) fn validate_controller(
    config: &Config,
    request: &Request<'_>,
    cluster: &dyn Cluster,
) -> Response {
    if !request.subresource.is_empty() {
        return Response::allow();
    }
    if config.exemptions.namespace(request.namespace) {
        return Response::exempt("namespace");
    }
    if config.exemptions.user(request.username) {
        return Response::exempt("user");
    }
    // Never denied: problems are only recorded.
    let labels = match cluster.namespace_labels(request.namespace) {
        Ok(labels) => labels,
        Err(e) => {
            return Response::allow().with_annotation(
                ERROR_ANNOTATION,
                format!(
                    "failed to lookup namespace {}: {e}",
                    go_quote(request.namespace)
                ),
            );
        }
    };
    let (policy, errors) = policy_to_evaluate(&labels, &config.defaults);
    if errors.is_empty()
        && policy.warn.level == Level::Privileged
        && policy.audit.level == Level::Privileged
    {
        return Response::allow();
    }
    let Some(object) = request.object else {
        return Response::allow().with_annotation(
            ERROR_ANNOTATION,
            "failed to decode object: the request has no object",
        );
    };
    match extract(request.group, request.resource, object) {
        Ok(Some((meta, spec))) => {
            evaluate_pod(config, &policy, &errors, &meta, &spec, request, false)
        }
        Ok(None) => Response::allow(),
        Err(TemplateError::Decode(e)) => Response::allow()
            .with_annotation(ERROR_ANNOTATION, format!("failed to decode object: {e}")),
        Err(e @ TemplateError::Unsupported { .. }) => Response::allow().with_annotation(
            ERROR_ANNOTATION,
            format!("failed to extract pod template: {e}"),
        ),
    }
}

/// Whether an update can change the outcome: a container added or removed, an image
/// changed, or an ephemeral container added or its image changed.
pub(super) fn significant_update(new: Option<&PodSpec>, old: Option<&PodSpec>) -> bool {
    let empty = PodSpec::default();
    let new = new.unwrap_or(&empty);
    let old = old.unwrap_or(&empty);
    fn image(c: &Container) -> &str {
        c.image.as_deref().unwrap_or_default()
    }
    fn ephemeral_image(c: &EphemeralContainer) -> &str {
        c.image.as_deref().unwrap_or_default()
    }
    let init = |s: &'_ PodSpec| s.init_containers.as_deref().unwrap_or_default().len();
    if new.containers.len() != old.containers.len() || init(new) != init(old) {
        return true;
    }
    let images_changed =
        |a: &[Container], b: &[Container]| a.iter().zip(b).any(|(a, b)| image(a) != image(b));
    if images_changed(&new.containers, &old.containers)
        || images_changed(
            new.init_containers.as_deref().unwrap_or_default(),
            old.init_containers.as_deref().unwrap_or_default(),
        )
    {
        return true;
    }
    let old_ephemeral = old.ephemeral_containers.as_deref().unwrap_or_default();
    new.ephemeral_containers.iter().flatten().any(|c| {
        old_ephemeral
            .iter()
            .find(|o| o.name == c.name)
            .is_none_or(|o| ephemeral_image(o) != ephemeral_image(c))
    })
}

/// Evaluates a pod or template at the namespace's policy: enforce (pods only), then
/// audit, then warn (only if still allowed), each level-version evaluated once.
fn evaluate_pod(
    config: &Config,
    policy: &Policy,
    policy_errors: &[FieldError],
    meta: &ObjectMeta,
    spec: &PodSpec,
    request: &Request<'_>,
    enforce: bool,
) -> Response {
    if config
        .exemptions
        .runtime_class(spec.runtime_class_name.as_deref())
    {
        return Response::exempt("runtimeClass");
    }
    let mut response = Response::allow();
    if !policy_errors.is_empty() {
        response = response.with_annotation(
            ERROR_ANNOTATION,
            format!(
                "Failed to parse policy: {}",
                aggregate_errors(policy_errors)
            ),
        );
    }
    let mut cache: Vec<(LevelVersion, Evaluation)> = Vec::with_capacity(3);
    if enforce {
        response = response.with_annotation(ENFORCE_POLICY_ANNOTATION, policy.enforce.to_string());
        let result = cached(&mut cache, policy.enforce, meta, spec);
        if !result.allowed() {
            let error = format!(
                "violates PodSecurity {}: {}",
                go_quote(&policy.enforce.to_string()),
                result.forbidden_detail()
            );
            let annotations = std::mem::take(&mut response.audit_annotations);
            response = Response::forbidden(request, &error);
            response.audit_annotations = annotations;
        }
    }
    let audit = cached(&mut cache, policy.audit, meta, spec);
    if !audit.allowed() {
        response = response.with_annotation(
            AUDIT_VIOLATIONS_ANNOTATION,
            format!(
                "would violate PodSecurity {}: {}",
                go_quote(&policy.audit.to_string()),
                audit.forbidden_detail()
            ),
        );
    }
    if response.allowed {
        let warn = cached(&mut cache, policy.warn, meta, spec);
        if !warn.allowed() {
            response.warnings.push(format!(
                "would violate PodSecurity {}: {}",
                go_quote(&policy.warn.to_string()),
                warn.forbidden_detail()
            ));
        }
    }
    response
}

/// The evaluation at `lv`, computed once per request.
fn cached<'c>(
    cache: &'c mut Vec<(LevelVersion, Evaluation)>,
    lv: LevelVersion,
    meta: &ObjectMeta,
    spec: &PodSpec,
) -> &'c Evaluation {
    let index = match cache.iter().position(|(key, _)| *key == lv) {
        Some(index) => index,
        None => {
            cache.push((lv, evaluate(&lv, meta, spec)));
            cache.len() - 1
        }
    };
    &cache[index].1
}
