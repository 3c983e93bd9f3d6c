//! Add-ons: workload-cluster add-ons through a ClusterResourceSet, and the cluster
//! autoscaler in the management cluster (the `clusterapi` provider scales
//! MachineDeployments there and reads the workload cluster through the kubeconfig Secret
//! Cluster API writes).
//!
//! A workload add-on's manifests are what the platform team vendored (pinned upstream
//! release YAML, `helm template` output) and handed over in
//! [`RenderSettings::addon_manifests`](super::RenderSettings): plinth never invents them.
//! Its documents go into ConfigMaps — split by document so that none exceeds
//! [`CONFIGMAP_BUDGET`] bytes, under the 1 MiB object limit — and any `v1` Secret among
//! them into a Secret of type `addons.cluster.x-k8s.io/resource-set`, as Cluster API
//! requires for sensitive content. The ClusterResourceSet selects the Cluster by its
//! cluster-name label and lists them in a fixed order, with strategy `Reconcile` so a
//! changed manifest reaches the cluster. An add-on named in the spec without manifests
//! renders nothing; [`super::addons_without_manifests`] says which, for the shell to
//! report.

use base64::Engine as _;
use plinth_core::manifest::Document;
use serde_json::{Value, json};

use super::{ADDONS_GROUP, CLUSTER_GROUP, CLUSTER_NAME_LABEL, Ctx, INFRA_GROUP, api_version};
use crate::FleetError;
use crate::addons::{self, Placement};

/// The most bytes of manifests one ConfigMap carries (the API server refuses objects
/// over 1 MiB; the rest is left for metadata and managed fields).
pub const CONFIGMAP_BUDGET: usize = 900 * 1024;
/// The Secret type Cluster API reads ClusterResourceSet Secrets of.
pub const RESOURCE_SET_SECRET_TYPE: &str = "addons.cluster.x-k8s.io/resource-set";
/// The label naming the add-on an object carries.
pub const ADDON_LABEL: &str = "plinth.io/addon";

/// Every add-on object, ConfigMaps and Secrets before the set that lists them.
pub(super) fn objects(ctx: &Ctx<'_>) -> Result<Vec<Value>, FleetError> {
    let mut out = Vec::new();
    let mut resources = Vec::new();
    for addon in named(ctx) {
        match addon.placement {
            Placement::Workload => {
                let Some(docs) = ctx.settings.addon_manifests.get(addon.name) else {
                    continue;
                };
                for (kind, object) in workload(ctx, addon.name, docs)? {
                    resources.push(json!({"kind": kind, "name": object["metadata"]["name"]}));
                    out.push(object);
                }
            }
            Placement::Management => out.extend(autoscaler(ctx)),
        }
    }
    if !resources.is_empty() {
        out.push(json!({
            "apiVersion": api_version(ADDONS_GROUP),
            "kind": "ClusterResourceSet",
            "metadata": ctx.metadata(&format!("{}-addons", ctx.name), &[]),
            "spec": {
                "clusterSelector": {"matchLabels": {CLUSTER_NAME_LABEL: ctx.name}},
                "resources": resources,
                "strategy": "Reconcile",
            },
        }));
    }
    Ok(out)
}

/// The known add-ons the spec names, sorted by name.
pub(super) fn named<'a>(ctx: &'a Ctx<'_>) -> impl Iterator<Item = &'static addons::Addon> + 'a {
    let mut names: Vec<&str> = ctx.c.spec.addons.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().filter_map(addons::find)
}

fn addon_error(addon: &str, doc: &Document, message: String) -> FleetError {
    FleetError::AddonManifest {
        addon: addon.to_owned(),
        location: doc.location().to_string(),
        message,
    }
}

