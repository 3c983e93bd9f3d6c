//! `plinth zt verify` as a user runs it: verdicts, reasons, JSON shape and exit codes
//! (0 allowed, 1 denied, 2 bad input with file:line).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const CLUSTER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {zone: application}}
---
apiVersion: v1
kind: Namespace
metadata: {name: db, labels: {zone: database}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: pg, namespace: db, labels: {app: pg}}
spec: {containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
status: {podIP: 10.0.1.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: db}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pg-from-web, namespace: db}
spec:
  podSelector: {matchLabels: {app: pg}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {zone: application}}, podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}]
"#;

fn verify(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["zt", "verify", "--manifests"])
        .arg(dir)
        .args(args)
        .output()
        .expect("plinth runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn verdicts_reasons_and_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cluster.yaml"), CLUSTER).expect("write");

    // Allowed through the named port, resolved on the destination.
    let out = verify(
        dir.path(),
        &[
            "--from", "shop/web", "--to", "db/pg", "--port", "5432", "-o", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["ingress"]["allowedBy"][0], "db/pg-from-web ingress[0]");
    assert!(
        v["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains("ipBlock"))),
        "states the ipBlock assumption: {v}"
    );

    // The other protocol is not allowed; the isolating policies are named.
    let out = verify(
        dir.path(),
        &[
            "--from", "shop/web", "--to", "db/pg", "--port", "5432/UDP", "-o", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(&out);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["ingress"]["isolatedBy"][0], "db/default-deny");

    // Egress of the database is denied by the default deny.
    let out = verify(
        dir.path(),
        &["--from", "db/pg", "--to", "shop/web", "--port", "http"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DENIED"), "{text}");
    assert!(
        text.contains("egress: isolated by db/default-deny and no rule allows it"),
        "{text}"
    );

    // A pod's IP is that pod (its labels match the selector peer); an unknown address
    // is matched by no selector.
    let out = verify(
        dir.path(),
        &["--from", "10.0.0.1", "--to", "db/pg", "--port", "5432"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = verify(
        dir.path(),
        &["--from", "10.9.9.9", "--to", "db/pg", "--port", "5432"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // Bad queries: unknown pod, bad port.
    let out = verify(
        dir.path(),
        &["--from", "shop/nope", "--to", "db/pg", "--port", "1"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pod shop/nope"));
    let out = verify(
        dir.path(),
        &["--from", "shop/web", "--to", "db/pg", "--port", "70000"],
    );
    assert_eq!(out.status.code(), Some(2));

    // A policy the API server would refuse: file, line and field, no verdict.
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: db}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 80\n      endPort: 70\n",
    )
    .expect("write");
    let out = verify(
        dir.path(),
        &["--from", "shop/web", "--to", "db/pg", "--port", "5432"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:9:"), "{err}");
    assert!(err.contains("spec.ingress[0].ports[0].endPort"), "{err}");
    assert!(out.stdout.is_empty(), "no partial output");
}
