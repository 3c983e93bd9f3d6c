//! What-if simulation: place pending pods one by one, in queue order, each placement
//! changing the state the next one sees; preempt where kube-scheduler would; and answer
//! capacity questions (how many nodes of which pool are needed to place everything).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::model::{Node, Pod};
use crate::preemption::preempt;
use crate::queue::SchedulingQueue;
use crate::resources::NVIDIA_GPU;
use crate::scheduler::{Explanation, Scheduler};
use crate::snapshot::Snapshot;

/// Safety net against a loop that never settles (each pod may be retried this often).
const MAX_ATTEMPTS_PER_POD: usize = 50;

/// The outcome for one pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementRecord {
    /// `namespace/name`.
    pub pod: String,
    /// The node chosen, or `None`.
    pub node: Option<String>,
    /// The chosen node's total score.
    pub score: Option<f64>,
    /// Pods evicted to make room.
    pub preempted: Vec<String>,
    /// What happened, in kube-scheduler's words when the pod does not fit.
    pub message: String,
    /// Set when this pod, placed earlier, was later evicted by a preemptor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempted_by: Option<String>,
}

/// A node's use after the simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeUsage {
    /// Node name.
    pub node: String,
    /// Requested millicores.
    pub cpu_requested_milli: i64,
    /// Allocatable millicores.
    pub cpu_allocatable_milli: i64,
    /// Requested bytes.
    pub memory_requested_bytes: i64,
    /// Allocatable bytes.
    pub memory_allocatable_bytes: i64,
    /// Requested GPUs.
    pub gpu_requested: i64,
    /// Allocatable GPUs.
    pub gpu_allocatable: i64,
    /// Pods on the node.
    pub pods: usize,
    /// CPU requested as a percentage of allocatable.
    pub cpu_percent: f64,
    /// Memory requested as a percentage of allocatable.
    pub memory_percent: f64,
}

/// The result of a simulation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulationResult {
    /// Placed pods in placement order, then the pods left unplaced.
    pub placements: Vec<PlacementRecord>,
    /// Per-node use afterwards, by node name.
    pub nodes: Vec<NodeUsage>,
    /// The requested explanation, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

impl SimulationResult {
    /// Whether every pending pod was placed.
    pub fn all_placed(&self) -> bool {
        self.placements.iter().all(|p| p.node.is_some())
    }
}

/// Simulation switches.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Whether pods may preempt others.
    pub allow_preemption: bool,
    /// Explain the decision for this pod (`namespace/name`) at its last attempt.
    pub explain: Option<String>,
}

fn pct(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        ((part as f64 / whole as f64) * 10_000.0).round() / 100.0
    }
}

/// Per-node use of a snapshot.
pub fn usage(snapshot: &Snapshot) -> Vec<NodeUsage> {
    let mut out: Vec<NodeUsage> = snapshot
        .nodes()
        .iter()
        .map(|n| {
            let a = &n.node.allocatable;
            NodeUsage {
                node: n.node.name.clone(),
                cpu_requested_milli: n.requested.cpu,
                cpu_allocatable_milli: a.cpu,
                memory_requested_bytes: n.requested.memory,
                memory_allocatable_bytes: a.memory,
                gpu_requested: n.requested.get(NVIDIA_GPU),
                gpu_allocatable: a.get(NVIDIA_GPU),
                pods: n.pods.len(),
                cpu_percent: pct(n.requested.cpu, a.cpu),
                memory_percent: pct(n.requested.memory, a.memory),
            }
        })
        .collect();
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
}

