//! One worker pool: its AWSMachineTemplate (instance type, root volume, spot price,
//! tenancy), KubeadmConfigTemplate (node labels and taints at registration) and
//! MachineDeployment (replicas, version, the cluster autoscaler's bounds).

use serde_json::{Value, json};

use super::control_plane::{PATCHES_DIR, kubelet_patch_file, node_registration};
use super::{
    AUTOSCALER_MAX, AUTOSCALER_MIN, BOOTSTRAP_GROUP, CLUSTER_GROUP, CLUSTER_NAME_LABEL, Ctx,
    INFRA_GROUP, api_version, reference,
};
use crate::spec::NodePool;

/// The label tying machines to their MachineDeployment.
const DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";
/// The label naming the pool on every object of it.
pub const POOL_LABEL: &str = "plinth.io/node-pool";

pub(super) fn object_name(ctx: &Ctx<'_>, pool: &NodePool) -> String {
    format!("{}-{}", ctx.name, pool.name)
}

/// The pool's machines (named by [`super::content_named`]).
pub(super) fn machine_template(ctx: &Ctx<'_>, pool: &NodePool) -> Value {
    let mut spec = json!({
        "instanceType": pool.machine_type,
        "iamInstanceProfile": "nodes.cluster-api-provider-aws.sigs.k8s.io",
        "rootVolume": {"size": pool.root_volume_size, "type": "gp3", "encrypted": true},
        "instanceMetadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required"},
    });
    if pool.spot {
        // Without maxPrice AWS caps the bid at the on-demand price.
        spec["spotMarketOptions"] = match &pool.spot_max_price {
            Some(p) => json!({"maxPrice": p}),
            None => json!({}),
        };
    }
    if pool.dedicated {
        spec["tenancy"] = json!("dedicated");
    }
    if let Some(ami) = ctx.ami() {
        spec["ami"] = json!({"id": ami});
    }
    json!({
        "apiVersion": api_version(INFRA_GROUP),
        "kind": "AWSMachineTemplate",
        "metadata": ctx.metadata(&object_name(ctx, pool), &[(POOL_LABEL, &pool.name)]),
        "spec": {"template": {"spec": spec}},
    })
}

/// How the pool's machines join: kubelet settings, node labels and taints.
pub(super) fn config_template(ctx: &Ctx<'_>, pool: &NodePool) -> Value {
    let mut extra = Vec::new();
    if !pool.labels.is_empty() {
        let labels: Vec<String> = pool
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        extra.push(("node-labels", labels.join(",")));
    }
    let mut registration = node_registration(&extra);
    if !pool.taints.is_empty() {
        registration["taints"] = pool
            .taints
            .iter()
            .map(|t| {
                let mut taint = json!({"key": t.key, "effect": t.effect.as_str()});
                if !t.value.is_empty() {
                    taint["value"] = json!(t.value);
                }
                taint
            })
            .collect();
    }
    json!({
        "apiVersion": api_version(BOOTSTRAP_GROUP),
        "kind": "KubeadmConfigTemplate",
        "metadata": ctx.metadata(&object_name(ctx, pool), &[(POOL_LABEL, &pool.name)]),
        "spec": {"template": {"spec": {
            "joinConfiguration": {
                "nodeRegistration": registration,
                "patches": {"directory": PATCHES_DIR},
            },
            "files": [kubelet_patch_file()],
        }}},
    })
}

/// The pool's MachineDeployment: the cluster's version, its templates, the autoscaler's
/// bounds as annotations. `replicas` is set only for a fixed-size pool: for an
/// autoscaled one Cluster API starts it at the lower bound, and leaving the field out of
/// what plinth applies keeps a re-apply from resetting what the autoscaler chose.
pub(super) fn machine_deployment(
    ctx: &Ctx<'_>,
    pool: &NodePool,
    machine_template: &str,
    config_template: &str,
) -> Value {
    let name = object_name(ctx, pool);
    let mut metadata = ctx.metadata(&name, &[(POOL_LABEL, &pool.name)]);
    metadata["annotations"] = json!({
        AUTOSCALER_MAX: pool.max_nodes.to_string(),
        AUTOSCALER_MIN: pool.min_nodes.to_string(),
    });
    let selector = json!({CLUSTER_NAME_LABEL: ctx.name, DEPLOYMENT_NAME_LABEL: name});
    let mut md = json!({
        "apiVersion": api_version(CLUSTER_GROUP),
        "kind": "MachineDeployment",
        "metadata": metadata,
        "spec": {
            "clusterName": ctx.name,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {
                    CLUSTER_NAME_LABEL: ctx.name,
                    DEPLOYMENT_NAME_LABEL: name,
                    POOL_LABEL: pool.name,
                }},
                "spec": {
                    "clusterName": ctx.name,
                    "version": ctx.c.spec.kubernetes_version,
                    "bootstrap": {"configRef": reference(BOOTSTRAP_GROUP, "KubeadmConfigTemplate", config_template)},
                    "infrastructureRef": reference(INFRA_GROUP, "AWSMachineTemplate", machine_template),
                },
            },
        },
    });
    if pool.min_nodes == pool.max_nodes {
        md["spec"]["replicas"] = json!(pool.min_nodes);
    }
    md
}
