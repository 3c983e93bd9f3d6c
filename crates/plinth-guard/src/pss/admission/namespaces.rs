//! Admission of namespaces: label validation, the exempt-namespace warning, and the
//! check of existing pods against a tightened enforce level.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec};

use super::{Cluster, Config, Operation, Request, Response, decode};
use crate::pss::evaluate::evaluate;
use crate::pss::level::{Level, LevelVersion};
use crate::pss::policy::{
    AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL, FieldError,
    Policy, WARN_LEVEL_LABEL, WARN_VERSION_LABEL, aggregate_errors, policy_to_evaluate,
};
use crate::pss::quote::go_quote;

/// At most this many existing pods are checked on a namespace update.
pub(super) const MAX_PODS_TO_CHECK: usize = 3000;
/// At most this long is spent checking existing pods.
const POD_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) fn validate(
    config: &Config,
    request: &Request<'_>,
    cluster: &dyn Cluster,
    deadline: Instant,
) -> Response {
    if !request.subresource.is_empty() {
        return Response::allow();
    }
    let namespace: Namespace = match decode(request.object) {
        Ok(ns) => ns,
        Err(e) => return Response::bad_request("failed to decode object", Some(&e)),
    };
    let name = namespace.metadata.name.as_deref().unwrap_or_default();
    let labels = namespace.metadata.labels.clone().unwrap_or_default();
    let (policy, errors) = policy_to_evaluate(&labels, &config.defaults);
    match request.operation {
        Operation::Create => {
            if !errors.is_empty() {
                return invalid(request, &errors);
            }
            match exempt_warning(config, request, name, &policy, &labels) {
                Some(warning) => warned(warning),
                None => Response::allow(),
            }
        }
        Operation::Update => {
            // Upstream's message has the double space.
            let old: Namespace = match decode(request.old_object) {
                Ok(ns) => ns,
                Err(e) => return Response::bad_request("failed to decode  old object", Some(&e)),
            };
            let old_labels = old.metadata.labels.unwrap_or_default();
            let (old_policy, old_errors) = policy_to_evaluate(&old_labels, &config.defaults);
            // Labels that were already invalid in the same way are tolerated.
            if !errors.is_empty() && (old_errors.is_empty() || errors != old_errors) {
                return invalid(request, &errors);
            }
            let (new_enforce, old_enforce) = (policy.enforce, old_policy.enforce);
            if new_enforce == old_enforce
                || new_enforce.level == Level::Privileged
                || (new_enforce.version == old_enforce.version
                    && new_enforce.level <= old_enforce.level)
            {
                return Response::allow();
            }
            if config.exemptions.namespace(request.namespace) {
                return match exempt_warning(config, request, name, &policy, &labels) {
                    Some(warning) => warned(warning),
                    None => Response::allow(),
                };
            }
            let mut response = Response::allow();
            response.warnings = check_existing_pods(
                config,
                cluster,
                name,
                &new_enforce,
                pod_check_deadline(Instant::now(), deadline),
                MAX_PODS_TO_CHECK,
            );
            response
        }
        Operation::Delete | Operation::Connect => Response::allow(),
    }
}

fn warned(warning: String) -> Response {
    let mut response = Response::allow();
    response.warnings.push(warning);
    response
}

/// Denied as invalid: `Namespace "name" is invalid: {errors}`.
fn invalid(request: &Request<'_>, errors: &[FieldError]) -> Response {
    Response::denied(
        422,
        "Invalid",
        format!(
            "Namespace {} is invalid: {}",
            go_quote(request.name),
            aggregate_errors(errors)
        ),
    )
}

/// For an exempt namespace whose labels set a policy that differs from the defaults:
/// which modes it sets (only modes with their own level or version label, and not
/// privileged) and that they will be ignored.
fn exempt_warning(
    config: &Config,
    request: &Request<'_>,
    name: &str,
    policy: &Policy,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    if !config.exemptions.namespace(request.namespace)
        || policy.fully_privileged()
        || policy.equivalent(&config.defaults)
    {
        return None;
    }
    let modes = [
        (
            "enforce",
            policy.enforce,
            ENFORCE_LEVEL_LABEL,
            ENFORCE_VERSION_LABEL,
        ),
        (
            "audit",
            policy.audit,
            AUDIT_LEVEL_LABEL,
            AUDIT_VERSION_LABEL,
        ),
        ("warn", policy.warn, WARN_LEVEL_LABEL, WARN_VERSION_LABEL),
    ];
    let set: Vec<String> = modes
        .iter()
        .filter(|(_, lv, level_label, version_label)| {
            lv.level != Level::Privileged
                && (labels.contains_key(*level_label) || labels.contains_key(*version_label))
        })
        .map(|(mode, lv, _, _)| format!("{mode}={lv}"))
        .collect();
    Some(format!(
        "namespace {} is exempt from Pod Security, and the policy ({}) will be ignored",
        go_quote(name),
        set.join(", ")
    ))
}

