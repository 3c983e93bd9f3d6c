//! A [`ManagedCluster`] as Cluster API v1beta2 objects: core (`cluster.x-k8s.io`),
//! kubeadm control plane and bootstrap, the AWS provider (`infrastructure.cluster.x-k8s.io/
//! v1beta2`, CAPA v2) and add-ons (`addons.cluster.x-k8s.io`), shaped after the pinned
//! upstream CRDs (Cluster API v1.14, CAPA v2.13): references are `{apiGroup, kind, name}`,
//! kubeadm arguments are lists of `{name, value}`.
//!
//! Output order is fixed (infrastructure and templates before the objects that reference
//! them) and every map is sorted, so two renders of one spec are byte-identical.

mod addons;
mod cluster;

pub use addons::{ADDON_LABEL, CONFIGMAP_BUDGET, RESOURCE_SET_SECRET_TYPE};
pub use cluster::SPEC_ANNOTATION;
pub use control_plane::{ANONYMOUS_PATHS, authentication_config};
mod control_plane;
mod pools;

use std::collections::BTreeMap;

use plinth_core::manifest::Document;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::FleetError;
use crate::spec::ManagedCluster;
use crate::version::KubeVersion;

/// `cluster.x-k8s.io`, Cluster API's core group.
pub const CLUSTER_GROUP: &str = "cluster.x-k8s.io";
/// `infrastructure.cluster.x-k8s.io`, the AWS provider's group.
pub const INFRA_GROUP: &str = "infrastructure.cluster.x-k8s.io";
/// `controlplane.cluster.x-k8s.io`.
pub const CONTROL_PLANE_GROUP: &str = "controlplane.cluster.x-k8s.io";
/// `bootstrap.cluster.x-k8s.io`.
pub const BOOTSTRAP_GROUP: &str = "bootstrap.cluster.x-k8s.io";
/// `addons.cluster.x-k8s.io`.
pub const ADDONS_GROUP: &str = "addons.cluster.x-k8s.io";
/// The API version every Cluster API and CAPA object is rendered at.
pub const VERSION: &str = "v1beta2";
/// The label Cluster API uses to tie objects to their cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// The cluster autoscaler's lower bound annotation on a MachineDeployment.
pub const AUTOSCALER_MIN: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size";
/// The cluster autoscaler's upper bound annotation on a MachineDeployment.
pub const AUTOSCALER_MAX: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size";

/// Choices that are not part of a cluster's spec.
#[derive(Debug, Clone)]
pub struct RenderSettings {
    /// Namespace of every object in the management cluster (default `default`).
    pub namespace: String,
    /// The cluster autoscaler's image; default
    /// `registry.k8s.io/autoscaling/cluster-autoscaler:vMAJOR.MINOR.0` for the cluster's
    /// Kubernetes minor (the autoscaler is released once per Kubernetes minor and should
    /// match it).
    pub autoscaler_image: Option<String>,
    /// Each workload add-on's manifests by add-on name (documents as the shell read
    /// them, so errors point at their file and line). An add-on the spec names without
    /// an entry here is not installed (see [`addons_without_manifests`]).
    pub addon_manifests: BTreeMap<String, Vec<Document>>,
}

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            namespace: "default".to_owned(),
            autoscaler_image: None,
            addon_manifests: BTreeMap::new(),
        }
    }
}

/// Every object of `cluster`, in apply order.
pub fn render(
    cluster: &ManagedCluster,
    settings: &RenderSettings,
) -> Result<Vec<Value>, FleetError> {
    let version: KubeVersion = cluster.spec.kubernetes_version.parse()?;
    let ctx = Ctx {
        c: cluster,
        name: &cluster.metadata.name,
        ns: &settings.namespace,
        version,
        settings,
    };
    let mut out = vec![cluster::aws_cluster(&ctx)?];
    let (cp_template, cp_name) = content_named(
        control_plane::machine_template(&ctx),
        &format!("{}-control-plane", ctx.name),
    );
    out.push(cp_template);
    out.push(control_plane::kubeadm_control_plane(&ctx, &cp_name));
    for pool in &cluster.spec.node_pools {
        let base = pools::object_name(&ctx, pool);
        let (machines, machines_name) = content_named(pools::machine_template(&ctx, pool), &base);
        let (config, config_name) = content_named(pools::config_template(&ctx, pool), &base);
        out.push(machines);
        out.push(config);
        out.push(pools::machine_deployment(
            &ctx,
            pool,
            &machines_name,
            &config_name,
        ));
    }
    out.extend(addons::objects(&ctx)?);
    out.push(cluster::cluster(&ctx));
    Ok(out)
}

/// The workload add-ons `cluster` names for which `settings` holds no manifests, sorted:
/// they render nothing, and a shell should say so.
pub fn addons_without_manifests(
    cluster: &ManagedCluster,
    settings: &RenderSettings,
) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = cluster
        .spec
        .addons
        .iter()
        .filter_map(|n| crate::addons::find(n))
        .filter(|a| a.placement == crate::addons::Placement::Workload)
        .filter(|a| !settings.addon_manifests.contains_key(a.name))
        .map(|a| a.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Names a template `BASE-HASH`, HASH the first 8 hex digits of the SHA-256 of its
/// `spec`. Templates are treated as immutable — the AWS provider refuses changes to an
/// AWSMachineTemplate's spec, and Cluster API rolls machines only when a reference
/// changes — so changed content is a new object, and the control plane or
/// MachineDeployment pointing at it rolls its machines over. Returns the template and
/// its name.
pub(crate) fn content_named(mut template: Value, base: &str) -> (Value, String) {
    let digest = Sha256::digest(template["spec"].to_string().as_bytes());
    let suffix: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let name = format!("{base}-{suffix}");
    template["metadata"]["name"] = json!(name);
    (template, name)
}

/// What every part of the render needs.
pub(crate) struct Ctx<'a> {
    pub c: &'a ManagedCluster,
    pub name: &'a str,
    pub ns: &'a str,
    pub version: KubeVersion,
    pub settings: &'a RenderSettings,
}

impl Ctx<'_> {
    /// The AMI pinned for the cluster's version in `spec.machineImages`, if any.
    pub fn ami(&self) -> Option<&str> {
        self.c
            .spec
            .machine_images
            .iter()
            .find(|(v, _)| v.parse::<KubeVersion>().is_ok_and(|v| v == self.version))
            .map(|(_, ami)| ami.as_str())
    }

    /// `metadata` with the cluster-name label and `extra` labels.
    pub fn metadata(&self, name: &str, extra: &[(&str, &str)]) -> Value {
        let mut labels = serde_json::Map::new();
        labels.insert(CLUSTER_NAME_LABEL.to_owned(), json!(self.name));
        for (k, v) in extra {
            labels.insert((*k).to_owned(), json!(v));
        }
        json!({"name": name, "namespace": self.ns, "labels": labels})
    }
}

/// `apiVersion` of a Cluster API group at [`VERSION`].
pub(crate) fn api_version(group: &str) -> String {
    format!("{group}/{VERSION}")
}

/// A v1beta2 object reference.
pub(crate) fn reference(group: &str, kind: &str, name: &str) -> Value {
    json!({"apiGroup": group, "kind": kind, "name": name})
}

/// kubeadm arguments as the v1beta2 list of `{name, value}`, sorted by name.
pub(crate) fn args(pairs: &[(&str, String)]) -> Value {
    let mut sorted: Vec<&(&str, String)> = pairs.iter().collect();
    sorted.sort_by_key(|(k, _)| *k);
    Value::Array(
        sorted
            .into_iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
    )
}
