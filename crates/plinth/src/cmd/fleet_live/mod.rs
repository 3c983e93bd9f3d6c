//! `plinth fleet create|list|delete`: the fleet on the management cluster.
//!
//! `create` server-side applies every rendered object as the apply set `fleet-NAME` (so a
//! second run reports everything unchanged), then watches the Cluster, its
//! KubeadmControlPlane and MachineDeployments, printing a line whenever one of them
//! changes, until the Cluster is `Provisioned`, the control plane is initialised and
//! available with all replicas ready, and every MachineDeployment has all replicas ready
//! (exit 1 on timeout, naming what is still pending). `list` summarises every Cluster.
//! `delete` deletes the Cluster (Cluster API cascades to what it owns), waits for it to be
//! gone, then deletes what is left of its apply set.
//!
//! Resource names come from discovery ([`Applier::resolve`]); status fields are those of
//! the Cluster API v1beta2 CRDs (v1.14): Cluster `status.phase`, KubeadmControlPlane
//! `status.initialization.controlPlaneInitialized`, `status.readyReplicas` and condition
//! `Available`, MachineDeployment `status.readyReplicas`.

mod create;
mod delete;
mod describe;
mod list;
mod upgrade;

pub use create::create;
pub use delete::delete;
pub use describe::describe;
pub use list::list;
pub use upgrade::upgrade;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, anyhow};
use futures::{StreamExt, stream::BoxStream};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::core::ApiResource;
use kube::runtime::{WatchStreamExt, wait, watcher};
use plinth_fleet::RenderSettings;
use plinth_fleet::render::{CLUSTER_GROUP, CLUSTER_NAME_LABEL, CONTROL_PLANE_GROUP, VERSION};
use plinth_kube::Applier;
use plinth_kube::applyset::{self, Change, SET_LABEL, SetOptions};
use serde_json::{Value, json};

use super::{Outcome, manifest_errors};
use crate::cli::{
    ClusterArgs, FleetCreateArgs, FleetDeleteArgs, FleetDescribeArgs, FleetListArgs,
    FleetUpgradeArgs, Format,
};
use crate::output;

/// Field manager of every write.
pub(super) const FIELD_MANAGER: &str = "plinth-fleet";
/// Namespace of the apply set's record (as `plinth apply` keeps it).
pub(super) const RECORD_NAMESPACE: &str = "kube-system";
/// The label the render puts on a Cluster with its tier.
pub(super) const TIER_LABEL: &str = "plinth.io/tier";

/// The apply set of cluster `name`.
pub(super) fn set_name(name: &str) -> String {
    format!("fleet-{name}")
}

/// The resources of the Cluster API kinds plinth watches.
pub(super) struct Kinds {
    cluster: ApiResource,
    control_plane: ApiResource,
    deployment: ApiResource,
}

pub(super) async fn resolve(
    applier: &Applier,
    group: &str,
    kind: &str,
) -> anyhow::Result<ApiResource> {
    let api_version = format!("{group}/{VERSION}");
    applier
        .resolve(&api_version, kind)
        .await
        .map(|(r, _)| r)
        .ok_or_else(|| {
            anyhow!("the management cluster does not serve {api_version} {kind}; is Cluster API installed?")
        })
}

pub(super) async fn kinds(applier: &Applier) -> anyhow::Result<Kinds> {
    Ok(Kinds {
        cluster: resolve(applier, CLUSTER_GROUP, "Cluster").await?,
        control_plane: resolve(applier, CONTROL_PLANE_GROUP, "KubeadmControlPlane").await?,
        deployment: resolve(applier, CLUSTER_GROUP, "MachineDeployment").await?,
    })
}

pub(super) fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// The `status` of condition `kind` (`True`, `False`, `Unknown`), with its reason and
/// message.
pub(super) fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(kind))
}

pub(super) fn condition_status(obj: &Value, kind: &str) -> String {
    condition(obj, kind)
        .and_then(|c| c["status"].as_str())
        .unwrap_or("Unknown")
        .to_owned()
}

pub(super) fn condition_detail(obj: &Value, kind: &str) -> String {
    match condition(obj, kind) {
        None => format!("condition {kind} not reported"),
        Some(c) => {
            let status = c["status"].as_str().unwrap_or("Unknown");
            let reason = c["reason"].as_str().unwrap_or("");
            let message = c["message"].as_str().unwrap_or("");
            let mut s = format!("condition {kind} is {status}");
            if !reason.is_empty() {
                s.push_str(&format!(" ({reason}"));
                if !message.is_empty() {
                    s.push_str(&format!(": {message}"));
                }
                s.push(')');
            }
            s
        }
    }
}

/// Control plane replicas: (ready, desired); desired defaults to 1 as in the CRD.
pub(super) fn control_plane_replicas(kcp: &Value) -> (i64, i64) {
    let ready = int(&kcp["status"]["readyReplicas"]).unwrap_or(0);
    let desired = int(&kcp["spec"]["replicas"]).unwrap_or(1);
    (ready, desired)
}

/// MachineDeployment replicas: (ready, desired); without `spec.replicas` (left to an
/// autoscaler) the desired count is what the status reports.
pub(super) fn deployment_replicas(md: &Value) -> (i64, i64) {
    let ready = int(&md["status"]["readyReplicas"]).unwrap_or(0);
    let desired = int(&md["spec"]["replicas"])
        .or_else(|| int(&md["status"]["replicas"]))
        .unwrap_or(0);
    (ready, desired)
}

pub(super) fn initialized(kcp: &Value) -> bool {
    kcp["status"]["initialization"]["controlPlaneInitialized"].as_bool() == Some(true)
}

pub(super) fn to_value(o: &DynamicObject) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}

pub(super) fn object_name(o: &DynamicObject) -> String {
    o.metadata.name.clone().unwrap_or_default()
}
