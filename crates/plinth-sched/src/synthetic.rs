//! A synthetic cluster in the seed's pools and a pending mix of all six profiles, for
//! benchmarks. Deterministic: the same sizes and seed give the same cluster.
//!
//! Pools (share of nodes): system 4% (tainted), application 56% (web labels, a fifth of
//! them spot), ml-workload 8% (V100 dedicated / T4, tainted), memory-optimized 32%
//! (dedicated, tainted), over three zones. Pods: web 35% (zone spread per deployment),
//! batch 20%, cache 12%, database 8% (hostname anti-affinity per database), ML
//! training 2.5%, ML inference 2.5%, no profile 20%.

use plinth_core::rng::SplitMix64;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::SchedulerConfig;
use crate::model::{Node, Pod};
use crate::priority::PriorityClasses;
use crate::snapshot::Snapshot;

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

fn node_json(
    name: &str,
    zone: &str,
    cpu: &str,
    mem: &str,
    gpu: u32,
    labels: &[(&str, &str)],
    taint: Option<(&str, &str)>,
) -> Value {
    let mut l: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.insert("kubernetes.io/hostname".into(), name.into());
    l.insert("topology.kubernetes.io/zone".into(), zone.into());
    let mut alloc = json!({"cpu": cpu, "memory": mem, "pods": "110"});
    if gpu > 0 {
        alloc["nvidia.com/gpu"] = json!(gpu.to_string());
    }
    let mut spec = json!({});
    if let Some((k, v)) = taint {
        spec["taints"] = json!([{"key": k, "value": v, "effect": "NoSchedule"}]);
    }
    json!({"metadata": {"name": name, "labels": l}, "spec": spec, "status": {"allocatable": alloc}})
}

/// `nodes` nodes of the seed's pools, compiled for the engine.
pub fn nodes(count: usize, seed: u64) -> Vec<Node> {
    node_objects(count, seed)
        .iter()
        // Built from constants; a failure is a bug in this generator.
        .map(|n| Node::from_k8s(n).expect("synthetic node compiles"))
        .collect()
}

/// `nodes` nodes of the seed's pools, as Kubernetes objects (to create through an API
/// server, as upstream's scheduler_perf does).
pub fn node_objects(count: usize, seed: u64) -> Vec<k8s_openapi::api::core::v1::Node> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|i| {
            let zone = ZONES[i % 3];
            let roll = rng.below(100);
            let v = match roll {
                0..=3 => node_json(
                    &format!("system-{i}"),
                    zone,
                    "7910m",
                    "14Gi",
                    0,
                    &[],
                    Some(("node-role.kubernetes.io/system", "true")),
                ),
                4..=59 => {
                    let spot = rng.below(5) == 0;
                    let generation = if rng.below(3) == 0 {
                        "previous"
                    } else {
                        "current"
                    };
                    let net = if rng.below(2) == 0 {
                        "high"
                    } else {
                        "moderate"
                    };
                    let mut labels = vec![
                        ("workload-type", "web"),
                        ("instance-generation", generation),
                        ("network-performance", net),
                    ];
                    if spot {
                        labels.push(("spot-instance", "true"));
                    }
                    node_json(
                        &format!("application-{i}"),
                        zone,
                        "15890m",
                        "29Gi",
                        0,
                        &labels,
                        None,
                    )
                }
                60..=63 => node_json(
                    &format!("ml-v100-{i}"),
                    zone,
                    "31890m",
                    "240Gi",
                    4,
                    &[
                        ("accelerator", "gpu"),
                        ("gpu-type", "v100"),
                        ("node-type", "dedicated"),
                        ("infiniband", "available"),
                    ],
                    Some(("workload-type", "ml")),
                ),
                64..=67 => node_json(
                    &format!("ml-t4-{i}"),
                    zone,
                    "15890m",
                    "61Gi",
                    1,
                    &[
                        ("accelerator", "gpu"),
                        ("gpu-type", "t4"),
                        ("network-performance", "high"),
                    ],
                    Some(("workload-type", "ml")),
                ),
                _ => node_json(
                    &format!("memory-{i}"),
                    zone,
                    "15890m",
                    "120Gi",
                    0,
                    &[
                        ("memory-optimized", "true"),
                        ("storage-type", "nvme"),
                        ("workload-type", "stateful"),
                        ("node-type", "dedicated"),
                        ("local-ssd", "available"),
                    ],
                    Some(("workload-type", "memory-intensive")),
                ),
            };
            // Built above from constants; a failure is a bug in this generator.
            serde_json::from_value(v).expect("synthetic node JSON is a Node")
        })
        .collect()
}

