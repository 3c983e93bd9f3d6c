//! Shared helpers for the live-scheduler tests: an isolated slice of the shared control
//! plane per test (its own namespace, scheduler name and tainted nodes), and waits.
//!
//! Isolation uses real semantics: every node a test creates carries the taint
//! `plinth.io/test=<namespace>:NoSchedule` and only that test's pods tolerate it, so
//! tests running side by side never place pods on each other's nodes.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use plinth_kube::{Applier, ApplyOptions};
use plinth_scheduler::api::Limits;
use plinth_scheduler::server::Tls;
use plinth_scheduler::{Options, Running};
use serde_json::{Value, json};

pub const TEST_TAINT: &str = "plinth.io/test";

pub struct Slice {
    pub client: Client,
    pub ns: String,
    pub scheduler: String,
}

impl Slice {
    pub async fn new(prefix: &str) -> Slice {
        let env = plinth_testenv::shared();
        let client = env.client().await.expect("client");
        let ns = env.namespace(&client, prefix).await.expect("namespace");
        ensure_priority_classes(&client).await;
        Slice {
            scheduler: format!("sched-{ns}"),
            client,
            ns,
        }
    }

    pub fn options(&self) -> Options {
        Options {
            scheduler_name: self.scheduler.clone(),
            profiles_configmap: None,
            base_config: plinth_sched::config::SchedulerConfig {
                scheduler_name: self.scheduler.clone(),
                ..Default::default()
            },
            limits: Limits {
                qps: 500,
                burst: 1000,
            },
            metrics_addr: None,
            tls: Tls::default(),
            election: None,
            bind_parallelism: 16,
            instance: format!("test-{}", self.ns),
        }
    }

    pub async fn start(&self) -> Running {
        plinth_scheduler::start(self.client.clone(), self.options())
            .await
            .expect("scheduler starts")
    }

    /// A node JSON with this test's taint, 4 CPUs, 8 GiB, 110 pods.
    pub fn node(&self, name: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("{}-{name}", self.ns), "labels": {"kubernetes.io/hostname": format!("{}-{name}", self.ns), TEST_TAINT: self.ns}},
            "spec": {"taints": [{"key": TEST_TAINT, "value": self.ns, "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        })
    }

    pub fn node_name(&self, name: &str) -> String {
        format!("{}-{name}", self.ns)
    }

    /// A pod JSON for our scheduler, tolerating this test's taint.
    pub fn pod(&self, name: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": self.ns, "labels": {"app": name}},
            "spec": {
                "schedulerName": self.scheduler,
                "terminationGracePeriodSeconds": 0,
                "tolerations": [{"key": TEST_TAINT, "operator": "Equal", "value": self.ns, "effect": "NoSchedule"}],
                "containers": [{"name": "c", "image": "registry.example.com/app:1", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
            },
        })
    }

    pub async fn create_node(&self, node: Value) {
        let api: Api<Node> = Api::all(self.client.clone());
        let node: Node = serde_json::from_value(node).expect("node");
        api.create(&PostParams::default(), &node)
            .await
            .expect("create node");
    }

    pub async fn create_pod(&self, pod: Value) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let pod: Pod = serde_json::from_value(pod).expect("pod");
        api.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }

    pub async fn apply(&self, object: Value) {
        Applier::new(self.client.clone(), "plinth-test")
            .with_default_namespace(&self.ns)
            .apply(
                &object,
                &ApplyOptions {
                    force: true,
                    ..Default::default()
                },
            )
            .await
            .expect("apply");
    }

    pub async fn get_pod(&self, name: &str) -> Option<Pod> {
        Api::<Pod>::namespaced(self.client.clone(), &self.ns)
            .get_opt(name)
            .await
            .expect("get pod")
    }

    /// Waits until the pod is bound; returns its node.
    pub async fn bound(&self, name: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(node) = self
                .get_pod(name)
                .await
                .and_then(|p| p.spec.and_then(|s| s.node_name))
            {
                return node;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "pod {name} was not bound within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Events about an object in this namespace, as (reason, message).
    pub async fn events(&self, name: &str) -> Vec<(String, String)> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        let list = api.list(&ListParams::default()).await.expect("events");
        list.items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
            .collect()
    }

    /// Waits for an event with `reason` whose note contains `needle`.
    pub async fn event(&self, name: &str, reason: &str, needle: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let events = self.events(name).await;
            if let Some((_, note)) = events
                .iter()
                .find(|(r, n)| r == reason && n.contains(needle))
            {
                return note.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {reason} event containing {needle:?} for {name} within {within:?}; saw {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The pod's PodScheduled condition (status, reason, message).
    pub async fn scheduled_condition(&self, name: &str) -> Option<(String, String, String)> {
        let pod = self.get_pod(name).await?;
        pod.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")
            .map(|c| {
                (
                    c.status,
                    c.reason.unwrap_or_default(),
                    c.message.unwrap_or_default(),
                )
            })
    }
}

/// The seed's five PriorityClasses, applied once per test binary.
pub async fn ensure_priority_classes(client: &Client) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| apply_priority_classes(client)).await;
}

async fn apply_priority_classes(client: &Client) {
    let applier = Applier::new(client.clone(), "plinth-test");
    for pc in plinth_sched::priority::PriorityClasses::seed().to_k8s() {
        let v = serde_json::to_value(&pc).expect("pc");
        let mut v = v;
        v["apiVersion"] = json!("scheduling.k8s.io/v1");
        v["kind"] = json!("PriorityClass");
        // A global default may already be set by another run; the classes are identical.
        applier
            .apply(
                &v,
                &ApplyOptions {
                    force: true,
                    ..Default::default()
                },
            )
            .await
            .expect("priority class");
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// GETs `path` from a scheduler's metrics server over HTTPS: `(status, body)`. Its
/// certificate is the process's own self-signed one, so it is not verified.
pub async fn get_https(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    let r = http
        .get(format!("https://{addr}{path}"))
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}