/// When the existing-pods check must stop: in one second, or in half the time left
/// before the request's deadline if that is sooner.
fn pod_check_deadline(now: Instant, request_deadline: Instant) -> Instant {
    let half_left = request_deadline.saturating_duration_since(now) / 2;
    now + POD_CHECK_TIMEOUT.min(half_left)
}

/// Upstream's order for checking existing pods: pods without a controller and the first
/// pod of each controller, then the other pods of controllers already seen. Pods with
/// an exempt runtime class are left out.
fn prioritize<'p>(config: &Config, pods: &'p [Pod]) -> Vec<&'p Pod> {
    let mut first = Vec::with_capacity(pods.len());
    let mut replicas = Vec::new();
    let mut controllers: BTreeSet<&str> = BTreeSet::new();
    for pod in pods {
        let runtime_class = pod
            .spec
            .as_ref()
            .and_then(|s| s.runtime_class_name.as_deref());
        if config.exemptions.runtime_class(runtime_class) {
            continue;
        }
        let controller = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true));
        match controller {
            Some(owner) if !controllers.insert(owner.uid.as_str()) => replicas.push(pod),
            _ => first.push(pod),
        }
    }
    first.extend(replicas);
    first
}

/// The warnings about existing pods that violate `enforce`: one line per distinct set of
/// reasons, naming the lexically first pod and how many others share it.
pub(super) fn check_existing_pods(
    config: &Config,
    cluster: &dyn Cluster,
    namespace: &str,
    enforce: &LevelVersion,
    stop_at: Instant,
    max_pods: usize,
) -> Vec<String> {
    let pods = match cluster.pods(namespace) {
        Ok(pods) => pods,
        Err(_) => {
            return vec![
                "failed to list pods while checking new PodSecurity enforce level".to_owned(),
            ];
        }
    };
    let mut prioritized = prioritize(config, &pods);
    let total = prioritized.len();
    prioritized.truncate(max_pods);
    let mut checked = prioritized.len();
    // Distinct reasons in first-seen order; for each, the smallest pod name and a count.
    let mut reasons: Vec<String> = Vec::new();
    let mut counts: HashMap<String, (&str, usize)> = HashMap::new();
    let empty = PodSpec::default();
    for (i, pod) in prioritized.iter().enumerate() {
        let spec = pod.spec.as_ref().unwrap_or(&empty);
        let result = evaluate(enforce, &pod.metadata, spec);
        if !result.allowed() {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            let reason = result.forbidden_reason();
            match counts.get_mut(&reason) {
                Some((first, count)) => {
                    if name < *first {
                        *first = name;
                    }
                    *count += 1;
                }
                None => {
                    counts.insert(reason.clone(), (name, 1));
                    reasons.push(reason);
                }
            }
        }
        if Instant::now() >= stop_at {
            checked = i + 1;
            break;
        }
    }
    let mut warnings = Vec::new();
    if checked < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
        ));
    }
    if !reasons.is_empty() {
        warnings.push(format!(
            "existing pods in namespace {} violate the new PodSecurity enforce level {}",
            go_quote(namespace),
            go_quote(&enforce.to_string())
        ));
    }
    let mut lines: Vec<String> = reasons
        .iter()
        .map(|reason| {
            let (pod, count) = counts.get(reason).copied().unwrap_or(("", 0));
            match count {
                0 => reason.clone(),
                1 => format!("{pod}: {reason}"),
                2 => format!("{pod} (and 1 other pod): {reason}"),
                n => format!("{pod} (and {} other pods): {reason}", n - 1),
            }
        })
        .collect();
    lines.sort();
    warnings.extend(lines);
    warnings
}