/// `count` pending pods of mixed profiles, compiled for the engine.
pub fn pods(
    count: usize,
    seed: u64,
    config: &SchedulerConfig,
    classes: &PriorityClasses,
) -> Vec<Arc<Pod>> {
    pod_objects(count, seed, "bench", "enterprise-scheduler")
        .iter()
        .filter_map(|raw| {
            Pod::from_k8s(raw, classes, &config.profiles)
                .ok()
                .map(Arc::new)
        })
        .collect()
}

/// `count` pending pods of mixed profiles as Kubernetes objects in `namespace`, for
/// scheduler `scheduler_name`.
pub fn pod_objects(
    count: usize,
    seed: u64,
    namespace: &str,
    scheduler_name: &str,
) -> Vec<k8s_openapi::api::core::v1::Pod> {
    let mut rng = SplitMix64::new(seed ^ 0xA5A5);
    let mem_tol = json!([{"key": "workload-type", "operator": "Equal", "value": "memory-intensive", "effect": "NoSchedule"}]);
    let ml_tol = json!([{"key": "workload-type", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}]);
    (0..count)
        .filter_map(|i| {
            let roll = rng.below(1000);
            let (kind, cpu, mem, class, extra): (&str, &str, &str, &str, Value) = match roll {
                0..=349 => {
                    let app = format!("web-{}", rng.below(40));
                    ("web-application", "500m", "1Gi", "high", json!({"app": app, "spread": true}))
                }
                350..=549 => ("batch-job", "1", "2Gi", "low", json!({})),
                550..=669 => ("cache", "500m", "4Gi", "high", json!({"tol": mem_tol.clone()})),
                670..=749 => {
                    let app = format!("db-{}", rng.below(200));
                    ("database", "2", "16Gi", "critical", json!({"tol": mem_tol.clone(), "app": app, "anti": true}))
                }
                750..=774 => ("ml-training", "4", "32Gi", "medium", json!({"tol": ml_tol.clone(), "gpu": 1})),
                775..=799 => ("ml-inference", "2", "8Gi", "high", json!({"tol": ml_tol.clone(), "gpu": 1})),
                _ => ("", "250m", "512Mi", "medium", json!({})),
            };
            let app = extra["app"].as_str().map_or_else(|| format!("{}-{}", if kind.is_empty() { "plain" } else { kind }, i % 50), str::to_owned);
            let mut labels = json!({"app": app});
            if !kind.is_empty() {
                labels["workload.enterprise.io/type"] = json!(kind);
            }
            let mut requests = json!({"cpu": cpu, "memory": mem});
            // Extended resources cannot be overcommitted: the API server wants limit = request.
            let mut limits = json!({});
            if let Some(g) = extra["gpu"].as_u64() {
                requests["nvidia.com/gpu"] = json!(g.to_string());
                limits["nvidia.com/gpu"] = json!(g.to_string());
            }
            let mut spec = json!({
                "schedulerName": scheduler_name,
                "priorityClassName": class,
                "containers": [{"name": "main", "image": "registry.example.com/bench:1", "resources": {"requests": requests.clone(), "limits": limits}}],
            });
            if let Some(t) = extra.get("tol") {
                spec["tolerations"] = t.clone();
            }
            if extra["spread"] == json!(true) {
                spec["topologySpreadConstraints"] = json!([{"maxSkew": 5, "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": app}}}]);
            }
            if extra["anti"] == json!(true) {
                spec["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}]}});
            }
            let v = json!({"metadata": {"name": format!("pod-{i}"), "namespace": namespace, "labels": labels}, "spec": spec});
            serde_json::from_value(v).ok()
        })
        .collect()
}

/// A snapshot of `node_count` nodes (no pods placed yet).
pub fn snapshot(node_count: usize, seed: u64) -> Snapshot {
    let mut s = Snapshot::new(PriorityClasses::seed());
    for n in nodes(node_count, seed) {
        s.upsert_node(n);
    }
    s.set_namespace("bench".into(), BTreeMap::new());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_complete() {
        let config = SchedulerConfig::default();
        let a = pods(500, 7, &config, &PriorityClasses::seed());
        let b = pods(500, 7, &config, &PriorityClasses::seed());
        assert_eq!(a.len(), 500, "every generated pod compiles");
        assert_eq!(
            a.iter().map(|p| p.key()).collect::<Vec<_>>(),
            b.iter().map(|p| p.key()).collect::<Vec<_>>()
        );
        let s = snapshot(300, 7);
        assert_eq!(s.node_count(), 300);
        let kinds: std::collections::BTreeSet<String> = a
            .iter()
            .filter_map(|p| p.profile.clone().ok().flatten().map(|p| p.name.clone()))
            .collect();
        assert_eq!(kinds.len(), 6, "all six profiles: {kinds:?}");
    }
}
