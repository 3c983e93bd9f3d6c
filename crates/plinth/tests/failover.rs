//! Two `plinth scheduler run` replicas with leader election on the real control plane:
//! one leads and binds; SIGKILL it in the middle of 1,000 pods and the other takes over;
//! the API server's audit log shows every pod bound exactly once.

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const PODS: usize = 1000;
const NODES: usize = 20;

/// Kills the child processes when the test ends, however it ends.
struct Replicas(Vec<(String, Child)>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn bound_count(client: &Client, ns: &str) -> usize {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
        .count()
}

async fn wait_for(what: &str, within: Duration, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !ok().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_binds_every_pod_exactly_once() {
    let env = plinth_testenv::shared();
    let admin = env.client().await.expect("client");
    let ns = env.namespace(&admin, "failover").await.expect("namespace");
    let scheduler = format!("failover-{ns}");
    let dir = tempfile::tempdir().expect("tempdir");

    let nodes: Api<Node> = Api::all(admin.clone());
    for i in 0..NODES {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": format!("{ns}-n{i}"), "labels": {"kubernetes.io/hostname": format!("{ns}-n{i}")}},
            "spec": {"taints": [{"key": "plinth.io/test", "value": ns, "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}},
        }))
        .expect("node");
        nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
    }

    let mut replicas = Replicas(Vec::new());
    for id in ["a", "b"] {
        let kubeconfig = dir.path().join(format!("{id}.kubeconfig"));
        let user = env
            .control_plane()
            .mint_user(&format!("scheduler-{id}"), &["system:masters"])
            .expect("user");
        std::fs::write(&kubeconfig, user).expect("kubeconfig");
        let log = std::fs::File::create(dir.path().join(format!("{id}.log"))).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_plinth"))
            .args(["scheduler", "run", "--kubeconfig"])
            .arg(&kubeconfig)
            .args([
                "--scheduler-name",
                &scheduler,
                "--leader-elect",
                "--leader-elect-lease-namespace",
                &ns,
                "--leader-elect-lease-name",
                "scheduler",
                "--leader-elect-lease-duration",
                "4s",
                "--leader-elect-renew-deadline",
                "3s",
                "--leader-elect-retry-period",
                "500ms",
                "--identity",
                id,
                "--metrics-addr",
                "none",
                "--kube-api-qps",
                "100",
                "--kube-api-burst",
                "200",
            ])
            .env("PLINTH_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start replica");
        replicas.0.push((id.to_owned(), child));
    }

    let leases: Api<Lease> = Api::namespaced(admin.clone(), &ns);
    let holder = async || {
        leases
            .get_opt("scheduler")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec.and_then(|s| s.holder_identity))
            .filter(|h| !h.is_empty())
    };
    wait_for("a leader", Duration::from_secs(30), async || {
        holder().await.is_some()
    })
    .await;
    let leader = holder().await.expect("leader");

    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    let create = |range: std::ops::Range<usize>| {
        let pods = pods.clone();
        let scheduler = scheduler.clone();
        let ns = ns.clone();
        async move {
            futures::stream::iter(range)
                .map(|i| {
                    let pods = pods.clone();
                    let pod: Pod = serde_json::from_value(json!({
                        "metadata": {"name": format!("p{i}")},
                        "spec": {
                            "schedulerName": scheduler,
                            "tolerations": [{"key": "plinth.io/test", "operator": "Equal", "value": ns, "effect": "NoSchedule"}],
                            "containers": [{"name": "c", "image": "registry.example.com/app:1", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                        },
                    }))
                    .expect("pod");
                    async move { pods.create(&PostParams::default(), &pod).await.expect("create pod") }
                })
                .buffer_unordered(32)
                .collect::<Vec<_>>()
                .await
        }
    };
    // The first 600 pods, then the kill once 300 are bound, then the other 400: the
    // leader dies mid-run however fast it binds (it cannot bind pods not yet created).
    create(0..600).await;
    wait_for("300 pods bound", Duration::from_secs(60), async || {
        bound_count(&admin, &ns).await >= 300
    })
    .await;
    let (_, leader_child) = replicas
        .0
        .iter_mut()
        .find(|(id, _)| *id == leader)
        .expect("leader process");
    leader_child.kill().expect("SIGKILL the leader");
    let _ = leader_child.wait();
    let at_kill = bound_count(&admin, &ns).await;
    assert!(
        at_kill < PODS,
        "the leader finished before it could be killed; nothing was tested"
    );
    create(600..PODS).await;

    wait_for("every pod bound", Duration::from_secs(120), async || {
        bound_count(&admin, &ns).await == PODS
    })
    .await;
    let new_leader = holder().await.expect("a new leader");
    assert_ne!(new_leader, leader, "the survivor took over");

    // Every successful binding, per pod and per replica, from the API server's audit log.
    // A request's ResponseComplete entry is written after its response is sent, so the
    // last bindings' entries may trail the pods' state by a moment: read until every
    // pod's binding is there (or the deadline passes and the assertions below fail).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (per_pod, per_user) = loop {
        let counts = successful_bindings(env, &ns);
        if counts.0.len() == PODS || std::time::Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(per_pod.len(), PODS, "every pod has a successful binding");
    let twice: Vec<_> = per_pod.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "bound more than once: {twice:?}");
    assert_eq!(
        per_user.len(),
        2,
        "both replicas bound, one after the other: {per_user:?}"
    );
    assert!(per_user[&format!("scheduler-{leader}")] >= 300.min(at_kill));
}

/// Successful `pods/binding` requests in `ns` from the API server's audit log: per pod,
/// and per user.
fn successful_bindings(
    env: &plinth_testenv::TestEnv,
    ns: &str,
) -> (HashMap<String, usize>, BTreeMap<String, usize>) {
    let audit = std::fs::read_to_string(env.control_plane().audit_log_path()).expect("audit log");
    let mut per_pod: HashMap<String, usize> = HashMap::new();
    let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
    for line in audit.lines() {
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let r = &ev["objectRef"];
        if r["namespace"] != json!(ns)
            || r["subresource"] != "binding"
            || ev["responseStatus"]["code"] != 201
        {
            continue;
        }
        *per_pod
            .entry(r["name"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
        *per_user
            .entry(
                ev["user"]["username"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
            .or_insert(0) += 1;
    }
    (per_pod, per_user)
}