/// One workload add-on's ConfigMaps (and Secret), as (kind, object).
fn workload(
    ctx: &Ctx<'_>,
    addon: &str,
    docs: &[Document],
) -> Result<Vec<(&'static str, Value)>, FleetError> {
    if docs.is_empty() {
        return Err(FleetError::AddonManifest {
            addon: addon.to_owned(),
            location: String::new(),
            message: "no documents; give the add-on's manifests or leave it out of spec.addons"
                .to_owned(),
        });
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = Vec::new();
    for doc in docs {
        let v = doc.value();
        let has = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        for (pointer, field) in [
            ("/apiVersion", "apiVersion"),
            ("/kind", "kind"),
            ("/metadata/name", "metadata.name"),
        ] {
            if !has(pointer) {
                return Err(addon_error(
                    addon,
                    doc,
                    format!("the object has no {field}"),
                ));
            }
        }
        let text = serde_saphyr::to_string(v)
            .map_err(|e| addon_error(addon, doc, format!("cannot be written as YAML: {e}")))?;
        if v["apiVersion"] == "v1" && v["kind"] == "Secret" {
            secrets.push(text);
            continue;
        }
        if text.len() > CONFIGMAP_BUDGET {
            return Err(addon_error(
                addon,
                doc,
                format!(
                    "{} bytes: larger than one ConfigMap may carry ({CONFIGMAP_BUDGET} bytes)",
                    text.len()
                ),
            ));
        }
        match chunks.last_mut() {
            Some(last) if last.len() + text.len() + 4 <= CONFIGMAP_BUDGET => {
                last.push_str("---\n");
                last.push_str(&text);
            }
            _ => chunks.push(text),
        }
    }
    let key = format!("{addon}.yaml");
    let base = format!("{}-addon-{addon}", ctx.name);
    let mut out = Vec::new();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let name = if i == 0 {
            base.clone()
        } else {
            format!("{base}-{}", i + 1)
        };
        out.push((
            "ConfigMap",
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": ctx.metadata(&name, &[(ADDON_LABEL, addon)]),
                "data": {&key: chunk},
            }),
        ));
    }
    if !secrets.is_empty() {
        let text = secrets.join("---\n");
        out.push((
            "Secret",
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": ctx.metadata(&format!("{base}-secrets"), &[(ADDON_LABEL, addon)]),
                "type": RESOURCE_SET_SECRET_TYPE,
                "data": {&key: base64::engine::general_purpose::STANDARD.encode(text)},
            }),
        ));
    }
    Ok(out)
}

/// The cluster autoscaler (clusterapi provider) for this cluster, in the management
/// cluster: ServiceAccount, Role and RoleBinding for the Cluster API objects of the
/// namespace, and the Deployment with the workload cluster's kubeconfig mounted.
fn autoscaler(ctx: &Ctx<'_>) -> Vec<Value> {
    let name = format!("{}-cluster-autoscaler", ctx.name);
    let image = ctx.settings.autoscaler_image.clone().unwrap_or_else(|| {
        format!(
            "registry.k8s.io/autoscaling/cluster-autoscaler:v{}.{}.0",
            ctx.version.major, ctx.version.minor
        )
    });
    let labels =
        json!({CLUSTER_NAME_LABEL: ctx.name, "app.kubernetes.io/name": "cluster-autoscaler"});
    let meta = || ctx.metadata(&name, &[("app.kubernetes.io/name", "cluster-autoscaler")]);
    let rw = ["get", "list", "watch", "update", "patch"];
    let ro = ["get", "list", "watch"];
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta(),
            "rules": [
                {"apiGroups": [CLUSTER_GROUP],
                 "resources": ["machinedeployments", "machinedeployments/scale", "machinepools",
                               "machinepools/scale", "machines", "machinesets"],
                 "verbs": rw},
                {"apiGroups": [INFRA_GROUP], "resources": ["awsmachinetemplates"], "verbs": ro},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ctx.ns}],
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": name,
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "cluster-autoscaler",
                            "image": image,
                            "command": ["/cluster-autoscaler"],
                            "args": [
                                "--cloud-provider=clusterapi",
                                "--kubeconfig=/etc/kubernetes/workload/value",
                                "--clusterapi-cloud-config-authoritative",
                                format!("--node-group-auto-discovery=clusterapi:namespace={},clusterName={}", ctx.ns, ctx.name),
                                "--scale-down-delay-after-add=10m",
                                "--scale-down-unneeded-time=10m",
                                "--scale-down-utilization-threshold=0.5",
                            ],
                            "resources": {"requests": {"cpu": "100m", "memory": "300Mi"},
                                          "limits": {"memory": "600Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": false,
                                "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "workload-kubeconfig",
                                "mountPath": "/etc/kubernetes/workload", "readOnly": true}],
                        }],
                        "volumes": [{"name": "workload-kubeconfig",
                            "secret": {"secretName": format!("{}-kubeconfig", ctx.name)}}],
                    },
                },
            },
        }),
    ]
}
