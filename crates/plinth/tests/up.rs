//! End to end: `plinth up examples/enterprise` on a fresh embedded control plane, checked
//! from the API server — the platform's objects exist; the example workloads are bound by
//! plinth's scheduler according to their profiles; a privileged pod in a restricted
//! namespace is refused by plinth's webhook; the zero-trust objects exist and `plinth zt
//! verify --cluster` decides the matrix's allowed and denied connections correctly — and
//! `plinth down` leaves nothing running.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/enterprise")
}

fn plinth(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .env_remove("KUBECONFIG")
        .output()
        .expect("plinth runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `plinth down` when dropped, so a failed assertion leaves nothing running.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = plinth(&self.0, &["down"]);
    }
}

fn verify(kubeconfig: &Path, from: &str, to: &str, port: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args([
            "zt",
            "verify",
            "--cluster",
            "--from",
            from,
            "--to",
            to,
            "--port",
            port,
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .expect("plinth runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn up_brings_the_example_platform_up_and_down_removes_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("dev");
    let port = plinth_testenv::control_plane::free_port()
        .expect("port")
        .to_string();
    let _down = Down(state.clone());
    let o = plinth(
        &state,
        &[
            "up",
            example().to_str().expect("UTF-8"),
            "--port",
            &port,
            "--timeout",
            "90",
            "-o",
            "json",
        ],
    );
    assert!(o.status.success(), "plinth up: {}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).expect("a JSON report");

    // The report: every example pod bound by plinth's scheduler, both probes refused by
    // plinth's webhook, the model reconciled.
    let pods = report["pods"].as_array().expect("pods");
    assert_eq!(pods.len(), 6, "{report}");
    for p in pods {
        assert!(p["node"].is_string(), "{p}");
        assert_eq!(p["schedulerName"], "enterprise-scheduler");
    }
    let probes = report["admissionProbes"].as_array().expect("probes");
    assert_eq!(probes.len(), 2, "{report}");
    for p in probes {
        assert_eq!(p["refused"], true, "{p}");
        assert_eq!(p["refusedBy"], "plinth's guard webhook", "{p}");
    }
    assert_eq!(report["zeroTrust"]["ready"], "True", "{report}");
    let pids: Vec<u32> = report["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["pid"].as_u64().expect("pid") as u32)
        .collect();
    assert_eq!(pids.len(), 3);

    // From the API server.
    let kubeconfig = state.join("kubeconfig");
    let client = plinth_testenv::control_plane::client_from_kubeconfig(
        &std::fs::read_to_string(&kubeconfig).expect("kubeconfig"),
    )
    .await
    .expect("client");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in [
        "critical-workloads",
        "production-workloads",
        "ml-workloads",
        "batch-workloads",
        "monitoring",
    ] {
        let n = namespaces
            .get(ns)
            .await
            .unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
        let labels = n.metadata.labels.unwrap_or_default();
        assert!(
            labels.contains_key("pod-security.kubernetes.io/enforce"),
            "{ns}"
        );
        assert!(labels.contains_key("owner"), "{ns}");
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "production-workloads");
    let nodes: Api<Node> = Api::all(client.clone());
    let mut web_zones = std::collections::BTreeSet::new();
    for p in pods.list(&ListParams::default()).await.expect("pods").items {
        let spec = p.spec.expect("spec");
        assert_eq!(spec.scheduler_name.as_deref(), Some("enterprise-scheduler"));
        let node = nodes
            .get(spec.node_name.as_deref().expect("bound"))
            .await
            .expect("node");
        let labels = node.metadata.labels.unwrap_or_default();
        let pod_labels = p.metadata.labels.unwrap_or_default();
        if pod_labels
            .get("workload.enterprise.io/type")
            .map(String::as_str)
            == Some("web-application")
        {
            // The web-application profile requires workload-type=web nodes and the pods
            // spread over the zones.
            assert_eq!(labels.get("workload-type").map(String::as_str), Some("web"));
            web_zones.insert(labels.get("topology.kubernetes.io/zone").cloned());
        }
    }
    assert_eq!(
        web_zones.len(),
        3,
        "the three web pods spread over three zones"
    );

    // A privileged pod, for real this time: refused by plinth's webhook.
    let privileged: Pod = serde_json::from_value(json!({
        "metadata": {"name": "privileged"},
        "spec": {"serviceAccountName": "web-frontend", "automountServiceAccountToken": false,
            "containers": [{"name": "c", "image": "company-registry.example.com/tool:1",
                "securityContext": {"privileged": true}}]},
    }))
    .expect("pod");
    match pods.create(&PostParams::default(), &privileged).await {
        Err(kube::Error::Api(e)) => {
            assert!(
                e.message
                    .contains("admission webhook \"pods.guard.plinth.dev\" denied"),
                "{}",
                e.message
            );
            assert!(e.message.contains("privileged"), "{}", e.message);
        }
        other => panic!("a privileged pod was not refused: {other:?}"),
    }

    // Zero trust: the compiled policies exist and the enforced matrix is as the model says.
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "production-workloads");
    let names: Vec<String> = policies
        .list(&ListParams::default())
        .await
        .expect("policies")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert!(
        names.iter().any(|n| n == "web-frontend-default-deny"),
        "{names:?}"
    );
    let allowed = verify(
        &kubeconfig,
        "production-workloads/web-frontend-0",
        "production-workloads/api-backend-0",
        "8080",
    );
    assert!(allowed.status.success(), "{}", text(&allowed));
    assert!(text(&allowed).contains("ALLOWED"));
    let denied = verify(
        &kubeconfig,
        "production-workloads/web-frontend-0",
        "production-workloads/database-0",
        "5432",
    );
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied));
    assert!(text(&denied).contains("DENIED"));
    let allowed = verify(
        &kubeconfig,
        "production-workloads/api-backend-1",
        "production-workloads/database-0",
        "5432",
    );
    assert!(allowed.status.success(), "{}", text(&allowed));

    // Down: nothing left running, the state gone.
    let o = plinth(&state, &["down"]);
    assert!(o.status.success(), "plinth down: {}", text(&o));
    for pid in pids {
        assert!(
            !plinth_testenv::process::is_alive(pid),
            "component pid {pid} still runs"
        );
    }
    assert!(!state.exists(), "the state directory is left");
    assert!(
        plinth_testenv::control_plane::port_is_free(port.parse().expect("port")),
        "the API server still listens"
    );
}
