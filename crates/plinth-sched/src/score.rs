//! The composite score: resource fit (40%), affinity (25%), SLA (20%) and load balance
//! (15%) by default, each part 0–100 and the weighted total 0–100.
//!
//! - **resource**: the node's utilisation *after* placing the pod, per resource
//!   (`100 × (1 − used/allocatable)`), averaged with the profile's CPU, memory and GPU
//!   weights (equal CPU/memory weights for a pod without a profile). A GPU-weighted
//!   profile scores 0 for GPU on a node without GPUs.
//! - **affinity**: the mean of the parts that apply — the profile's preferred labels (sum
//!   of the weights of the labels the node has, key *and* value, over the total, halved
//!   for each anti-affinity rule the node matches); the pod's preferred node-affinity
//!   terms (normalised to the best feasible node); and `PreferNoSchedule` taints the pod
//!   does not tolerate (fewest is best). 100 when none applies.
//! - **sla**: 100, minus 50 when the node's zone is measured slower than the profile's
//!   `max_latency_ms` (or up to 20 in proportion when it is within it — only for zones
//!   with a configured latency; unknown zones are neutral), minus 30 for spot capacity
//!   under an availability target of 99.9% or more, minus 20 for a shared workload on a
//!   dedicated node. 100 for a pod without a profile.
//! - **load balance**: 70% the node's current utilisation (mean of CPU and memory,
//!   lower is better) and 30% zone spread of the pod's workload type (fewer pods of the
//!   type in the node's zone than in the busiest zone is better).

use serde::Serialize;

use crate::config::ScoreWeights;
use crate::framework::Cycle;
use crate::model::TaintEffect;
use crate::model::tolerated;
use crate::plugins::DEDICATED_LABEL;
use crate::profile::Isolation;
use crate::resources::{EPHEMERAL_STORAGE, NVIDIA_GPU};
use crate::snapshot::NodeState;

/// Share of the load-balance part given to node utilisation (the rest is zone spread).
const UTILISATION_SHARE: f64 = 0.7;

/// The parts of a node's score and their weighted total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    /// Resource fit after placement, 0–100.
    pub resource: f64,
    /// Preferences, 0–100.
    pub affinity: f64,
    /// Service-level fit, 0–100.
    pub sla: f64,
    /// Load balance, 0–100.
    pub load_balance: f64,
    /// Weighted total, 0–100.
    pub total: f64,
}

/// The parts that depend only on the node object and the pod's node-static fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticScore {
    /// The profile's label preference score (`None` without a profile).
    pub profile_affinity: Option<f64>,
    /// Sum of the weights of the pod's preferred node-affinity terms the node matches.
    pub preferred_raw: f64,
    /// Number of `PreferNoSchedule` taints the pod does not tolerate.
    pub taint_raw: f64,
    /// The SLA part.
    pub sla: f64,
}

/// Computes the node-static parts.
pub fn static_score(cycle: &Cycle<'_>, node: &NodeState) -> StaticScore {
    let labels = &node.node.labels;
    let profile_affinity = cycle.profile.map(|p| {
        let rules = &p.affinity;
        let total: u32 = rules.preferred_labels.iter().map(|l| l.weight).sum();
        let mut score = if total == 0 {
            100.0
        } else {
            let matched: u32 = rules
                .preferred_labels
                .iter()
                .filter(|l| match (&l.value, labels.get(&l.key)) {
                    (Some(want), Some(have)) => want == have,
                    (None, Some(_)) => true,
                    (_, None) => false,
                })
                .map(|l| l.weight)
                .sum();
            100.0 * f64::from(matched) / f64::from(total)
        };
        for rule in &rules.anti_affinity_rules {
            if rule.matches(labels) {
                score *= 0.5;
            }
        }
        score
    });
    let preferred_raw = cycle
        .pod
        .preferred_node_affinity
        .iter()
        .filter(|(_, term)| term.matches(&node.node))
        .map(|(w, _)| f64::from(*w))
        .sum();
    let taint_raw = node
        .node
        .taints
        .iter()
        .filter(|t| {
            t.effect == TaintEffect::PreferNoSchedule && !tolerated(&cycle.pod.tolerations, t)
        })
        .count() as f64;
    let sla = match cycle.profile {
        None => 100.0,
        Some(p) => {
            let mut score = 100.0;
            if let Some(latency) = node
                .node
                .zone()
                .and_then(|z| cycle.config.zone_latency_ms.get(z))
            {
                let max = f64::from(p.sla.max_latency_ms.max(1));
                let l = f64::from(*latency);
                score -= if l > max { 50.0 } else { 20.0 * l / max };
            }
            if p.sla.availability_pct >= 99.9 - 1e-9 && cycle.config.is_spot(labels) {
                score -= 30.0;
            }
            if p.sla.isolation_level == Isolation::Shared
                && labels.get(DEDICATED_LABEL.0).map(String::as_str) == Some(DEDICATED_LABEL.1)
            {
                score -= 20.0;
            }
            f64::max(score, 0.0)
        }
    };
    StaticScore {
        profile_affinity,
        preferred_raw,
        taint_raw,
        sla,
    }
}

