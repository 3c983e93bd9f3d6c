//! `plinth guard audit`: evaluates what already exists in the cluster against Pod
//! Security and every constraint (all enforcement actions, so `dryrun` constraints are
//! reported too), and publishes the findings as `wgpolicyk8s.io/v1alpha2`
//! `PolicyReport`s (one per namespace) and a `ClusterPolicyReport`.
//!
//! Memory stays bounded by the chunk size: objects are listed 500 at a time (`limit` and
//! `continue`), evaluated and dropped; only findings are kept.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{Discovery, Scope, verbs};
use kube::{Api, Client};
use plinth_guard::gatekeeper::{Action, Point, Review, synthetic_review};
use plinth_guard::pss;
use serde::Serialize;
use serde_json::{Value, json};

use crate::decide::Guard;

/// The reports' name in every namespace.
pub const REPORT_NAME: &str = "plinth-guard";
/// Results kept per report (the summary still counts all): a report must stay well
/// under the API server's object size limit.
pub const MAX_RESULTS_PER_REPORT: usize = 1000;

/// Why an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An API call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: kube::Error,
    },
}

/// One finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The object's namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// `KIND/NAME` of the object.
    pub object: String,
    /// The object's apiVersion.
    pub api_version: String,
    /// The object's kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The object's uid.
    pub uid: String,
    /// `PodSecurity:<level>:<version>` or `Kind/name` of a constraint.
    pub policy: String,
    /// The Pod Security check or the constraint kind.
    pub rule: String,
    /// `fail` or `warn`.
    pub result: String,
    /// The enforcement action (`deny`, `warn`, `dryrun`, or `enforce`/`audit`/`warn` for
    /// Pod Security modes).
    pub action: String,
    /// The message.
    pub message: String,
}

/// The result of one audit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    /// Objects evaluated.
    pub objects: usize,
    /// Objects evaluated, by namespace (`""`: cluster-scoped).
    pub objects_by_namespace: BTreeMap<String, usize>,
    /// Findings, sorted.
    pub findings: Vec<Finding>,
    /// List requests made.
    pub list_requests: usize,
}

/// Options of an audit.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Objects per list request.
    pub chunk_size: u32,
}

impl Default for AuditOptions {
    fn default() -> AuditOptions {
        AuditOptions { chunk_size: 500 }
    }
}

const POD_SPEC_RESOURCES: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> AuditError {
    let what = what.into();
    move |source| AuditError::Api { what, source }
}

/// Which resources to list: the pod-spec resources, plus every listable resource a
/// constraint's `match.kinds` names (all of them when a constraint names no kinds).
async fn resources(client: &Client, guard: &Guard) -> Result<Vec<(ApiResource, bool)>, AuditError> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(api_err("API discovery"))?;
    let mut wanted_kinds: Vec<(String, String)> = Vec::new();
    let mut everything = false;
    for c in guard.policies.constraints() {
        let kinds = c.matcher.kind_patterns();
        if kinds.is_empty() {
            everything = true;
        }
        wanted_kinds.extend(kinds);
    }
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !caps.supports_operation(verbs::LIST) || ar.plural.contains('/') {
                continue;
            }
            let pod_spec = POD_SPEC_RESOURCES.contains(&(ar.group.as_str(), ar.plural.as_str()));
            let by_constraint = everything
                || wanted_kinds
                    .iter()
                    .any(|(g, k)| (g == "*" || *g == ar.group) && (k == "*" || *k == ar.kind));
            // Events and reports are not workloads anyone constrains; skip them even when
            // a constraint matches every kind.
            let noise = matches!(
                ar.plural.as_str(),
                "events" | "policyreports" | "clusterpolicyreports" | "leases"
            );
            if pod_spec || (by_constraint && !noise) {
                out.push((ar, caps.scope == Scope::Namespaced));
            }
        }
    }
    out.sort_by(|a, b| (&a.0.group, &a.0.plural).cmp(&(&b.0.group, &b.0.plural)));
    Ok(out)
}