/// Places `pending` pods into `snapshot` (which is changed to the final state).
pub fn simulate(
    scheduler: &mut Scheduler,
    snapshot: &mut Snapshot,
    pending: &[Arc<Pod>],
    options: &Options,
) -> SimulationResult {
    let mut queue = SchedulingQueue::new();
    let by_key: HashMap<String, Arc<Pod>> = pending.iter().map(|p| (p.key(), p.clone())).collect();
    for p in pending {
        queue.add(p.key(), p.priority, Duration::ZERO);
    }
    let mut placed: Vec<PlacementRecord> = Vec::new();
    let mut placed_index: HashMap<String, usize> = HashMap::new();
    let mut failed: HashMap<String, String> = HashMap::new();
    let mut attempts: HashMap<String, usize> = HashMap::new();
    let mut explanation = None;
    let mut now = Duration::ZERO;

    loop {
        let Some(item) = queue.pop(now) else {
            match queue.next_ready_at() {
                Some(t) => {
                    now = now.max(t);
                    continue;
                }
                None => break,
            }
        };
        now += Duration::from_millis(1);
        let Some(pod) = by_key.get(&item.key).cloned() else {
            queue.done(&item.key);
            continue;
        };
        let n = attempts.entry(item.key.clone()).or_insert(0);
        *n += 1;
        if *n > MAX_ATTEMPTS_PER_POD {
            queue.done(&item.key);
            continue;
        }
        if options.explain.as_deref() == Some(item.key.as_str()) {
            explanation = Some(scheduler.explain(snapshot, &pod));
        }
        match scheduler.schedule(snapshot, &pod) {
            Ok(p) => {
                snapshot.place(pod.clone(), p.node);
                queue.done(&item.key);
                failed.remove(&item.key);
                placed_index.insert(item.key.clone(), placed.len());
                placed.push(PlacementRecord {
                    pod: item.key.clone(),
                    node: Some(snapshot.node(p.node).node.name.clone()),
                    score: Some((p.score.total * 100.0).round() / 100.0),
                    preempted: Vec::new(),
                    message: format!(
                        "placed on {} (score {:.2} of 100; {} of {} nodes feasible)",
                        snapshot.node(p.node).node.name,
                        p.score.total,
                        p.feasible,
                        snapshot.node_count()
                    ),
                    preempted_by: None,
                });
            }
            Err(fit) => {
                let message = fit.message();
                let outcome = if options.allow_preemption {
                    Some(preempt(scheduler, snapshot, &pod, &fit))
                } else {
                    None
                };
                match outcome {
                    Some(Ok(pre)) => {
                        let node_name = snapshot.node(pre.node).node.name.clone();
                        let mut victims = Vec::new();
                        for id in &pre.victims {
                            if let Some(v) = snapshot.remove(*id) {
                                let key = v.pod.key();
                                if let Some(&i) = placed_index.get(&key) {
                                    placed[i].preempted_by = Some(item.key.clone());
                                }
                                victims.push(key);
                            }
                        }
                        snapshot.place(pod.clone(), pre.node);
                        queue.done(&item.key);
                        failed.remove(&item.key);
                        placed_index.insert(item.key.clone(), placed.len());
                        placed.push(PlacementRecord {
                            pod: item.key.clone(),
                            node: Some(node_name.clone()),
                            score: None,
                            message: format!(
                                "{message} Preempted {} lower-priority pod(s) on {node_name}{}.",
                                victims.len(),
                                if pre.pdb_violations > 0 {
                                    format!(
                                        " ({} in violation of a PodDisruptionBudget)",
                                        pre.pdb_violations
                                    )
                                } else {
                                    String::new()
                                }
                            ),
                            preempted: victims,
                            preempted_by: None,
                        });
                        // Pods were deleted: everything waiting gets another try.
                        queue.cluster_changed(now);
                    }
                    Some(Err(why)) => {
                        failed.insert(item.key.clone(), format!("{message} {why}"));
                        queue.unschedulable(&item.key, now);
                    }
                    None => {
                        failed.insert(item.key.clone(), message);
                        queue.unschedulable(&item.key, now);
                    }
                }
            }
        }
    }
    for p in pending {
        let key = p.key();
        if placed_index.contains_key(&key) {
            continue;
        }
        placed.push(PlacementRecord {
            message: failed
                .remove(&key)
                .unwrap_or_else(|| "not attempted".to_owned()),
            pod: key,
            node: None,
            score: None,
            preempted: Vec::new(),
            preempted_by: None,
        });
    }
    SimulationResult {
        placements: placed,
        nodes: usage(snapshot),
        explanation,
    }
}