fn free_share(used: i64, want: i64, allocatable: i64) -> f64 {
    if allocatable <= 0 {
        return 0.0;
    }
    let util = (used.saturating_add(want)) as f64 / allocatable as f64;
    (100.0 * (1.0 - util)).clamp(0.0, 100.0)
}

/// The resource part: utilisation after placement, weighted by the profile.
pub fn resource_score(cycle: &Cycle<'_>, node: &NodeState) -> f64 {
    let pod = cycle.pod;
    let alloc = &node.node.allocatable;
    let cpu = free_share(node.nonzero_cpu, pod.requests.nonzero_cpu, alloc.cpu);
    let mem = free_share(
        node.nonzero_memory,
        pod.requests.nonzero_memory,
        alloc.memory,
    );
    let (wc, wm, wg, ws) = match cycle.profile {
        Some(p) => (
            p.resources.cpu_weight,
            p.resources.memory_weight,
            p.resources.gpu_weight,
            p.resources.storage_weight,
        ),
        None => (1.0, 1.0, 0.0, 0.0),
    };
    let mut sum = wc * cpu + wm * mem;
    let mut weights = wc + wm;
    if wg > 0.0 {
        let gpu = free_share(
            node.requested.get(NVIDIA_GPU),
            pod.requests.requests.get(NVIDIA_GPU),
            alloc.get(NVIDIA_GPU),
        );
        sum += wg * gpu;
        weights += wg;
    }
    if ws > 0.0 && pod.requests.requests.ephemeral_storage > 0 {
        let storage = free_share(
            node.requested.get(EPHEMERAL_STORAGE),
            pod.requests.requests.ephemeral_storage,
            alloc.ephemeral_storage,
        );
        sum += ws * storage;
        weights += ws;
    }
    if weights > 0.0 { sum / weights } else { 0.0 }
}

/// The node-utilisation half of load balance (before placement).
pub fn utilisation_score(node: &NodeState) -> f64 {
    let alloc = &node.node.allocatable;
    (free_share(node.nonzero_cpu, 0, alloc.cpu) + free_share(node.nonzero_memory, 0, alloc.memory))
        / 2.0
}

/// How many pods of the pod's workload type are in the node's zone (`None` when the pod
/// has no profile or the node no zone).
pub fn zone_count(cycle: &Cycle<'_>, node: &NodeState) -> Option<u32> {
    let counts = cycle.zone_counts.as_ref()?;
    let zone = usize::from(node.zone?);
    Some(counts.get(zone).copied().unwrap_or(0))
}

/// Maxima over the feasible nodes, for the parts normalised against the best node, and
/// the weights (normalised once per cycle).
#[derive(Debug, Clone, Copy)]
pub struct Normaliser {
    /// The part weights, summing to 1.
    pub weights: ScoreWeights,
    /// Highest preferred node-affinity raw score.
    pub max_preferred: f64,
    /// Highest count of untolerated `PreferNoSchedule` taints.
    pub max_taints: f64,
    /// Highest same-type pod count of any feasible node's zone.
    pub max_zone: u32,
}

impl Normaliser {
    /// An empty normaliser for this cycle's configuration.
    pub fn new(cycle: &Cycle<'_>) -> Normaliser {
        Normaliser {
            weights: cycle.config.weights.normalised().unwrap_or_default(),
            max_preferred: 0.0,
            max_taints: 0.0,
            max_zone: 0,
        }
    }

