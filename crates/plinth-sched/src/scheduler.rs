//! One scheduling cycle: PreFilter, Filter, Score, select — and explanations.
//!
//! Node-static filter verdicts and score parts are cached per equivalence class of pods
//! ([`Pod::static_key`]) and snapshot generation, so pods stamped from the same template
//! pay for label, taint and affinity checks once. Every feasible node is then checked
//! for resources, ports, inter-pod affinity and spread, and scored — all of them, not a
//! sample — in parallel. Ties go to the node whose name sorts first, so results are
//! reproducible.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use serde::Serialize;

use crate::config::SchedulerConfig;
use crate::cycle::{SpreadStatic, bare, fill};
use crate::framework::{Code, Cycle, Filter, Rejection, fit_error_message};
use crate::model::Pod;
use crate::plugins::default_filters;
use crate::score::{self, Breakdown, Normaliser, StaticScore};
use crate::snapshot::{NodeId, NodeState, Snapshot};

/// Nodes per parallel work unit (large: a node check is tens of nanoseconds, a task
/// hand-off is microseconds).
const CHUNK: usize = 1024;

/// Node-static results for one equivalence class.
struct StaticEntry {
    /// Per node: the first static rejection, if any.
    rejections: Vec<Option<Arc<Rejection>>>,
    /// Per node: the static score parts (meaningful for passing nodes).
    scores: Vec<StaticScore>,
    /// Nodes passing every static filter.
    passing: Vec<NodeId>,
    /// Node-static spread facts, computed the first time a pod of the class needs them.
    spread: OnceLock<SpreadStatic>,
}

/// Why a pod cannot be placed.
#[derive(Debug, Clone)]
pub struct FitError {
    /// Number of nodes considered.
    pub total_nodes: usize,
    /// Per node (indexed by [`NodeId`]): why it was rejected.
    pub rejections: Vec<Option<Arc<Rejection>>>,
    /// A reason that applies to the pod as a whole (bad profile, scheduling gates).
    pub pod_problem: Option<String>,
}

impl FitError {
    /// kube-scheduler's message: `0/12 nodes are available: 7 Insufficient cpu, ...`.
    pub fn message(&self) -> String {
        if let Some(p) = &self.pod_problem {
            return format!("0/{} nodes are available: {p}.", self.total_nodes);
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in self.rejections.iter().flatten() {
            for reason in &r.reasons {
                *counts.entry(reason.clone()).or_insert(0) += 1;
            }
        }
        fit_error_message(self.total_nodes, &counts)
    }

    /// Nodes where removing pods could help (rejected only as `Unschedulable`).
    pub fn preemption_candidates(&self) -> Vec<NodeId> {
        if self.pod_problem.is_some() {
            return Vec::new();
        }
        self.rejections
            .iter()
            .enumerate()
            .filter(|(_, r)| r.as_ref().is_some_and(|r| r.code == Code::Unschedulable))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A placement decision.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The chosen node.
    pub node: NodeId,
    /// Its score.
    pub score: Breakdown,
    /// How many nodes were feasible.
    pub feasible: usize,
}

/// One node's verdict in an explanation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVerdict {
    /// Node name.
    pub node: String,
    /// Whether it passed every filter.
    pub feasible: bool,
    /// The rejecting plugin, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<&'static str>,
    /// The reasons, if rejected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The score parts, if feasible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Breakdown>,
}

/// Every node's verdict for one pod.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `namespace/name`.
    pub pod: String,
    /// The workload profile in effect.
    pub profile: Option<String>,
    /// A problem with the pod itself, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_problem: Option<String>,
    /// The pod's resolved priority.
    pub priority: i32,
    /// Verdicts, feasible nodes first by descending score, then rejected nodes by name.
    pub nodes: Vec<NodeVerdict>,
}

/// The scheduling engine.
pub struct Scheduler {
    config: Arc<SchedulerConfig>,
    filters: Vec<Box<dyn Filter>>,
    /// Indexes of the filters that are not node-static.
    dynamic: Vec<usize>,
    cache_generation: u64,
    cache: HashMap<u64, Arc<StaticEntry>>,
    /// Per node (of the cached generation): its position in name order, for ties.
    name_rank: Vec<u32>,
}

