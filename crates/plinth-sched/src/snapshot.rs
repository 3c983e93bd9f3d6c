//! The cluster state the scheduler decides against: nodes with what their pods already
//! request, the pods placed on them, namespaces, PodDisruptionBudgets and priority
//! classes. Mutated incrementally (a pod placed, a pod removed) — never rebuilt per pod.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use plinth_core::selector::Selector;

use crate::model::{HostPort, ModelError, Node, Pod};
use crate::priority::PriorityClasses;
use crate::resources::Resources;

static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// Index of a node in the snapshot.
pub type NodeId = usize;
/// Index of a placed pod in the snapshot.
pub type PodId = usize;

/// A node and what is placed on it.
#[derive(Debug, Clone)]
pub struct NodeState {
    /// Its index in the snapshot.
    pub id: NodeId,
    /// Interned zone (see [`Snapshot::zone_name`]).
    pub zone: Option<u16>,
    /// The node.
    pub node: Arc<Node>,
    /// Sum of the effective requests of its pods.
    pub requested: Resources,
    /// Scoring view of CPU requested (with defaults for request-less containers).
    pub nonzero_cpu: i64,
    /// Scoring view of memory requested.
    pub nonzero_memory: i64,
    /// Its pods.
    pub pods: Vec<PodId>,
    /// Host ports in use.
    pub ports: Vec<HostPort>,
}

impl NodeState {
    fn new(id: NodeId, zone: Option<u16>, node: Node) -> NodeState {
        NodeState {
            id,
            zone,
            node: Arc::new(node),
            requested: Resources::default(),
            nonzero_cpu: 0,
            nonzero_memory: 0,
            pods: Vec::new(),
            ports: Vec::new(),
        }
    }

    fn add(&mut self, id: PodId, pod: &Pod) {
        self.requested.add(&pod.requests.requests);
        self.nonzero_cpu += pod.requests.nonzero_cpu;
        self.nonzero_memory += pod.requests.nonzero_memory;
        self.pods.push(id);
        self.ports.extend(pod.host_ports.iter().cloned());
    }

    /// Takes one of its pods away (the snapshot's indexes are the caller's business).
    pub(crate) fn remove(&mut self, id: PodId, pod: &Pod) {
        self.requested.sub(&pod.requests.requests);
        self.nonzero_cpu -= pod.requests.nonzero_cpu;
        self.nonzero_memory -= pod.requests.nonzero_memory;
        self.pods.retain(|p| *p != id);
        for hp in &pod.host_ports {
            if let Some(i) = self.ports.iter().position(|p| p == hp) {
                self.ports.swap_remove(i);
            }
        }
    }
}

/// A pod placed on a node.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The pod.
    pub pod: Arc<Pod>,
    /// Where it is.
    pub node: NodeId,
}

/// A PodDisruptionBudget, compiled.
#[derive(Debug, Clone)]
pub struct Pdb {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Which pods it covers.
    pub selector: Selector,
    /// `status.disruptionsAllowed`, when the snapshot carries a status.
    pub status_allowed: Option<i32>,
    /// `spec.minAvailable`.
    pub min_available: Option<IntOrString>,
    /// `spec.maxUnavailable`.
    pub max_unavailable: Option<IntOrString>,
}

impl Pdb {
    /// Compiles a `policy/v1` PodDisruptionBudget.
    pub fn from_k8s(pdb: &PodDisruptionBudget) -> Result<Pdb, ModelError> {
        let err = |path: &[&str], message: String| ModelError {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            message,
        };
        let spec = pdb.spec.clone().unwrap_or_default();
        // policy/v1: an empty selector selects every pod of the namespace; a null one none.
        let selector = match &spec.selector {
            Some(s) => Selector::from_label_selector(s)
                .map_err(|e| err(&["spec", "selector"], e.to_string()))?,
            None => {
                return Err(err(
                    &["spec", "selector"],
                    "a PodDisruptionBudget without a selector protects no pod; give one".into(),
                ));
            }
        };
        Ok(Pdb {
            namespace: pdb
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pdb.metadata.name.clone().ok_or_else(|| {
                err(
                    &["metadata", "name"],
                    "a PodDisruptionBudget needs a name".into(),
                )
            })?,
            selector,
            status_allowed: pdb.status.as_ref().and_then(|s| s.disruptions_allowed),
            min_available: spec.min_available,
            max_unavailable: spec.max_unavailable,
        })
    }

