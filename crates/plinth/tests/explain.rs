//! `plinth explain pod` against a live control plane, as a user runs it.

use std::process::Command;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

#[tokio::test]
async fn explains_a_pending_pod_from_the_live_cluster() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    let ns = env.namespace(&client, "explain").await.expect("namespace");
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": format!("{ns}-n"), "labels": {"workload-type": "web"}},
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"}},
    }))
    .expect("node");
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"workload.enterprise.io/type": "web-application"}},
        "spec": {"schedulerName": "nobody", "containers": [{"name": "c", "image": "registry.example.com/web:1"}]},
    }))
    .expect("pod");
    Api::<Pod>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");

    let kubeconfig = env.kubeconfig_path().display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args([
            "explain",
            "pod",
            &format!("{ns}/web"),
            "--kubeconfig",
            &kubeconfig,
            "-o",
            "json",
        ])
        .output()
        .expect("run plinth");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["profile"], "web-application");
    let mine = v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["node"] == format!("{ns}-n"))
        .expect("our node");
    assert_eq!(mine["feasible"], true, "{mine}");

    let missing = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args([
            "explain",
            "pod",
            &format!("{ns}/nope"),
            "--kubeconfig",
            &kubeconfig,
        ])
        .output()
        .expect("run plinth");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
}
