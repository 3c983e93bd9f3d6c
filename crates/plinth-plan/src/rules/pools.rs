//! Topology and node pools: which clusters, which pools, how large.

use super::*;

pub(super) fn tier(req: &Requirements) -> TopologyType {
    if req.multi_region {
        TopologyType::MultiRegionHa
    } else if req.availability >= 0.999 {
        TopologyType::SingleRegionHa
    } else {
        TopologyType::Basic
    }
}

pub(super) fn zones_per_cluster(req: &Requirements) -> u32 {
    if tier(req) == TopologyType::Basic {
        2
    } else {
        3
    }
}

pub(super) fn share(max_nodes: i64, percent: i64) -> u32 {
    // ceil(max_nodes × percent / 100), max_nodes ≥ 1 after validation.
    let v = max_nodes.max(0).saturating_mul(percent).saturating_add(99) / 100;
    u32::try_from(v).unwrap_or(u32::MAX)
}

pub(super) fn taint(key: &str, value: &str) -> Taint {
    Taint {
        key: key.to_owned(),
        value: value.to_owned(),
        effect: "NoSchedule".to_owned(),
    }
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn pool(
    name: &str,
    purpose: &str,
    instance_type: &str,
    min_nodes: u32,
    max_nodes: u32,
    spot: bool,
    taints: Vec<Taint>,
    role: ClusterRole,
) -> NodePool {
    NodePool {
        name: name.to_owned(),
        purpose: purpose.to_owned(),
        cluster_role: role,
        instance_type: instance_type.to_owned(),
        min_nodes,
        max_nodes,
        spot,
        labels: labels(&[
            ("plinth.io/pool", name),
            (
                "plinth.io/capacity",
                if spot { "spot" } else { "on-demand" },
            ),
        ]),
        taints,
    }
}

/// The workload-cluster pools other than `general`, then `general`'s bounds.
pub(super) fn special_pools(req: &Requirements) -> Vec<NodePool> {
    use ClusterRole::Workload as W;
    let z = zones_per_cluster(req);
    let m = req.max_nodes;
    let mut pools = vec![pool(
        "system",
        "cluster add-ons: DNS, ingress, monitoring, policy, mesh control plane",
        "c6i.2xlarge",
        z,
        z + share(m, 1).max(2),
        false,
        vec![taint("node-role.kubernetes.io/system", "true")],
        W,
    )];
    // GPU pools only for declared ML workloads (the seed added one unconditionally).
    if req.has(Workload::MlTraining) {
        pools.push(pool(
            "gpu-training",
            "model training (checkpointed, interruptible)",
            "g5.2xlarge",
            0,
            share(m, 5).max(1),
            true,
            vec![taint("nvidia.com/gpu", "true")],
            W,
        ));
    }
    if req.has(Workload::MlInference) {
        let min = if req.availability >= 0.999 { 2 } else { 1 };
        pools.push(pool(
            "gpu-inference",
            "model serving",
            "g5.xlarge",
            min,
            share(m, 5).max(min),
            false,
            vec![taint("nvidia.com/gpu", "true")],
            W,
        ));
    }
    // A memory-optimised pool when databases or caches are declared (the seed keyed it
    // on the resource-efficiency target, which says nothing about memory needs).
    if req.has(Workload::Database) || req.has(Workload::Cache) {
        let (instance, min) = if req.has(Workload::Database) {
            // Three replicas, one per zone, for a quorum.
            ("r6i.2xlarge", 3)
        } else {
            ("r6i.xlarge", 2)
        };
        pools.push(pool(
            "memory-optimized",
            "databases and caches",
            instance,
            min,
            share(m, 10).max(min),
            false,
            vec![taint("workload-type", "memory-intensive")],
            W,
        ));
    }
    if req.has(Workload::BatchJob) {
        pools.push(pool(
            "batch",
            "batch jobs (retried on interruption)",
            "c6i.2xlarge",
            0,
            share(m, 10).max(1),
            true,
            vec![taint("workload-type", "batch")],
            W,
        ));
    }
    pools
}

/// Checks that `maxNodes` leaves the general pool at least one node per zone after the
/// other pools' maxima; the message says how much to raise it.
pub fn check_capacity(req: &Requirements) -> Result<(), String> {
    let z = i64::from(zones_per_cluster(req));
    let others = special_pools(req);
    let taken: i64 = others.iter().map(|p| i64::from(p.max_nodes)).sum();
    if req.max_nodes - taken < z {
        let parts: Vec<String> = others
            .iter()
            .map(|p| format!("{} {}", p.name, p.max_nodes))
            .collect();
        return Err(format!(
            "{} nodes leave {} for the general pool after {} ; it needs at least {z} \
             (one per zone): raise maxNodes to at least {}",
            req.max_nodes,
            req.max_nodes - taken,
            parts.join(", "),
            taken + z
        ));
    }
    Ok(())
}

pub(super) fn node_pools(req: &Requirements) -> Vec<NodePool> {
    let z = zones_per_cluster(req);
    let mut pools = special_pools(req);
    let taken: i64 = pools.iter().map(|p| i64::from(p.max_nodes)).sum();
    let general_max = u32::try_from((req.max_nodes - taken).max(i64::from(z))).unwrap_or(u32::MAX);
    pools.insert(
        1,
        pool(
            "general",
            "web applications, services and message queues",
            "m6i.2xlarge",
            z,
            general_max,
            false,
            Vec::new(),
            ClusterRole::Workload,
        ),
    );
    if tier(req) == TopologyType::MultiRegionHa {
        pools.push(pool(
            "management",
            "Cluster API, GitOps and fleet tooling",
            "m6i.large",
            3,
            3,
            false,
            Vec::new(),
            ClusterRole::Management,
        ));
    }
    pools
}

pub(super) fn zones(region: &str, n: u32) -> Vec<String> {
    ["a", "b", "c"]
        .iter()
        .take(n as usize)
        .map(|s| format!("{region}{s}"))
        .collect()
}

pub(super) fn topology(req: &Requirements, default_region: &str) -> Topology {
    let kind = tier(req);
    let z = zones_per_cluster(req);
    let regions: Vec<String> = if req.regions.is_empty() {
        vec![default_region.to_owned()]
    } else {
        req.regions.clone()
    };
    let primary = regions[0].clone();
    let workload = |region: &str, prefix: &str| Cluster {
        name: format!("{prefix}-{region}"),
        role: ClusterRole::Workload,
        region: region.to_owned(),
        zones: zones(region, z),
    };
    let (reason, clusters) = match kind {
        TopologyType::MultiRegionHa => {
            let mut c: Vec<Cluster> = regions.iter().map(|r| workload(r, "prod")).collect();
            c.push(Cluster {
                name: format!("mgmt-{primary}"),
                role: ClusterRole::Management,
                region: primary.clone(),
                zones: zones(&primary, 3),
            });
            (
                format!(
                    "multiRegion: one workload cluster per region ({}), each the others' \
                     disaster-recovery site, plus a management cluster",
                    regions.join(", ")
                ),
                c,
            )
        }
        TopologyType::SingleRegionHa => (
            format!(
                "availability {} ≥ 0.999 in one region: one cluster across three zones",
                req.availability
            ),
            vec![workload(&primary, "prod")],
        ),
        TopologyType::Basic => (
            format!(
                "availability {} < 0.999: one cluster across two zones",
                req.availability
            ),
            vec![workload(&primary, "shared")],
        ),
    };
    Topology {
        kind,
        reason,
        clusters,
    }
}