    /// Whether the budget covers `pod`.
    pub fn covers(&self, pod: &Pod) -> bool {
        pod.namespace == self.namespace && self.selector.matches(&pod.labels)
    }
}

fn scaled(v: &IntOrString, total: i32) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            // Rounded up, as the disruption controller does.
            i32::try_from((i64::from(total) * pct + 99) / 100).unwrap_or(i32::MAX)
        }
    }
}

/// The cluster state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<NodeState>,
    node_ids: HashMap<String, NodeId>,
    pods: Vec<Option<Placed>>,
    free: Vec<PodId>,
    pod_ids: HashMap<(String, String), PodId>,
    label_index: HashMap<(String, String), BTreeSet<PodId>>,
    anti_affinity_pods: BTreeSet<PodId>,
    /// Workload type → zone → pods of that type in the zone.
    zone_workload: HashMap<String, Vec<u32>>,
    zones: Vec<String>,
    /// Pods with anti-affinity terms, indexed by a `key=value` their term selectors
    /// require (`In`), so only pods whose terms could match a given pod are examined.
    anti_index: HashMap<(String, String), BTreeSet<PodId>>,
    /// Pods with an anti-affinity term that has no `In` requirement to index by.
    anti_unindexed: BTreeSet<PodId>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pdbs: Vec<Pdb>,
    classes: PriorityClasses,
    generation: u64,
}

impl Snapshot {
    /// An empty cluster with these priority classes.
    pub fn new(classes: PriorityClasses) -> Snapshot {
        Snapshot {
            classes,
            ..Snapshot::default()
        }
    }

    /// The priority classes.
    pub fn classes(&self) -> &PriorityClasses {
        &self.classes
    }

    /// Changes whenever the set of nodes (or a node) changes; caches of node-static
    /// results are valid for one generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds or replaces a node (its placed pods stay).
    pub fn upsert_node(&mut self, node: Node) -> NodeId {
        // Unique across all snapshots, so a clone that diverges never reuses a
        // generation another snapshot's cache entries were computed for.
        self.generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        let zone = node.zone().map(|z| self.intern_zone(z));
        match self.node_ids.get(&node.name) {
            Some(&id) => {
                self.nodes[id].node = Arc::new(node);
                self.nodes[id].zone = zone;
                id
            }
            None => {
                let id = self.nodes.len();
                self.node_ids.insert(node.name.clone(), id);
                self.nodes.push(NodeState::new(id, zone, node));
                id
            }
        }
    }

    /// Removes a node and the pods placed on it; returns whether it existed. The last
    /// node takes the freed id, so ids stay dense.
    pub fn remove_node(&mut self, name: &str) -> bool {
        let Some(id) = self.node_ids.remove(name) else {
            return false;
        };
        for pod in self.nodes[id].pods.clone() {
            self.remove(pod);
        }
        self.generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        let last = self.nodes.len() - 1;
        self.nodes.swap_remove(id);
        if id != last {
            self.nodes[id].id = id;
            self.node_ids.insert(self.nodes[id].node.name.clone(), id);
            for pod in self.nodes[id].pods.clone() {
                if let Some(Some(p)) = self.pods.get_mut(pod) {
                    p.node = id;
                }
            }
        }
        true
    }

    /// Adds or replaces the priority class set (pods already compiled keep theirs).
    pub fn set_classes(&mut self, classes: PriorityClasses) {
        self.classes = classes;
    }

    /// Forgets a namespace.
    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    /// Adds or replaces a PodDisruptionBudget (by namespace and name).
    pub fn upsert_pdb(&mut self, pdb: Pdb) {
        self.remove_pdb(&pdb.namespace.clone(), &pdb.name.clone());
        self.pdbs.push(pdb);
    }