    /// Folds in one feasible node.
    pub fn add(&mut self, s: &StaticScore, zone: Option<u32>) {
        self.max_preferred = self.max_preferred.max(s.preferred_raw);
        self.max_taints = self.max_taints.max(s.taint_raw);
        self.max_zone = self.max_zone.max(zone.unwrap_or(0));
    }
    /// Combines two partial maxima.
    pub fn merge(mut self, o: Normaliser) -> Normaliser {
        self.max_preferred = self.max_preferred.max(o.max_preferred);
        self.max_taints = self.max_taints.max(o.max_taints);
        self.max_zone = self.max_zone.max(o.max_zone);
        self
    }
}

/// The final breakdown of one feasible node.
pub fn combine(
    cycle: &Cycle<'_>,
    s: &StaticScore,
    resource: f64,
    utilisation: f64,
    zone: Option<u32>,
    norm: &Normaliser,
) -> Breakdown {
    let (mut sum, mut n) = (0.0, 0u32);
    if let Some(p) = s.profile_affinity {
        sum += p;
        n += 1;
    }
    if norm.max_preferred > 0.0 {
        sum += 100.0 * s.preferred_raw / norm.max_preferred;
        n += 1;
    }
    if norm.max_taints > 0.0 {
        sum += 100.0 * (1.0 - s.taint_raw / norm.max_taints);
        n += 1;
    }
    let affinity = if n == 0 { 100.0 } else { sum / f64::from(n) };
    let load_balance = match zone {
        Some(c) if norm.max_zone > 0 => {
            let spread = 100.0 * (1.0 - f64::from(c) / f64::from(norm.max_zone));
            UTILISATION_SHARE * utilisation + (1.0 - UTILISATION_SHARE) * spread
        }
        Some(_) => UTILISATION_SHARE * utilisation + (1.0 - UTILISATION_SHARE) * 100.0,
        None => utilisation,
    };
    let _ = cycle;
    let w = norm.weights;
    let total = w.resource * resource
        + w.affinity * affinity
        + w.sla * s.sla
        + w.load_balance * load_balance;
    Breakdown {
        resource,
        affinity,
        sla: s.sla,
        load_balance,
        total: total.clamp(0.0, 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SchedulerConfig;
    use crate::cycle::prefilter;
    use crate::testkit::{Fixture, NodeB, PodB, node, pod};
    use std::collections::BTreeSet;

    /// Scores `p` on every node of the fixture (all assumed feasible), by node name.
    fn scores(f: &Fixture, p: &PodB) -> Vec<(String, Breakdown)> {
        let pod = p.build();
        let profile = pod.profile.clone().expect("profile");
        let cycle = prefilter(
            &f.snapshot,
            &pod,
            profile.as_deref(),
            &f.config,
            BTreeSet::new(),
        );
        let mut norm = Normaliser::new(&cycle);
        let statics: Vec<_> = f
            .snapshot
            .nodes()
            .iter()
            .map(|n| static_score(&cycle, n))
            .collect();
        for (n, s) in f.snapshot.nodes().iter().zip(&statics) {
            norm.add(s, zone_count(&cycle, n));
        }
        f.snapshot
            .nodes()
            .iter()
            .zip(&statics)
            .map(|(n, s)| {
                let b = combine(
                    &cycle,
                    s,
                    resource_score(&cycle, n),
                    utilisation_score(n),
                    zone_count(&cycle, n),
                    &norm,
                );
                (n.node.name.clone(), b)
            })
            .collect()
    }

    fn get(v: &[(String, Breakdown)], n: &str) -> Breakdown {
        v.iter()
            .find(|(name, _)| name == n)
            .map(|(_, b)| *b)
            .expect(n)
    }

    fn web(n: &str) -> NodeB {
        node(n).label("workload-type", "web")
    }

    #[test]
    fn resource_part_counts_pods_already_placed() {
        let f = Fixture::new(vec![node("busy"), node("idle")])
            .with_pods(vec![(pod("x").request("3", "6Gi"), "busy")]);
        let s = scores(&f, &pod("p").request("500m", "1Gi"));
        assert!(get(&s, "idle").resource > get(&s, "busy").resource);
        // 4 CPUs, 3.5 used after placement → 12.5% free; 8 GiB, 7 GiB used → 12.5% free.
        assert!(
            (get(&s, "busy").resource - 12.5).abs() < 1e-9,
            "{:?}",
            get(&s, "busy")
        );
    }

    #[test]
    fn gpu_weighted_profiles_score_gpu_less_nodes_zero_for_gpu() {
        let f = Fixture::new(vec![
            node("gpu")
                .label("accelerator", "gpu")
                .alloc_res("nvidia.com/gpu", "2"),
            node("cpu").label("accelerator", "gpu"),
        ]);
        let p = pod("i")
            .label("workload.enterprise.io/type", "ml-inference")
            .request_res("nvidia.com/gpu", "1");
        let s = scores(&f, &p);
        assert!(
            get(&s, "gpu").resource > get(&s, "cpu").resource + 20.0,
            "{s:?}"
        );
    }

    #[test]
    fn sla_part_penalises_spot_latency_and_shared_use_of_dedicated_nodes() {
        let mut f = Fixture::new(vec![
            web("plain").label("topology.kubernetes.io/zone", "near"),
            web("spot")
                .label("spot-instance", "true")
                .label("topology.kubernetes.io/zone", "near"),
            web("far").label("topology.kubernetes.io/zone", "far"),
            web("dedicated")
                .label("node-type", "dedicated")
                .label("topology.kubernetes.io/zone", "near"),
            web("unmeasured").label("failure-domain.beta.kubernetes.io/zone", "elsewhere"),
        ]);
        f.config = SchedulerConfig {
            zone_latency_ms: [("near".to_owned(), 20), ("far".to_owned(), 500)].into(),
            ..SchedulerConfig::default()
        };
        let s = scores(
            &f,
            &pod("w").label("workload.enterprise.io/type", "web-application"),
        ); // 200 ms, 99.9%
        assert!(
            (get(&s, "plain").sla - 98.0).abs() < 1e-9,
            "20/200 of 20 points: {:?}",
            get(&s, "plain")
        );
        assert!((get(&s, "spot").sla - 68.0).abs() < 1e-9);
        assert!(
            (get(&s, "far").sla - 50.0).abs() < 1e-9,
            "slower than max_latency_ms"
        );
        assert!((get(&s, "dedicated").sla - 78.0).abs() < 1e-9);
        assert!(
            (get(&s, "unmeasured").sla - 100.0).abs() < 1e-9,
            "no latency data, no penalty"
        );
        let plain = scores(&f, &pod("q"));
        assert!(
            plain.iter().all(|(_, b)| (b.sla - 100.0).abs() < 1e-9),
            "no profile: neutral"
        );
    }

    #[test]
    fn load_balance_uses_utilisation_and_zone_spread() {
        let f = Fixture::new(vec![
            web("a1").label("topology.kubernetes.io/zone", "a"),
            web("b1").label("topology.kubernetes.io/zone", "b"),
        ])
        .with_pods(vec![
            (
                pod("w1").label("workload.enterprise.io/type", "web-application"),
                "a1",
            ),
            (
                pod("w2").label("workload.enterprise.io/type", "web-application"),
                "a1",
            ),
        ]);
        let s = scores(
            &f,
            &pod("w").label("workload.enterprise.io/type", "web-application"),
        );
        assert!(get(&s, "b1").load_balance > get(&s, "a1").load_balance);
        assert!(
            (get(&s, "b1").load_balance - 100.0).abs() < 1e-9,
            "empty node in an empty zone"
        );
    }

    #[test]
    fn preferences_and_totals_stay_in_range() {
        let f = Fixture::new(vec![
            node("gold")
                .label("tier", "gold")
                .taint("legacy", "", "PreferNoSchedule"),
            node("silver").label("tier", "silver"),
        ]);
        let p = pod("p").preferred_node_affinity(50, serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}));
        let s = scores(&f, &p);
        // gold: preferred 100, taint 0 → 50; silver: preferred 0, taint 100 → 50.
        assert!((get(&s, "gold").affinity - 50.0).abs() < 1e-9, "{s:?}");
        assert!((get(&s, "silver").affinity - 50.0).abs() < 1e-9, "{s:?}");
        for (_, b) in &s {
            for part in [b.resource, b.affinity, b.sla, b.load_balance, b.total] {
                assert!((0.0..=100.0).contains(&part), "{b:?}");
            }
        }
    }
}
