//! The `Cluster` and its `AWSCluster` (VPC, subnets per zone, bastion).

use ipnet::Ipv4Net;
use serde_json::{Value, json};

use super::{CLUSTER_GROUP, CONTROL_PLANE_GROUP, Ctx, INFRA_GROUP, api_version, reference};
use crate::FleetError;
use crate::network::{self, NetworkError};

/// The annotation on the Cluster holding its ManagedCluster spec as JSON.
pub const SPEC_ANNOTATION: &str = "plinth.io/managed-cluster";

/// The Cluster: networks and references to its infrastructure and control plane.
pub(super) fn cluster(ctx: &Ctx<'_>) -> Value {
    let mut metadata = ctx.metadata(ctx.name, &[("plinth.io/tier", ctx.c.spec.tier.as_str())]);
    if let Some(labels) = metadata["labels"].as_object_mut() {
        for (k, v) in &ctx.c.metadata.labels {
            labels.entry(k.clone()).or_insert_with(|| json!(v));
        }
    }
    // The spec itself, so `plinth fleet describe` can price and review the cluster from
    // the management cluster alone (the management cluster is the source of truth).
    if let (Some(meta), Ok(text)) = (metadata.as_object_mut(), serde_json::to_string(ctx.c)) {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(SPEC_ANNOTATION.to_owned(), json!(text));
        }
    }
    let n = &ctx.c.spec.networking;
    json!({
        "apiVersion": api_version(CLUSTER_GROUP),
        "kind": "Cluster",
        "metadata": metadata,
        "spec": {
            "clusterNetwork": {
                "pods": {"cidrBlocks": [n.pod_cidr]},
                "services": {"cidrBlocks": [n.service_cidr]},
            },
            "infrastructureRef": reference(INFRA_GROUP, "AWSCluster", ctx.name),
            "controlPlaneRef": reference(
                CONTROL_PLANE_GROUP,
                "KubeadmControlPlane",
                &format!("{}-control-plane", ctx.name),
            ),
        },
    })
}

/// The AWSCluster: region, a managed VPC with one private and one public subnet per zone
/// (CAPA creates them; `id`s not starting with `subnet-` name subnets it manages), and a
/// bastion for production and staging.
pub(super) fn aws_cluster(ctx: &Ctx<'_>) -> Result<Value, FleetError> {
    let n = &ctx.c.spec.networking;
    let vpc: Ipv4Net = n
        .vpc_cidr
        .parse()
        .map_err(|_| NetworkError::BadCidr(n.vpc_cidr.clone()))?;
    let zones = ctx.c.availability_zones();
    let subnets: Vec<Value> = network::subnets(vpc, &zones)?
        .into_iter()
        .map(|s| {
            let kind = if s.public { "public" } else { "private" };
            let role = if s.public {
                "kubernetes.io/role/elb"
            } else {
                "kubernetes.io/role/internal-elb"
            };
            let id = format!("{}-subnet-{kind}-{}", ctx.name, s.zone);
            json!({
                "id": id,
                "availabilityZone": s.zone,
                "cidrBlock": s.cidr.to_string(),
                "isPublic": s.public,
                "tags": {"Name": id, role: "1"},
            })
        })
        .collect();
    Ok(json!({
        "apiVersion": api_version(INFRA_GROUP),
        "kind": "AWSCluster",
        "metadata": ctx.metadata(ctx.name, &[]),
        "spec": {
            "region": ctx.c.spec.region,
            "network": {
                "vpc": {
                    "cidrBlock": vpc.trunc().to_string(),
                    "tags": {"Name": format!("{}-vpc", ctx.name)},
                },
                "subnets": subnets,
            },
            "bastion": {"enabled": ctx.c.spec.tier.hardened()},
        },
    }))
}