    /// Removes a PodDisruptionBudget.
    pub fn remove_pdb(&mut self, namespace: &str, name: &str) {
        self.pdbs
            .retain(|p| !(p.namespace == namespace && p.name == name));
    }

    /// Records a namespace's labels (for `namespaceSelector`).
    pub fn set_namespace(&mut self, name: String, labels: BTreeMap<String, String>) {
        self.namespaces.insert(name, labels);
    }

    /// A namespace's labels.
    pub fn namespace_labels(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.namespaces.get(name)
    }

    /// Adds a PodDisruptionBudget.
    pub fn add_pdb(&mut self, pdb: Pdb) {
        self.pdbs.push(pdb);
    }

    /// The PodDisruptionBudgets.
    pub fn pdbs(&self) -> &[Pdb] {
        &self.pdbs
    }

    /// Disruptions a budget allows now: its status when the snapshot had one, else
    /// computed from the pods placed in this snapshot as the disruption controller
    /// would, counting every placed, non-terminating pod as healthy (there are no
    /// kubelets to say otherwise).
    pub fn disruptions_allowed(&self, pdb: &Pdb) -> i32 {
        if let Some(a) = pdb.status_allowed {
            return a;
        }
        let expected = i32::try_from(
            self.pods()
                .filter(|(_, p)| !p.pod.terminating && pdb.covers(&p.pod))
                .count(),
        )
        .unwrap_or(i32::MAX);
        let desired_healthy = match (&pdb.min_available, &pdb.max_unavailable) {
            (Some(min), _) => scaled(min, expected),
            (None, Some(max)) => expected - scaled(max, expected),
            // Neither set: the controller requires no healthy pods.
            (None, None) => 0,
        };
        (expected - desired_healthy).max(0)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// All nodes.
    pub fn nodes(&self) -> &[NodeState] {
        &self.nodes
    }

    /// One node.
    pub fn node(&self, id: NodeId) -> &NodeState {
        &self.nodes[id]
    }

    /// A node's id by name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_ids.get(name).copied()
    }

    /// A placed pod.
    pub fn pod(&self, id: PodId) -> Option<&Placed> {
        self.pods.get(id).and_then(Option::as_ref)
    }

    /// A placed pod's id by namespace and name.
    pub fn pod_id(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.pod_ids
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
    }

    /// All placed pods.
    pub fn pods(&self) -> impl Iterator<Item = (PodId, &Placed)> {
        self.pods
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
    }

    /// Number of placed pods.
    pub fn pod_count(&self) -> usize {
        self.pod_ids.len()
    }

    /// Pods carrying label `key=value`.
    pub fn pods_with_label(&self, key: &str, value: &str) -> Option<&BTreeSet<PodId>> {
        self.label_index.get(&(key.to_owned(), value.to_owned()))
    }

    /// Pods that have required anti-affinity terms.
    pub fn anti_affinity_pods(&self) -> &BTreeSet<PodId> {
        &self.anti_affinity_pods
    }

    /// Pods of workload type `workload` in `zone`.
    pub fn zone_workload_count(&self, zone: &str, workload: &str) -> u32 {
        let Some(z) = self.zones.iter().position(|n| n == zone) else {
            return 0;
        };
        self.zone_workload
            .get(workload)
            .and_then(|v| v.get(z))
            .copied()
            .unwrap_or(0)
    }

    /// Pods of workload type `workload` per zone id.
    pub fn zone_workload(&self, workload: &str) -> Option<&[u32]> {
        self.zone_workload.get(workload).map(Vec::as_slice)
    }

    /// The name of an interned zone.
    pub fn zone_name(&self, id: u16) -> Option<&str> {
        self.zones.get(usize::from(id)).map(String::as_str)
    }

    fn intern_zone(&mut self, zone: &str) -> u16 {
        match self.zones.iter().position(|z| z == zone) {
            Some(i) => u16::try_from(i).unwrap_or(u16::MAX),
            None => {
                self.zones.push(zone.to_owned());
                u16::try_from(self.zones.len() - 1).unwrap_or(u16::MAX)
            }
        }
    }

