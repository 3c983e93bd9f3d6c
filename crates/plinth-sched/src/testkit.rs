//! Test builders, for this crate's tests and for shells testing on top of the engine:
//! nodes and pods as Kubernetes JSON, a snapshot around them, and a one-call way to run
//! a filter (through the real PreFilter). They panic on malformed fixtures, which is
//! what a test wants.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::SchedulerConfig;
use crate::cycle::prefilter;
use crate::framework::{Filter, Rejection};
use crate::model::{Node, Pod};
use crate::priority::PriorityClasses;
use crate::snapshot::Snapshot;

/// A node under construction.
#[derive(Clone, Debug)]
pub struct NodeB(pub Value);

/// A node with 4 CPUs, 8 GiB and 110 pods allocatable.
pub fn node(name: &str) -> NodeB {
    NodeB(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    }))
}

impl NodeB {
    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0["metadata"]["labels"][k] = json!(v);
        self
    }
    /// Adds a taint.
    pub fn taint(mut self, k: &str, v: &str, effect: &str) -> Self {
        let taints = self.0["spec"]
            .as_object_mut()
            .map(|s| s.entry("taints").or_insert(json!([])));
        if let Some(Value::Array(a)) = taints {
            a.push(json!({"key": k, "value": v, "effect": effect}));
        }
        self
    }
    /// Cordons the node.
    pub fn unschedulable(mut self) -> Self {
        self.0["spec"]["unschedulable"] = json!(true);
        self
    }
    /// Sets allocatable CPU and memory.
    pub fn alloc(mut self, cpu: &str, mem: &str) -> Self {
        self.0["status"]["allocatable"]["cpu"] = json!(cpu);
        self.0["status"]["allocatable"]["memory"] = json!(mem);
        self
    }
    /// Sets one allocatable resource.
    pub fn alloc_res(mut self, name: &str, q: &str) -> Self {
        self.0["status"]["allocatable"][name] = json!(q);
        self
    }
    /// Compiles it.
    pub fn build(&self) -> Node {
        Node::from_k8s(&serde_json::from_value(self.0.clone()).expect("node JSON")).expect("node")
    }
}

/// A pod under construction.
#[derive(Clone, Debug)]
pub struct PodB(pub Value);

/// A pod in namespace `default` with one container and no requests.
pub fn pod(name: &str) -> PodB {
    PodB(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {}},
        "spec": {"containers": [{"name": "c"}]},
    }))
}

fn push(v: &mut Value, key: &str, item: Value) {
    if v.is_null() {
        *v = json!({});
    }
    if let Some(obj) = v.as_object_mut()
        && let Value::Array(a) = obj.entry(key).or_insert(json!([]))
    {
        a.push(item);
    }
}

