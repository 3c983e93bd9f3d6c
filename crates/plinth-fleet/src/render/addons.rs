//! Add-ons: workload-cluster add-ons through a ClusterResourceSet (one ConfigMap per
//! add-on, the set selecting the Cluster by its cluster-name label, reconciled so a
//! changed manifest reaches the cluster), and the cluster autoscaler in the management
//! cluster (the `clusterapi` provider scales MachineDeployments there and reads the
//! workload cluster through the kubeconfig Secret Cluster API writes).
//!
//! The workload manifests are deliberately small — each add-on's namespace — so the
//! mechanism works end to end; the full upstream manifests are to be vendored at build
//! time (pinned, checksummed) and put into the same ConfigMaps.

use serde_json::{Value, json};

use super::{ADDONS_GROUP, CLUSTER_GROUP, CLUSTER_NAME_LABEL, Ctx, INFRA_GROUP, api_version};
use crate::addons::{self, Placement};

/// The annotation saying what a ConfigMap's manifests are.
pub const MANIFEST_ANNOTATION: &str = "plinth.io/addon-manifests";

/// Every add-on object, ConfigMaps before the set that lists them.
pub(super) fn objects(ctx: &Ctx<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut resources = Vec::new();
    let mut names: Vec<&str> = ctx.c.spec.addons.iter().map(String::as_str).collect();
    names.sort_unstable();
    for name in names {
        let Some(addon) = addons::find(name) else {
            continue;
        };
        match addon.placement {
            Placement::Workload => {
                let cm = format!("{}-addon-{}", ctx.name, addon.name);
                let manifest = json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": addon.namespace}});
                let mut metadata = ctx.metadata(&cm, &[("plinth.io/addon", addon.name)]);
                metadata["annotations"] = json!({MANIFEST_ANNOTATION:
                    "namespace only; vendor the upstream manifests at build time"});
                out.push(json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": metadata,
                    "data": {format!("{}.yaml", addon.name): format!("{manifest:#}\n")},
                }));
                resources.push(json!({"kind": "ConfigMap", "name": cm}));
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
    out
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