/// A node pool that capacity planning may grow, with the node it would add.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Pool name (used for the new nodes' names).
    pub name: String,
    /// The node a new member looks like.
    pub template: Node,
}

/// What capacity planning found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityPlan {
    /// Extra nodes per pool.
    pub added: BTreeMap<String, u32>,
    /// The simulation with those nodes in place.
    pub result: SimulationResult,
}

/// Bound on the nodes capacity planning adds.
const MAX_ADDED_NODES: u32 = 1000;

/// How many extra nodes of which pools place every pending pod: greedily add the pool
/// node that places the most of the pods still pending (ties to the pool listed first)
/// until all are placed or no pool helps. Capacity is planned without preemption.
pub fn plan_capacity(
    scheduler: &mut Scheduler,
    snapshot: &Snapshot,
    pending: &[Arc<Pod>],
    pools: &[Pool],
    explain: Option<String>,
) -> CapacityPlan {
    let options = Options {
        allow_preemption: false,
        explain: None,
    };
    let mut state = snapshot.clone();
    let base = simulate(scheduler, &mut state, pending, &options);
    let mut records: Vec<PlacementRecord> = base
        .placements
        .iter()
        .filter(|r| r.node.is_some())
        .cloned()
        .collect();
    let mut remaining: Vec<Arc<Pod>> = {
        let unplaced: Vec<&str> = base
            .placements
            .iter()
            .filter(|r| r.node.is_none())
            .map(|r| r.pod.as_str())
            .collect();
        pending
            .iter()
            .filter(|p| unplaced.contains(&p.key().as_str()))
            .cloned()
            .collect()
    };
    let mut added: BTreeMap<String, u32> = BTreeMap::new();
    let mut last_unplaced: Vec<PlacementRecord> = base
        .placements
        .into_iter()
        .filter(|r| r.node.is_none())
        .collect();
    let mut total_added = 0;
    while !remaining.is_empty() && total_added < MAX_ADDED_NODES {
        let mut best: Option<(usize, Snapshot, SimulationResult)> = None;
        for (i, pool) in pools.iter().enumerate() {
            let mut trial = state.clone();
            let n = added.get(&pool.name).copied().unwrap_or(0) + 1;
            let mut node = pool.template.clone();
            node.name = format!("{}-new-{n}", pool.name);
            node.labels
                .insert(crate::model::HOSTNAME_LABEL.to_owned(), node.name.clone());
            trial.upsert_node(node);
            let r = simulate(scheduler, &mut trial, &remaining, &options);
            let placed = r.placements.iter().filter(|p| p.node.is_some()).count();
            let better = best.as_ref().is_none_or(|(_, _, b)| {
                placed > b.placements.iter().filter(|p| p.node.is_some()).count()
            });
            if placed > 0 && better {
                best = Some((i, trial, r));
            }
        }
        let Some((i, trial, r)) = best else {
            break;
        };
        *added.entry(pools[i].name.clone()).or_insert(0) += 1;
        total_added += 1;
        state = trial;
        let (now_placed, still): (Vec<_>, Vec<_>) =
            r.placements.into_iter().partition(|p| p.node.is_some());
        records.extend(now_placed);
        remaining.retain(|p| still.iter().any(|r| r.pod == p.key()));
        last_unplaced = still;
    }
    records.extend(last_unplaced);
    let explanation = explain.and_then(|key| {
        pending.iter().find(|p| p.key() == key).map(|p| {
            let mut view = state.clone();
            if let Some(id) = view.pod_id(&p.namespace, &p.name) {
                view.remove(id);
            }
            scheduler.explain(&view, p)
        })
    });
    CapacityPlan {
        added,
        result: SimulationResult {
            placements: records,
            nodes: usage(&state),
            explanation,
        },
    }
}