impl Scheduler {
    /// A scheduler with the default filter chain.
    pub fn new(config: SchedulerConfig) -> Scheduler {
        let filters = default_filters();
        let dynamic = (0..filters.len())
            .filter(|&i| !filters[i].is_static())
            .collect();
        Scheduler {
            config: Arc::new(config),
            filters,
            dynamic,
            cache_generation: u64::MAX,
            cache: HashMap::new(),
            name_rank: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// The filters, in order.
    pub fn filters(&self) -> &[Box<dyn Filter>] {
        &self.filters
    }

    fn pod_problem(pod: &Pod) -> Option<String> {
        if !pod.scheduling_gates.is_empty() {
            return Some(format!(
                "waiting for scheduling gates {}",
                pod.scheduling_gates.join(", ")
            ));
        }
        pod.profile
            .as_ref()
            .err()
            .map(|e| format!("workload profile: {e}"))
    }

    fn static_entry(&mut self, snapshot: &Snapshot, cycle: &Cycle<'_>) -> Arc<StaticEntry> {
        if self.cache_generation != snapshot.generation() {
            self.cache.clear();
            self.cache_generation = snapshot.generation();
            let mut order: Vec<NodeId> = (0..snapshot.node_count()).collect();
            order.sort_by(|a, b| {
                snapshot
                    .node(*a)
                    .node
                    .name
                    .cmp(&snapshot.node(*b).node.name)
            });
            self.name_rank = vec![0; order.len()];
            for (rank, id) in order.into_iter().enumerate() {
                self.name_rank[id] = u32::try_from(rank).unwrap_or(u32::MAX);
            }
        }
        if let Some(e) = self.cache.get(&cycle.pod.static_key) {
            return e.clone();
        }
        let statics: Vec<&dyn Filter> = self
            .filters
            .iter()
            .filter(|f| f.is_static())
            .map(|f| f.as_ref())
            .collect();
        let per_node: Vec<(Option<Rejection>, StaticScore)> = snapshot
            .nodes()
            .par_iter()
            .with_min_len(CHUNK)
            .map(|node| {
                let rejection = statics.iter().find_map(|f| f.filter(cycle, node).err());
                (rejection, score::static_score(cycle, node))
            })
            .collect();
        // Share identical rejections (thousands of nodes fail the same way).
        let mut interned: HashMap<Rejection, Arc<Rejection>> = HashMap::new();
        let mut rejections = Vec::with_capacity(per_node.len());
        let mut scores = Vec::with_capacity(per_node.len());
        let mut passing = Vec::new();
        for (id, (rejection, s)) in per_node.into_iter().enumerate() {
            match rejection {
                Some(r) => {
                    let shared = interned
                        .entry(r.clone())
                        .or_insert_with(|| Arc::new(r))
                        .clone();
                    rejections.push(Some(shared));
                }
                None => {
                    rejections.push(None);
                    passing.push(id);
                }
            }
            scores.push(s);
        }
        let entry = Arc::new(StaticEntry {
            rejections,
            scores,
            passing,
            spread: OnceLock::new(),
        });
        self.cache.insert(cycle.pod.static_key, entry.clone());
        entry
    }

    fn dynamic_filters(&self) -> impl Iterator<Item = &dyn Filter> {
        self.dynamic.iter().map(|&i| self.filters[i].as_ref())
    }

    /// Runs the dynamic filters on one node.
    pub fn check_dynamic(&self, cycle: &Cycle<'_>, node: &NodeState) -> Result<(), Rejection> {
        for f in self.dynamic_filters() {
            f.filter(cycle, node)?;
        }
        Ok(())
    }

    /// [`Scheduler::check_dynamic`] without building reasons.
    pub fn passes_dynamic(&self, cycle: &Cycle<'_>, node: &NodeState) -> bool {
        self.dynamic_filters().all(|f| f.passes(cycle, node))
    }

    /// PreFilter with the class's cached node-static facts.
    fn cycle_for<'a>(
        &mut self,
        snapshot: &'a Snapshot,
        pod: &'a Pod,
        config: &'a SchedulerConfig,
    ) -> (Cycle<'a>, Arc<StaticEntry>) {
        let profile = pod.profile.as_ref().ok().and_then(|p| p.as_deref());
        let mut cycle = bare(snapshot, pod, profile, config, BTreeSet::new());
        let entry = self.static_entry(snapshot, &cycle);
        let spread = entry
            .spread
            .get_or_init(|| SpreadStatic::compute(snapshot, pod));
        fill(&mut cycle, spread);
        (cycle, entry)
    }

    /// Schedules one pod against the snapshot (which is not changed).
    pub fn schedule(&mut self, snapshot: &Snapshot, pod: &Pod) -> Result<Placement, FitError> {
        let total_nodes = snapshot.node_count();
        if let Some(problem) = Self::pod_problem(pod) {
            return Err(FitError {
                total_nodes,
                rejections: vec![None; total_nodes],
                pod_problem: Some(problem),
            });
        }
        let config = self.config.clone();
        let (cycle, entry) = self.cycle_for(snapshot, pod, &config);

        // Pass 1: dynamic filters and the dynamic score inputs of every passing node.
        struct Feasible {
            node: NodeId,
            resource: f64,
            utilisation: f64,
            zone: Option<u32>,
        }
        let this = &*self;
        let feasible: Vec<Feasible> = entry
            .passing
            .par_iter()
            .with_min_len(CHUNK)
            .filter_map(|&id| {
                let node = snapshot.node(id);
                if !this.passes_dynamic(&cycle, node) {
                    return None;
                }
                Some(Feasible {
                    node: id,
                    resource: score::resource_score(&cycle, node),
                    utilisation: score::utilisation_score(node),
                    zone: score::zone_count(&cycle, node),
                })
            })
            .collect();
        if feasible.is_empty() {
            return Err(self.fit_error(snapshot, &cycle, &entry));
        }
        // Pass 2 (sequential: cheaper than waking the pool again): normalise, pick the best.
        let mut norm = Normaliser::new(&cycle);
        for f in &feasible {
            norm.add(&entry.scores[f.node], f.zone);
        }
        let rank = &self.name_rank;
        let best = feasible
            .iter()
            .map(|f| {
                let b = score::combine(
                    &cycle,
                    &entry.scores[f.node],
                    f.resource,
                    f.utilisation,
                    f.zone,
                    &norm,
                );
                (f.node, b)
            })
            .reduce(|a, b| better(rank, a, b));
        match best {
            Some((node, score)) => Ok(Placement {
                node,
                score,
                feasible: feasible.len(),
            }),
            None => Err(self.fit_error(snapshot, &cycle, &entry)),
        }
    }

    /// Every node's rejection (slow path, taken only when nothing fits).
    fn fit_error(&self, snapshot: &Snapshot, cycle: &Cycle<'_>, entry: &StaticEntry) -> FitError {
        let mut rejections = entry.rejections.clone();
        for &id in &entry.passing {
            if let Err(r) = self.check_dynamic(cycle, snapshot.node(id)) {
                rejections[id] = Some(Arc::new(r));
            }
        }
        FitError {
            total_nodes: snapshot.node_count(),
            rejections,
            pod_problem: None,
        }
    }

    /// Explains the decision for one pod: every node's verdict and, for feasible nodes,
    /// every score part.
    pub fn explain(&mut self, snapshot: &Snapshot, pod: &Pod) -> Explanation {
        let profile = pod.profile.as_ref().ok().and_then(|p| p.as_deref());
        let mut out = Explanation {
            pod: pod.key(),
            profile: profile.map(|p| p.name.clone()),
            pod_problem: Self::pod_problem(pod),
            priority: pod.priority,
            nodes: Vec::new(),
        };
        if out.pod_problem.is_some() {
            return out;
        }
        let config = self.config.clone();
        let (cycle, entry) = self.cycle_for(snapshot, pod, &config);
        let mut feasible = Vec::new();
        let mut rejected = Vec::new();
        let mut norm = Normaliser::new(&cycle);
        for (id, node) in snapshot.nodes().iter().enumerate() {
            let verdict = match &entry.rejections[id] {
                Some(r) => Err((**r).clone()),
                None => self.check_dynamic(&cycle, node),
            };
            match verdict {
                Ok(()) => {
                    let zone = score::zone_count(&cycle, node);
                    norm.add(&entry.scores[id], zone);
                    feasible.push((id, zone));
                }
                Err(r) => rejected.push(NodeVerdict {
                    node: node.node.name.clone(),
                    feasible: false,
                    plugin: Some(r.plugin),
                    reasons: r.reasons,
                    score: None,
                }),
            }
        }
        let mut scored: Vec<NodeVerdict> = feasible
            .into_iter()
            .map(|(id, zone)| {
                let node = snapshot.node(id);
                let b = score::combine(
                    &cycle,
                    &entry.scores[id],
                    score::resource_score(&cycle, node),
                    score::utilisation_score(node),
                    zone,
                    &norm,
                );
                NodeVerdict {
                    node: node.node.name.clone(),
                    feasible: true,
                    plugin: None,
                    reasons: Vec::new(),
                    score: Some(b),
                }
            })
            .collect();
        scored.sort_by(|a, b| {
            let (sa, sb) = (
                a.score.map_or(0.0, |s| s.total),
                b.score.map_or(0.0, |s| s.total),
            );
            sb.total_cmp(&sa).then_with(|| a.node.cmp(&b.node))
        });
        rejected.sort_by(|a, b| a.node.cmp(&b.node));
        scored.extend(rejected);
        out.nodes = scored;
        out
    }
}

/// The better of two scored nodes: higher total, then the name that sorts first
/// (`rank` is each node's position in name order).
fn better(rank: &[u32], a: (NodeId, Breakdown), b: (NodeId, Breakdown)) -> (NodeId, Breakdown) {
    match a.1.total.total_cmp(&b.1.total) {
        std::cmp::Ordering::Greater => a,
        std::cmp::Ordering::Less => b,
        std::cmp::Ordering::Equal => {
            if rank[a.0] <= rank[b.0] {
                a
            } else {
                b
            }
        }
    }
}