fn pss_findings(
    guard: &Guard,
    group: &str,
    resource: &str,
    object: &Value,
    labels: &BTreeMap<String, String>,
    base: &Finding,
    out: &mut Vec<Finding>,
) {
    let namespace = base.namespace.as_str();
    if guard.pss.exemptions.namespace(namespace) {
        return;
    }
    let Ok(Some((meta, spec))) = pss::pod_template(group, resource, object) else {
        return;
    };
    if guard
        .pss
        .exemptions
        .runtime_class(spec.runtime_class_name.as_deref())
    {
        return;
    }
    let (policy, _) = pss::policy_to_evaluate(labels, &guard.pss.defaults);
    // The strictest mode that is set decides what the audit reports.
    let modes = [
        ("enforce", &policy.enforce),
        ("audit", &policy.audit),
        ("warn", &policy.warn),
    ];
    let Some((mode, lv)) = modes
        .into_iter()
        .find(|(_, lv)| lv.level != pss::Level::Privileged)
    else {
        return;
    };
    let result = pss::evaluate(lv, &meta, &spec);
    for check in result.failures() {
        let mut f = base.clone();
        f.policy = format!("PodSecurity:{lv}");
        f.rule = check.id.to_owned();
        f.result = if mode == "enforce" { "fail" } else { "warn" }.to_owned();
        f.action = mode.to_owned();
        f.message = if check.detail.is_empty() {
            check.reason.clone()
        } else {
            format!("{} ({})", check.reason, check.detail)
        };
        out.push(f);
    }
}

/// Evaluates everything once.
pub async fn run_once(
    client: &Client,
    guard: &Guard,
    options: &AuditOptions,
) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport::default();
    let ns_api: Api<Namespace> = Api::all(client.clone());
    let mut ns_labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(options.chunk_size);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let list = ns_api
            .list(&params)
            .await
            .map_err(api_err("listing namespaces"))?;
        report.list_requests += 1;
        for ns in list.items {
            ns_labels.insert(
                ns.metadata.name.unwrap_or_default(),
                ns.metadata.labels.unwrap_or_default(),
            );
        }
        token = list.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    let empty = BTreeMap::new();
    for (ar, namespaced) in resources(client, guard).await? {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(options.chunk_size);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let list = api
                .list(&params)
                .await
                .map_err(api_err(format!("listing {}", ar.plural)))?;
            report.list_requests += 1;
            for item in list.items {
                let mut object = serde_json::to_value(&item).unwrap_or(Value::Null);
                object["apiVersion"] = json!(ar.api_version);
                object["kind"] = json!(ar.kind);
                let namespace = if namespaced {
                    item.metadata.namespace.clone().unwrap_or_default()
                } else {
                    String::new()
                };
                let name = item.metadata.name.clone().unwrap_or_default();
                let labels = if ar.kind == "Namespace" && ar.group.is_empty() {
                    ns_labels.get(&name).unwrap_or(&empty)
                } else {
                    ns_labels.get(&namespace).unwrap_or(&empty)
                };
                let base = Finding {
                    namespace: namespace.clone(),
                    object: format!("{}/{}", ar.kind, name),
                    api_version: ar.api_version.clone(),
                    kind: ar.kind.clone(),
                    name: name.clone(),
                    uid: item.metadata.uid.clone().unwrap_or_default(),
                    policy: String::new(),
                    rule: String::new(),
                    result: String::new(),
                    action: String::new(),
                    message: String::new(),
                };
                report.objects += 1;
                *report
                    .objects_by_namespace
                    .entry(namespace.clone())
                    .or_default() += 1;
                pss_findings(
                    guard,
                    &ar.group,
                    &ar.plural,
                    &object,
                    labels,
                    &base,
                    &mut report.findings,
                );
                if !guard.policies.is_empty() {
                    let review = synthetic_review(&object);
                    let labels_for_match = if namespace.is_empty() {
                        None
                    } else {
                        Some(labels)
                    };
                    for v in guard.policies.evaluate(
                        &Review {
                            request: &review,
                            namespace_labels: labels_for_match,
                        },
                        Point::Audit,
                    ) {
                        let mut f = base.clone();
                        f.policy = format!("{}/{}", v.constraint_kind, v.constraint_name);
                        f.rule = v.constraint_kind.clone();
                        let action = v.actions.first().copied().unwrap_or(Action::Deny);
                        f.result = if action == Action::Warn {
                            "warn"
                        } else {
                            "fail"
                        }
                        .to_owned();
                        f.action = action.as_str().to_owned();
                        f.message = v.message;
                        report.findings.push(f);
                    }
                }
            }
            token = list.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
    }
    report.findings.sort();
    report.findings.dedup();
    Ok(report)
}

