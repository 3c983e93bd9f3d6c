//! The scheduler's view of the cluster: the engine's [`Snapshot`] kept current from the
//! watches, the pending pods that are ours, and the pods we assumed onto nodes while
//! their binding is in flight.
//!
//! Invariants: a pod key is in at most one of {bound in the snapshot, pending,
//! assumed}; assumed pods are placed in the snapshot (their resources are reserved) until
//! the binding succeeds (then the watch confirms them), fails (then they are removed and
//! re-queued) or is answered "already assigned" (then the watch places them where they
//! really are).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1 as core;
use kube::ResourceExt;
use plinth_sched::config::SchedulerConfig;
use plinth_sched::model::{Node, Pod};
use plinth_sched::priority::PriorityClasses;
use plinth_sched::queue::SchedulingQueue;
use plinth_sched::snapshot::{Pdb, Snapshot};

use crate::changes::{Change, Kind, Object, key_of};

/// A pod waiting for us.
#[derive(Debug, Clone)]
pub struct PendingPod {
    /// The object as last seen.
    pub raw: Arc<core::Pod>,
    /// The engine's view of it, or why it is not valid.
    pub compiled: Result<Arc<Pod>, String>,
    /// When we first saw it pending (for end-to-end latency).
    pub first_seen: Instant,
}

/// Why a pod is in the snapshot without being bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assumption {
    /// A binding to this node is in flight.
    Binding(String),
    /// Nominated to this node after preemption; its victims are being deleted.
    Nominated(String),
}

/// The cluster as the scheduler sees it.
pub struct ClusterState {
    /// The engine's snapshot.
    pub snapshot: Snapshot,
    scheduler_name: String,
    config: Arc<SchedulerConfig>,
    classes: PriorityClasses,
    pending: HashMap<String, PendingPod>,
    assumed: HashMap<String, (Assumption, PendingPod)>,
    /// Bound pods whose node the cache does not know yet, by node name.
    orphans: HashMap<String, HashMap<String, Arc<core::Pod>>>,
    listed: HashSet<Kind>,
}