    fn zone_workload_key(&self, node: NodeId, pod: &Pod) -> Option<(String, usize)> {
        let zone = usize::from(self.nodes[node].zone?);
        match &pod.profile {
            Ok(Some(p)) => Some((p.name.clone(), zone)),
            _ => None,
        }
    }

    /// Pods whose anti-affinity terms might match a pod with these labels (a superset;
    /// callers check the terms).
    pub fn anti_affinity_candidates(&self, labels: &BTreeMap<String, String>) -> BTreeSet<PodId> {
        let mut out = self.anti_unindexed.clone();
        for (k, v) in labels {
            if let Some(ids) = self.anti_index.get(&(k.clone(), v.clone())) {
                out.extend(ids.iter().copied());
            }
        }
        out
    }

    /// The index keys of a pod's anti-affinity terms (`None` for a term that cannot be
    /// indexed).
    fn anti_keys(pod: &Pod) -> Vec<Option<Vec<(String, String)>>> {
        pod.pod_anti_affinity
            .iter()
            .map(|t| {
                let sel = t.selector.as_ref()?;
                let req = sel
                    .requirements()
                    .iter()
                    .find(|r| r.operator() == plinth_core::selector::Operator::In)?;
                Some(
                    req.values()
                        .iter()
                        .map(|v| (req.key().to_owned(), v.clone()))
                        .collect(),
                )
            })
            .collect()
    }