fn report_object(namespace: &str, findings: &[&Finding], objects: usize, now: Duration) -> Value {
    let mut fail = 0;
    let mut warn = 0;
    let mut failing_objects = std::collections::BTreeSet::new();
    for f in findings {
        if f.result == "fail" {
            fail += 1;
        } else {
            warn += 1;
        }
        failing_objects.insert(&f.uid);
    }
    let results: Vec<Value> = findings
        .iter()
        .take(MAX_RESULTS_PER_REPORT)
        .map(|f| {
            let mut resource =
                json!({"apiVersion": f.api_version, "kind": f.kind, "name": f.name, "uid": f.uid});
            if !f.namespace.is_empty() {
                resource["namespace"] = json!(f.namespace);
            }
            json!({"policy": f.policy, "rule": f.rule, "result": f.result, "message": f.message,
                "source": "plinth-guard", "scored": true,
                "timestamp": {"seconds": now.as_secs(), "nanos": 0},
                "properties": {"action": f.action},
                "resources": [resource]})
        })
        .collect();
    let pass = objects.saturating_sub(failing_objects.len());
    let mut doc = json!({
        "metadata": {"name": REPORT_NAME, "labels": {"app.kubernetes.io/managed-by": "plinth-guard"}},
        "summary": {"pass": pass, "fail": fail, "warn": warn, "error": 0, "skip": 0},
        "results": results,
    });
    if namespace.is_empty() {
        doc["apiVersion"] = json!("wgpolicyk8s.io/v1alpha2");
        doc["kind"] = json!("ClusterPolicyReport");
    } else {
        doc["apiVersion"] = json!("wgpolicyk8s.io/v1alpha2");
        doc["kind"] = json!("PolicyReport");
        doc["metadata"]["namespace"] = json!(namespace);
    }
    doc
}

/// The report documents for `report`: one PolicyReport per namespace with audited
/// objects, one ClusterPolicyReport.
pub fn report_objects(report: &AuditReport) -> Vec<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut by_ns: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for ns in report.objects_by_namespace.keys() {
        by_ns.entry(ns.as_str()).or_default();
    }
    by_ns.entry("").or_default();
    for f in &report.findings {
        by_ns.entry(f.namespace.as_str()).or_default().push(f);
    }
    by_ns
        .into_iter()
        .map(|(ns, findings)| {
            let objects = report
                .objects_by_namespace
                .get(ns)
                .copied()
                .unwrap_or_default();
            report_object(ns, &findings, objects, now)
        })
        .collect()
}

/// Writes the reports with server-side apply (field manager `plinth-guard`).
pub async fn publish(client: &Client, report: &AuditReport) -> Result<usize, AuditError> {
    let params = PatchParams::apply("plinth-guard").force();
    let mut written = 0;
    for doc in report_objects(report) {
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        let plural = if kind == "PolicyReport" {
            "policyreports"
        } else {
            "clusterpolicyreports"
        };
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", &kind),
            plural,
        );
        let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        api.patch(REPORT_NAME, &params, &Patch::Apply(&doc))
            .await
            .map_err(api_err(format!("writing {kind} {REPORT_NAME}")))?;
        written += 1;
    }
    Ok(written)
}