impl ClusterState {
    /// An empty state for scheduler `scheduler_name`.
    pub fn new(scheduler_name: impl Into<String>, config: Arc<SchedulerConfig>) -> ClusterState {
        ClusterState {
            snapshot: Snapshot::new(PriorityClasses::default()),
            scheduler_name: scheduler_name.into(),
            config,
            classes: PriorityClasses::default(),
            pending: HashMap::new(),
            assumed: HashMap::new(),
            orphans: HashMap::new(),
            listed: HashSet::new(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Arc<SchedulerConfig> {
        &self.config
    }

    /// Replaces the configuration (a profiles reload) and recompiles the pending pods,
    /// which may now resolve to other profiles.
    pub fn set_config(&mut self, config: Arc<SchedulerConfig>) {
        self.config = config;
        let keys: Vec<String> = self.pending.keys().cloned().collect();
        for key in keys {
            if let Some(p) = self.pending.get_mut(&key) {
                p.compiled = compile(&p.raw, &self.classes, &self.config);
            }
        }
    }

    /// Whether every kind has been listed at least once (the cache is usable).
    pub fn synced(&self) -> bool {
        self.listed.len() == 5
    }

    /// The kinds not listed yet, by their API names (for `/readyz`).
    pub fn unlisted(&self) -> Vec<&'static str> {
        [
            (Kind::Node, "nodes"),
            (Kind::Pod, "pods"),
            (Kind::Pdb, "poddisruptionbudgets"),
            (Kind::PriorityClass, "priorityclasses"),
            (Kind::Namespace, "namespaces"),
        ]
        .into_iter()
        .filter(|(k, _)| !self.listed.contains(k))
        .map(|(_, name)| name)
        .collect()
    }

    /// A pending pod.
    pub fn pending(&self, key: &str) -> Option<&PendingPod> {
        self.pending.get(key)
    }

    /// Number of pending pods (ours, not assumed).
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Number of assumed pods.
    pub fn assumed_count(&self) -> usize {
        self.assumed.len()
    }

    /// The assumption for a pod, if any.
    pub fn assumption(&self, key: &str) -> Option<&Assumption> {
        self.assumed.get(key).map(|(a, _)| a)
    }

    fn is_ours(&self, pod: &core::Pod) -> bool {
        pod.spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or("default-scheduler")
            == self.scheduler_name
    }

    /// Places a pending pod on a node while its binding is in flight.
    pub fn assume(
        &mut self,
        key: &str,
        node: plinth_sched::snapshot::NodeId,
        binding: bool,
    ) -> bool {
        let Some(p) = self.pending.remove(key) else {
            return false;
        };
        let Ok(pod) = p.compiled.clone() else {
            self.pending.insert(key.to_owned(), p);
            return false;
        };
        let name = self.snapshot.node(node).node.name.clone();
        self.snapshot.place(pod, node);
        let how = if binding {
            Assumption::Binding(name)
        } else {
            Assumption::Nominated(name)
        };
        self.assumed.insert(key.to_owned(), (how, p));
        true
    }

    /// Takes back an assumption (binding failed, or a nominated pod is tried again): the
    /// pod leaves the snapshot and is pending again.
    pub fn forget(&mut self, key: &str) -> Option<PendingPod> {
        let (_, p) = self.assumed.remove(key)?;
        if let Some((ns, name)) = key.split_once('/')
            && let Some(id) = self.snapshot.pod_id(ns, name)
        {
            self.snapshot.remove(id);
        }
        self.pending.insert(key.to_owned(), p.clone());
        Some(p)
    }

    /// A binding that succeeded: the pod stays placed until the watch confirms it.
    pub fn bound(&mut self, key: &str) -> Option<PendingPod> {
        self.assumed.remove(key).map(|(_, p)| p)
    }

    /// A binding answered "already assigned": the pod leaves our bookkeeping and the
    /// snapshot; the watch will place it where it really is.
    pub fn assigned_elsewhere(&mut self, key: &str) {
        if self.assumed.remove(key).is_some()
            && let Some((ns, name)) = key.split_once('/')
            && let Some(id) = self.snapshot.pod_id(ns, name)
        {
            self.snapshot.remove(id);
        }
        self.pending.remove(key);
    }

    /// Applies one change; returns whether capacity may have appeared (a node added or
    /// changed, a pod gone), so unschedulable pods deserve another try.
    pub fn apply(&mut self, change: Change, queue: &mut SchedulingQueue, now: Duration) -> bool {
        match change {
            Change::Applied(Object::Node(n)) => {
                match Node::from_k8s(&n) {
                    Ok(node) => {
                        let name = node.name.clone();
                        self.snapshot.upsert_node(node);
                        if let Some(orphans) = self.orphans.remove(&name) {
                            for pod in orphans.into_values() {
                                self.place_bound(&pod);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(node = %n.name_any(), error = %e, "ignoring a node plinth cannot read")
                    }
                }
                true
            }
            Change::Deleted(Object::Node(n)) => {
                self.snapshot.remove_node(&n.name_any());
                false
            }
            Change::Applied(Object::Pod(p)) => self.apply_pod(p, queue, now),
            Change::Deleted(Object::Pod(p)) => {
                let key = key_of(p.as_ref());
                self.remove_pod(&key, queue);
                true
            }
            Change::Applied(Object::Pdb(p)) => {
                match Pdb::from_k8s(&p) {
                    Ok(pdb) => self.snapshot.upsert_pdb(pdb),
                    Err(e) => {
                        tracing::warn!(pdb = %key_of(p.as_ref()), error = %e, "ignoring a PodDisruptionBudget")
                    }
                }
                true
            }
            Change::Deleted(Object::Pdb(p)) => {
                self.snapshot
                    .remove_pdb(p.namespace().as_deref().unwrap_or_default(), &p.name_any());
                true
            }
            Change::Applied(Object::PriorityClass(pc)) => {
                if let Err(e) = self.classes.insert(&pc) {
                    tracing::warn!(class = %pc.name_any(), error = %e, "ignoring a PriorityClass");
                }
                self.snapshot.set_classes(self.classes.clone());
                false
            }
            Change::Deleted(Object::PriorityClass(pc)) => {
                let mut classes = PriorityClasses::default();
                for c in self.classes.to_k8s() {
                    if c.metadata.name.as_deref() != Some(pc.name_any().as_str()) {
                        let _ = classes.insert(&c);
                    }
                }
                self.classes = classes;
                self.snapshot.set_classes(self.classes.clone());
                false
            }
            Change::Applied(Object::Namespace(ns)) => {
                self.snapshot.set_namespace(
                    ns.name_any(),
                    ns.metadata.labels.clone().unwrap_or_default(),
                );
                false
            }
            Change::Deleted(Object::Namespace(ns)) => {
                self.snapshot.remove_namespace(&ns.name_any());
                false
            }
            Change::Listed(kind, keys) => {
                self.listed.insert(kind);
                self.reconcile(kind, &keys, queue)
            }
        }
    }

    fn apply_pod(
        &mut self,
        raw: Arc<core::Pod>,
        queue: &mut SchedulingQueue,
        now: Duration,
    ) -> bool {
        let key = key_of(raw.as_ref());
        if Pod::is_finished(&raw) {
            return self.remove_pod(&key, queue);
        }
        let bound = raw
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        if bound {
            // Bound (by us or anyone): it is the current state now.
            self.pending.remove(&key);
            self.assumed.remove(&key);
            queue.delete(&key);
            self.place_bound(&raw);
            return false;
        }
        if !self.is_ours(&raw) || self.assumed.contains_key(&key) {
            // Not ours, or ours with a binding in flight (this event predates it).
            return false;
        }
        if raw.metadata.deletion_timestamp.is_some() {
            self.pending.remove(&key);
            queue.delete(&key);
            return false;
        }
        let compiled = compile(&raw, &self.classes, &self.config);
        let priority = compiled.as_ref().map_or(0, |p| p.priority);
        let first_seen = self
            .pending
            .get(&key)
            .map_or_else(Instant::now, |p| p.first_seen);
        let is_new = !self.pending.contains_key(&key);
        self.pending.insert(
            key.clone(),
            PendingPod {
                raw,
                compiled,
                first_seen,
            },
        );
        if is_new || queue.stage(&key).is_none() {
            queue.add(key, priority, now);
        }
        false
    }

    fn place_bound(&mut self, raw: &Arc<core::Pod>) {
        let Some(node_name) = raw.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return;
        };
        match self.snapshot.node_id(&node_name) {
            Some(node) => {
                match Pod::from_k8s(raw, self.snapshot.classes(), &self.config.profiles) {
                    Ok(pod) => {
                        self.snapshot.place(Arc::new(pod), node);
                    }
                    Err(e) => {
                        tracing::warn!(pod = %key_of(raw.as_ref()), error = %e, "cannot account for a bound pod")
                    }
                }
            }
            None => {
                self.orphans
                    .entry(node_name)
                    .or_default()
                    .insert(key_of(raw.as_ref()), raw.clone());
            }
        }
    }

    fn remove_pod(&mut self, key: &str, queue: &mut SchedulingQueue) -> bool {
        queue.delete(key);
        self.pending.remove(key);
        self.assumed.remove(key);
        for orphans in self.orphans.values_mut() {
            orphans.remove(key);
        }
        match key
            .split_once('/')
            .and_then(|(ns, name)| self.snapshot.pod_id(ns, name))
        {
            Some(id) => {
                self.snapshot.remove(id);
                true
            }
            None => false,
        }
    }

    fn reconcile(
        &mut self,
        kind: Kind,
        keys: &HashSet<String>,
        queue: &mut SchedulingQueue,
    ) -> bool {
        match kind {
            Kind::Node => {
                let gone: Vec<String> = self
                    .snapshot
                    .nodes()
                    .iter()
                    .map(|n| n.node.name.clone())
                    .filter(|n| !keys.contains(n))
                    .collect();
                for n in &gone {
                    self.snapshot.remove_node(n);
                }
                !gone.is_empty()
            }
            Kind::Pod => {
                let mut gone: Vec<String> = self
                    .snapshot
                    .pods()
                    .map(|(_, p)| p.pod.key())
                    .filter(|k| !keys.contains(k))
                    .collect();
                gone.extend(self.pending.keys().filter(|k| !keys.contains(*k)).cloned());
                for k in &gone {
                    self.remove_pod(k, queue);
                }
                !gone.is_empty()
            }
            Kind::Pdb => {
                let gone: Vec<(String, String)> = self
                    .snapshot
                    .pdbs()
                    .iter()
                    .filter(|p| !keys.contains(&format!("{}/{}", p.namespace, p.name)))
                    .map(|p| (p.namespace.clone(), p.name.clone()))
                    .collect();
                for (ns, name) in &gone {
                    self.snapshot.remove_pdb(ns, name);
                }
                !gone.is_empty()
            }
            Kind::PriorityClass | Kind::Namespace => false,
        }
    }
}

fn compile(
    raw: &core::Pod,
    classes: &PriorityClasses,
    config: &SchedulerConfig,
) -> Result<Arc<Pod>, String> {
    Pod::from_k8s(raw, classes, &config.profiles)
        .map(Arc::new)
        .map_err(|e| {
            let path = e.path.join(".");
            if path.is_empty() {
                e.message
            } else {
                format!("{path}: {}", e.message)
            }
        })
}