    /// Places a pod on a node; returns its id. A pod of the same namespace and name that
    /// is already placed is replaced.
    pub fn place(&mut self, pod: Arc<Pod>, node: NodeId) -> PodId {
        if let Some(old) = self.pod_id(&pod.namespace, &pod.name) {
            self.remove(old);
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.pods.push(None);
                self.pods.len() - 1
            }
        };
        self.nodes[node].add(id, &pod);
        for (k, v) in &pod.labels {
            self.label_index
                .entry((k.clone(), v.clone()))
                .or_default()
                .insert(id);
        }
        if !pod.pod_anti_affinity.is_empty() {
            self.anti_affinity_pods.insert(id);
            for keys in Self::anti_keys(&pod) {
                match keys {
                    Some(keys) => {
                        for k in keys {
                            self.anti_index.entry(k).or_default().insert(id);
                        }
                    }
                    None => {
                        self.anti_unindexed.insert(id);
                    }
                }
            }
        }
        if let Some((workload, zone)) = self.zone_workload_key(node, &pod) {
            let counts = self.zone_workload.entry(workload).or_default();
            if counts.len() <= zone {
                counts.resize(zone + 1, 0);
            }
            counts[zone] += 1;
        }
        self.pod_ids
            .insert((pod.namespace.clone(), pod.name.clone()), id);
        self.pods[id] = Some(Placed { pod, node });
        id
    }

    /// Removes a placed pod; returns it.
    pub fn remove(&mut self, id: PodId) -> Option<Placed> {
        let placed = self.pods.get_mut(id)?.take()?;
        self.nodes[placed.node].remove(id, &placed.pod);
        for (k, v) in &placed.pod.labels {
            let key = (k.clone(), v.clone());
            if let Some(set) = self.label_index.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    self.label_index.remove(&key);
                }
            }
        }
        if self.anti_affinity_pods.remove(&id) {
            self.anti_unindexed.remove(&id);
            for k in Self::anti_keys(&placed.pod).into_iter().flatten().flatten() {
                if let Some(set) = self.anti_index.get_mut(&k) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.anti_index.remove(&k);
                    }
                }
            }
        }
        if let Some((workload, zone)) = self.zone_workload_key(placed.node, &placed.pod)
            && let Some(c) = self
                .zone_workload
                .get_mut(&workload)
                .and_then(|z| z.get_mut(zone))
        {
            *c = c.saturating_sub(1);
        }
        self.pod_ids
            .remove(&(placed.pod.namespace.clone(), placed.pod.name.clone()));
        self.free.push(id);
        Some(placed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profiles;
    use serde_json::json;

    fn node(name: &str) -> Node {
        Node::from_k8s(
            &serde_json::from_value(
                json!({"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": "a"}},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}),
            )
            .unwrap(),
        )
        .unwrap()
    }

    fn pod(name: &str, cpu: &str) -> Arc<Pod> {
        Arc::new(
            Pod::from_k8s(
                &serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d", "labels": {"app": "x", "workload.enterprise.io/type": "cache"}},
                    "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}))
                .unwrap(),
                &PriorityClasses::seed(),
                &Profiles::builtin(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn placing_and_removing_keeps_every_index_consistent() {
        let mut s = Snapshot::new(PriorityClasses::seed());
        let n = s.upsert_node(node("n1"));
        let a = s.place(pod("a", "1"), n);
        let b = s.place(pod("b", "500m"), n);
        assert_eq!(s.node(n).requested.cpu, 1500);
        assert_eq!(s.pods_with_label("app", "x").map(BTreeSet::len), Some(2));
        assert_eq!(s.zone_workload_count("a", "cache"), 2);
        s.remove(a);
        assert_eq!(s.node(n).requested.cpu, 500);
        assert_eq!(s.node(n).pods, vec![b]);
        assert_eq!(s.pods_with_label("app", "x").map(BTreeSet::len), Some(1));
        assert_eq!(s.zone_workload_count("a", "cache"), 1);
        assert_eq!(s.pod_id("d", "a"), None);
        // Slots are reused.
        let c = s.place(pod("c", "1"), n);
        assert_eq!(c, a);
        // Re-placing the same pod replaces it.
        s.place(pod("c", "2"), n);
        assert_eq!(s.node(n).requested.cpu, 2500);
        assert_eq!(s.pod_count(), 2);
    }

    #[test]
    fn removing_a_node_keeps_ids_dense_and_pods_consistent() {
        let mut s = Snapshot::new(PriorityClasses::seed());
        let n1 = s.upsert_node(node("n1"));
        let n2 = s.upsert_node(node("n2"));
        let n3 = s.upsert_node(node("n3"));
        s.place(pod("a", "1"), n1);
        let b = s.place(pod("b", "1"), n3);
        let before = s.generation();
        assert!(s.remove_node("n1"));
        assert!(!s.remove_node("n1"));
        assert_ne!(s.generation(), before);
        assert_eq!(s.node_count(), 2);
        assert_eq!(s.pod_count(), 1, "pods of a removed node are gone");
        let moved = s.node_id("n3").expect("n3");
        assert_eq!(moved, n1, "the last node takes the freed id");
        assert_eq!(s.node(moved).id, moved);
        assert_eq!(s.pod(b).map(|p| p.node), Some(moved));
        assert_eq!(s.node_id("n2"), Some(n2));
        let _ = n3;
    }

    #[test]
    fn computed_disruption_budgets() {
        let mut s = Snapshot::new(PriorityClasses::seed());
        let n = s.upsert_node(node("n1"));
        for i in 0..4 {
            s.place(pod(&format!("p{i}"), "100m"), n);
        }
        let pdb = |min: Option<IntOrString>, max: Option<IntOrString>| Pdb {
            namespace: "d".into(),
            name: "b".into(),
            selector: Selector::everything(),
            status_allowed: None,
            min_available: min,
            max_unavailable: max,
        };
        assert_eq!(
            s.disruptions_allowed(&pdb(Some(IntOrString::Int(3)), None)),
            1
        );
        assert_eq!(
            s.disruptions_allowed(&pdb(Some(IntOrString::String("50%".into())), None)),
            2
        );
        assert_eq!(
            s.disruptions_allowed(&pdb(None, Some(IntOrString::Int(1)))),
            1
        );
        assert_eq!(
            s.disruptions_allowed(&pdb(None, Some(IntOrString::String("30%".into())))),
            2
        );
        assert_eq!(
            s.disruptions_allowed(&pdb(Some(IntOrString::Int(9)), None)),
            0
        );
        let mut with_status = pdb(None, None);
        with_status.status_allowed = Some(0);
        assert_eq!(s.disruptions_allowed(&with_status), 0);
    }
}
