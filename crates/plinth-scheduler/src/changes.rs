//! Watches of the kinds the scheduler needs, turned into one stream of [`Change`]s.
//!
//! Each kind is listed once and then watched; after every (re-)list the set of keys seen
//! is sent too, so objects deleted while the watch was down are removed from the cache.
//! Nothing is re-listed per pod.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A kind the scheduler watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Nodes.
    Node,
    /// Pods.
    Pod,
    /// PodDisruptionBudgets.
    Pdb,
    /// PriorityClasses.
    PriorityClass,
    /// Namespaces.
    Namespace,
}

/// One object change.
#[derive(Debug, Clone)]
pub enum Object {
    /// A node.
    Node(Arc<Node>),
    /// A pod.
    Pod(Arc<Pod>),
    /// A PodDisruptionBudget.
    Pdb(Arc<PodDisruptionBudget>),
    /// A PriorityClass.
    PriorityClass(Arc<PriorityClass>),
    /// A namespace.
    Namespace(Arc<Namespace>),
}

/// What the watches report.
#[derive(Debug, Clone)]
pub enum Change {
    /// An object was created or changed.
    Applied(Object),
    /// An object was deleted (its last known state).
    Deleted(Object),
    /// A (re-)list of `kind` finished; objects of that kind whose key is not in the set
    /// are gone.
    Listed(Kind, HashSet<String>),
}

/// `namespace/name` or `name`.
pub fn key_of<K: Resource>(obj: &K) -> String {
    match obj.meta().namespace.as_deref() {
        Some(ns) => format!("{ns}/{}", obj.meta().name.as_deref().unwrap_or_default()),
        None => obj.meta().name.clone().unwrap_or_default(),
    }
}

/// Drops what the scheduler never reads, so cached objects stay small: managed fields and
/// kubectl's last-applied copy everywhere; for pods also volumes, mounts, environment,
/// commands, probes and lifecycle hooks (no filter of plinth's looks at them).
trait Trim: Resource {
    fn trim(&mut self) {
        let meta = self.meta_mut();
        meta.managed_fields = None;
        if let Some(a) = meta.annotations.as_mut() {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
}

impl Trim for Node {}
impl Trim for PodDisruptionBudget {}
impl Trim for PriorityClass {}
impl Trim for Namespace {}
impl Trim for Pod {
    fn trim(&mut self) {
        let meta = &mut self.metadata;
        meta.managed_fields = None;
        if let Some(a) = meta.annotations.as_mut() {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        if let Some(spec) = self.spec.as_mut() {
            spec.volumes = None;
            for c in spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten())
            {
                c.volume_mounts = None;
                c.env = None;
                c.env_from = None;
                c.command = None;
                c.args = None;
                c.liveness_probe = None;
                c.readiness_probe = None;
                c.startup_probe = None;
                c.lifecycle = None;
            }
        }
        if let Some(status) = self.status.as_mut() {
            status.conditions = None;
            status.container_statuses = None;
            status.init_container_statuses = None;
        }
    }
}

fn spawn_one<K>(
    api: Api<K>,
    kind: Kind,
    wrap: fn(Arc<K>) -> Object,
    tx: mpsc::UnboundedSender<Change>,
) -> JoinHandle<()>
where
    K: Trim + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    tokio::spawn(async move {
        // Managed fields and kubectl's last-applied copy are never read here and make
        // objects several times larger in memory: dropped as they arrive.
        let stream = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(Trim::trim);
        futures::pin_mut!(stream);
        let mut listing: Option<HashSet<String>> = None;
        while let Some(event) = stream.next().await {
            let change = match event {
                Ok(Event::Init) => {
                    listing = Some(HashSet::new());
                    continue;
                }
                Ok(Event::InitApply(obj)) => {
                    if let Some(keys) = listing.as_mut() {
                        keys.insert(key_of(&obj));
                    }
                    Change::Applied(wrap(Arc::new(obj)))
                }
                Ok(Event::InitDone) => Change::Listed(kind, listing.take().unwrap_or_default()),
                Ok(Event::Apply(obj)) => Change::Applied(wrap(Arc::new(obj))),
                Ok(Event::Delete(obj)) => Change::Deleted(wrap(Arc::new(obj))),
                Err(e) => {
                    tracing::warn!(?kind, error = %e, "watch failed; retrying with backoff");
                    continue;
                }
            };
            if tx.send(change).is_err() {
                return;
            }
        }
    })
}

/// Starts the watches; changes arrive on the returned receiver until the handles are
/// aborted.
pub fn watch_all(client: &Client) -> (mpsc::UnboundedReceiver<Change>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handles = vec![
        spawn_one(
            Api::<Node>::all(client.clone()),
            Kind::Node,
            Object::Node,
            tx.clone(),
        ),
        spawn_one(
            Api::<Pod>::all(client.clone()),
            Kind::Pod,
            Object::Pod,
            tx.clone(),
        ),
        spawn_one(
            Api::<PodDisruptionBudget>::all(client.clone()),
            Kind::Pdb,
            Object::Pdb,
            tx.clone(),
        ),
        spawn_one(
            Api::<PriorityClass>::all(client.clone()),
            Kind::PriorityClass,
            Object::PriorityClass,
            tx.clone(),
        ),
        spawn_one(
            Api::<Namespace>::all(client.clone()),
            Kind::Namespace,
            Object::Namespace,
            tx,
        ),
    ];
    (rx, handles)
}

/// The name of an object (for logs).
pub fn describe(obj: &Object) -> String {
    match obj {
        Object::Node(n) => format!("node {}", n.name_any()),
        Object::Pod(p) => format!("pod {}", key_of(p.as_ref())),
        Object::Pdb(p) => format!("pdb {}", key_of(p.as_ref())),
        Object::PriorityClass(p) => format!("priorityclass {}", p.name_any()),
        Object::Namespace(n) => format!("namespace {}", n.name_any()),
    }
}
