//! `plinth zt verify|drift|map --cluster` against the real API server agree with the same
//! commands over the same objects as manifests.

use std::process::{Command, Output};

use plinth_kube::{Applier, ApplyOptions};
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("plinth runs")
}

fn objects(ns: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {ns}, labels: {{app: web}}}}
spec: {{containers: [{{name: c, image: x, ports: [{{name: http, containerPort: 8080}}]}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: api, namespace: {ns}, labels: {{app: api}}}}
spec: {{containers: [{{name: c, image: x, ports: [{{name: http, containerPort: 8080}}, {{name: metrics, containerPort: 9090, protocol: UDP}}]}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: other, namespace: {ns}, labels: {{app: other}}}}
spec: {{containers: [{{name: c, image: x}}]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny, namespace: {ns}}}
spec: {{podSelector: {{}}, policyTypes: [Ingress]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: api-from-web, namespace: {ns}}}
spec:
  podSelector: {{matchLabels: {{app: api}}}}
  ingress:
  - from: [{{podSelector: {{matchLabels: {{app: web}}}}}}]
    ports: [{{port: http}}, {{port: metrics, protocol: UDP}}]
"#
    )
}

#[tokio::test]
async fn cluster_and_manifests_give_the_same_answers() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    let ns = env.namespace(&client, "ztcli").await.expect("namespace");
    let text = objects(&ns);
    let docs = plinth_core::manifest::parse_str("objects.yaml", &text).expect("parses");
    Applier::new(client.clone(), "plinth-test")
        .apply_all(&docs, &ApplyOptions::default())
        .await
        .expect("apply");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, &text).expect("write");
    let kubeconfig = env.kubeconfig_path().display().to_string();
    let file = file.display().to_string();
    let pods = ["web", "api", "other"];
    let mut allowed = Vec::new();
    for from in pods {
        for to in pods {
            if from == to {
                continue;
            }
            for port in ["8080", "http", "9090/UDP", "9090"] {
                if port == "http" && to == "other" {
                    continue; // `other` has no port of that name: a usage error (exit 2)
                }
                let (f, t) = (format!("{ns}/{from}"), format!("{ns}/{to}"));
                let common = [
                    "zt", "verify", "--from", &f, "--to", &t, "--port", port, "-o", "json",
                ];
                let live =
                    run(&[&common[..], &["--cluster", "--kubeconfig", &kubeconfig]].concat());
                let offline = run(&[&common[..], &["--manifests", &file]].concat());
                assert!(
                    matches!(live.status.code(), Some(0 | 1)),
                    "{}",
                    String::from_utf8_lossy(&live.stderr)
                );
                assert_eq!(
                    live.status.code(),
                    offline.status.code(),
                    "{from}->{to}:{port}"
                );
                let (l, o): (Value, Value) = (
                    serde_json::from_slice(&live.stdout).expect("json"),
                    serde_json::from_slice(&offline.stdout).expect("json"),
                );
                assert_eq!(l["reasons"], o["reasons"], "{from}->{to}:{port}");
                if l["allowed"] == true && to != "other" && from != "other" {
                    allowed.push(format!("{from}->{to}:{port}"));
                }
            }
        }
    }
    // Every pod is isolated for ingress; only web -> api is allowed, on http (named or
    // by number) and UDP 9090.
    assert_eq!(
        allowed,
        ["web->api:8080", "web->api:http", "web->api:9090/UDP"]
    );

    // The map and the posture read the same state from the cluster.
    let live = run(&[
        "zt",
        "map",
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
    ]);
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let map: Value = serde_json::from_slice(&live.stdout).expect("json");
    let edge = map["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .find(|c| c["from"] == format!("{ns}/web") && c["to"] == format!("{ns}/api"))
        .cloned()
        .expect("web -> api in the live map");
    assert_eq!(edge["portsText"], "TCP 8080; UDP 9090");
    let live = run(&[
        "zt",
        "posture",
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
    ]);
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let posture: Value = serde_json::from_slice(&live.stdout).expect("json");
    let not_isolated: Vec<&str> = posture["notIsolated"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .filter(|p| p.starts_with(&ns))
        .collect();
    // Ingress is isolated for all three; egress for none.
    assert_eq!(
        not_isolated,
        [
            format!("{ns}/api (egress)"),
            format!("{ns}/other (egress)"),
            format!("{ns}/web (egress)")
        ]
    );
}