impl PodB {
    /// Sets the namespace.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.0["metadata"]["namespace"] = json!(ns);
        self
    }
    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0["metadata"]["labels"][k] = json!(v);
        self
    }
    /// Adds an annotation.
    pub fn annotation(mut self, k: &str, v: &str) -> Self {
        self.0["metadata"]["annotations"][k] = json!(v);
        self
    }
    /// Sets the first container's CPU and memory requests.
    pub fn request(mut self, cpu: &str, mem: &str) -> Self {
        self.0["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!(cpu);
        self.0["spec"]["containers"][0]["resources"]["requests"]["memory"] = json!(mem);
        self
    }
    /// Sets one request of the first container.
    pub fn request_res(mut self, name: &str, q: &str) -> Self {
        self.0["spec"]["containers"][0]["resources"]["requests"][name] = json!(q);
        self
    }
    /// Adds an init container with CPU and memory requests.
    pub fn init_container(mut self, cpu: &str, mem: &str) -> Self {
        push(
            &mut self.0["spec"],
            "initContainers",
            json!({"name": "init", "resources": {"requests": {"cpu": cpu, "memory": mem}}}),
        );
        self
    }
    /// Sets `spec.overhead`.
    pub fn overhead(mut self, cpu: &str, mem: &str) -> Self {
        self.0["spec"]["overhead"] = json!({"cpu": cpu, "memory": mem});
        self
    }
    /// Adds a toleration (empty strings are left out).
    pub fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        let mut t = json!({"operator": op});
        for (k, v) in [("key", key), ("value", value), ("effect", effect)] {
            if !v.is_empty() {
                t[k] = json!(v);
            }
        }
        push(&mut self.0["spec"], "tolerations", t);
        self
    }
    /// Sets `spec.nodeName`.
    pub fn node_name(mut self, n: &str) -> Self {
        self.0["spec"]["nodeName"] = json!(n);
        self
    }
    /// Adds a `nodeSelector` entry.
    pub fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.0["spec"]["nodeSelector"][k] = json!(v);
        self
    }
    /// Sets required node-affinity terms.
    pub fn required_node_affinity(mut self, terms: Vec<Value>) -> Self {
        self.0["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
            json!({"nodeSelectorTerms": terms});
        self
    }
    /// Adds a preferred node-affinity term.
    pub fn preferred_node_affinity(mut self, weight: i32, term: Value) -> Self {
        push(
            &mut self.0["spec"]["affinity"]["nodeAffinity"],
            "preferredDuringSchedulingIgnoredDuringExecution",
            json!({"weight": weight, "preference": term}),
        );
        self
    }
    /// Adds a required pod anti-affinity term.
    pub fn anti_affinity(mut self, term: Value) -> Self {
        push(
            &mut self.0["spec"]["affinity"]["podAntiAffinity"],
            "requiredDuringSchedulingIgnoredDuringExecution",
            term,
        );
        self
    }
    /// Adds a required pod affinity term.
    pub fn affinity(mut self, term: Value) -> Self {
        push(
            &mut self.0["spec"]["affinity"]["podAffinity"],
            "requiredDuringSchedulingIgnoredDuringExecution",
            term,
        );
        self
    }
    /// Adds a topology spread constraint.
    pub fn spread(mut self, c: Value) -> Self {
        push(&mut self.0["spec"], "topologySpreadConstraints", c);
        self
    }
    /// Adds a host port to the first container.
    pub fn host_port(mut self, port: i32, protocol: &str) -> Self {
        push(
            &mut self.0["spec"]["containers"][0],
            "ports",
            json!({"containerPort": port, "hostPort": port, "protocol": protocol}),
        );
        self
    }
    /// Sets `spec.priority`.
    pub fn priority(mut self, p: i32) -> Self {
        self.0["spec"]["priority"] = json!(p);
        self
    }
    /// Sets `spec.priorityClassName`.
    pub fn class(mut self, name: &str) -> Self {
        self.0["spec"]["priorityClassName"] = json!(name);
        self
    }
    /// Sets `status.startTime`.
    pub fn started(mut self, rfc3339: &str) -> Self {
        self.0["status"]["startTime"] = json!(rfc3339);
        self
    }
    /// Compiles it with the seed's classes and the built-in profiles.
    pub fn build(&self) -> Pod {
        let config = SchedulerConfig::default();
        Pod::from_k8s(
            &serde_json::from_value(self.0.clone()).expect("pod JSON"),
            &PriorityClasses::seed(),
            &config.profiles,
        )
        .expect("pod")
    }
}

/// A snapshot plus configuration, for running plugins.
pub struct Fixture {
    /// The cluster.
    pub snapshot: Snapshot,
    /// The configuration.
    pub config: SchedulerConfig,
}

impl Fixture {
    /// A cluster of these nodes.
    pub fn new(nodes: Vec<NodeB>) -> Fixture {
        let mut snapshot = Snapshot::new(PriorityClasses::seed());
        for n in nodes {
            snapshot.upsert_node(n.build());
        }
        snapshot.set_namespace("default".into(), Default::default());
        Fixture {
            snapshot,
            config: SchedulerConfig::default(),
        }
    }

    /// Places pods on named nodes.
    pub fn with_pods(mut self, pods: Vec<(PodB, &str)>) -> Fixture {
        for (p, n) in pods {
            let id = self.snapshot.node_id(n).expect("node exists");
            self.snapshot.place(Arc::new(p.build()), id);
        }
        self
    }

    /// Runs one filter for `pod` against node `node`.
    pub fn filter(&self, f: &dyn Filter, pod: &PodB, node: &str) -> Result<(), Rejection> {
        let pod = pod.build();
        let profile = pod.profile.clone().expect("valid profile");
        let cycle = prefilter(
            &self.snapshot,
            &pod,
            profile.as_deref(),
            &self.config,
            BTreeSet::new(),
        );
        let id = self.snapshot.node_id(node).expect("node exists");
        f.filter(&cycle, self.snapshot.node(id))
    }
}
