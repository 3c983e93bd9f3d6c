//! `plinth zt compile|verify --model|drift|posture|map|crd` as a user runs them: files,
//! exit codes (0 fine, 1 findings, 2 bad input with file:line and no output written).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("plinth runs")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/zero-trust/model.yaml")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Two pods per identity of the example that the test uses, a pod outside the model, and
/// the cluster DNS.
const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: production-workloads, labels: {app: web-frontend, tier: frontend}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: production-workloads, labels: {app: api-backend, tier: backend}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: production-workloads, labels: {app: database, tier: data}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: rogue-0, namespace: production-workloads, labels: {app: rogue}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: c, image: x}]}
"#;

#[test]
fn compile_writes_deterministic_files_and_a_kustomization() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let o = plinth(&["zt", "compile", s(&example()), "--out", s(out)]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let read = |root: &Path| {
        let mut files = Vec::new();
        for entry in walk(root) {
            let text = std::fs::read_to_string(&entry).expect("read");
            files.push((
                entry.strip_prefix(root).expect("prefix").to_path_buf(),
                text,
            ));
        }
        files.sort();
        files
    };
    let (fa, fb) = (read(&a), read(&b));
    assert_eq!(fa, fb, "two compiles differ");
    assert_eq!(fa.len(), 10);
    let k = &fa
        .iter()
        .find(|(p, _)| p == Path::new("kustomization.yaml"))
        .expect("kustomization")
        .1;
    assert!(k.contains("production-workloads/web-frontend.yaml"));
    // No AuthorizationPolicy with `rules: [{}]`-style allow-all.
    for (_, text) in &fa {
        assert!(!text.contains("rules:\n  - {}"), "allow-all rule in {text}");
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_bad_model_is_refused_with_file_line_and_nothing_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(example()).expect("example");
    let bad = text.replacen(
        "{from: api-backend, to: database, port: 5432",
        "{from: api-backend, to: dtabase, port: 5432",
        1,
    );
    assert_ne!(bad, text);
    let model = dir.path().join("bad.yaml");
    std::fs::write(&model, &bad).expect("write");
    let out = dir.path().join("out");
    let o = plinth(&["zt", "compile", s(&model), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let line = bad
        .lines()
        .position(|l| l.contains("dtabase"))
        .expect("line")
        + 1;
    assert!(err.contains(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("unknown identity \"dtabase\""), "{err}");
    assert!(!out.exists(), "no output on bad input");
}

#[test]
fn verify_from_intent_names_the_layers() {
    let m = example();
    let o = plinth(&[
        "zt",
        "verify",
        "--model",
        s(&m),
        "--from",
        "web-frontend",
        "--to",
        "api-backend",
        "--port",
        "8080",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["allowed"], true);
    assert_eq!(v["layers"].as_array().map(Vec::len), Some(3));
    let o = plinth(&[
        "zt",
        "verify",
        "--model",
        s(&m),
        "--from",
        "production-workloads/web-frontend",
        "--to",
        "database",
        "--port",
        "5432",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("zone dmz has no egress rule to zone database"),
        "{text}"
    );
    let o = plinth(&[
        "zt",
        "verify",
        "--model",
        s(&m),
        "--from",
        "ghost",
        "--to",
        "database",
        "--port",
        "5432",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = plinth(&[
        "zt",
        "verify",
        "--model",
        s(&m),
        "--manifests",
        s(&m),
        "--from",
        "a",
        "--to",
        "b",
        "--port",
        "1",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--model and --manifests together are refused"
    );
}

#[test]
fn drift_posture_and_map_over_compiled_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("compiled");
    let o = plinth(&["zt", "compile", s(&example()), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pods = dir.path().join("pods.yaml");
    std::fs::write(&pods, PODS).expect("write");
    let m = example();

    // Intent in force: no drift.
    let o = plinth(&[
        "zt",
        "drift",
        s(&m),
        "--manifests",
        s(&out),
        s(&pods),
        "-o",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["overPermissive"], Value::Array(vec![]));
    assert_eq!(v["missing"], Value::Array(vec![]));

    // A hand-made policy opens the database: over-permissive, from the rogue pod and DNS.
    let open = dir.path().join("open.yaml");
    std::fs::write(
        &open,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: open-db, namespace: production-workloads}\nspec:\n  podSelector: {matchLabels: {app: database}}\n  ingress: [{}]\n",
    )
    .expect("write");
    let o = plinth(&[
        "zt",
        "drift",
        s(&m),
        "--manifests",
        s(&out),
        s(&pods),
        s(&open),
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let over: Vec<(String, String)> = v["overPermissive"]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["from"]["type"].as_str().unwrap_or("").to_owned(),
                e["to"]["name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        over,
        [
            ("dns".to_owned(), "production-workloads/database".to_owned()),
            (
                "unmanaged".to_owned(),
                "production-workloads/database".to_owned()
            )
        ]
    );

    // Without the API's allow policy (its default-deny stays), web -> api is missing.
    let api = out.join("production-workloads/api-backend.yaml");
    let text = std::fs::read_to_string(&api).expect("read");
    let kept: Vec<&str> = text
        .split("---\n")
        .filter(|d| !d.contains("name: api-backend-allow"))
        .collect();
    assert_eq!(kept.len(), 4);
    std::fs::write(&api, kept.join("---\n")).expect("write");
    let o = plinth(&[
        "zt",
        "drift",
        s(&m),
        "--manifests",
        s(&out),
        s(&pods),
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let missing = v["missing"].as_array().expect("array");
    assert!(
        missing
            .iter()
            .any(|e| e["from"]["name"] == "production-workloads/web-frontend"
                && e["to"]["name"] == "production-workloads/api-backend"
                && e["ports"] == "TCP 8080"),
        "{missing:?}"
    );
    let o = plinth(&["zt", "compile", s(&example()), "--out", s(&out)]);
    assert!(o.status.success());

    // Posture from the objects.
    let o = plinth(&[
        "zt",
        "posture",
        "--manifests",
        s(&out),
        s(&pods),
        "--model",
        s(&m),
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p: Value = serde_json::from_slice(&o.stdout).expect("json");
    // 5 pods: web, api, db isolated; rogue and coredns not.
    assert_eq!(p["ingressIsolated"]["covered"], 3);
    assert_eq!(p["ingressIsolated"]["total"], 5);
    assert_eq!(p["strictMtlsPods"]["covered"], 3);
    assert_eq!(p["identitiesWithCertificate"]["covered"], 9);
    // web->api, api->db, prometheus... : entries whose both ends have pods and are enforced.
    assert_eq!(p["matrixEnforced"]["covered"], 2);
    assert_eq!(p["matrixEnforced"]["total"], 11);
    // No model: the model-based ratios are absent, not invented.
    let o = plinth(&[
        "zt",
        "posture",
        "--manifests",
        s(&out),
        s(&pods),
        "-o",
        "json",
    ]);
    let p: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(p["matrixEnforced"].is_null());

    // The map in every format.
    for (format, start) in [
        ("table", "FROM"),
        ("json", "{"),
        ("dot", "digraph"),
        ("svg", "<svg"),
    ] {
        let o = plinth(&["zt", "map", "--manifests", s(&out), s(&pods), "-o", format]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.trim_start().starts_with(start), "{format}: {text}");
    }
}

#[test]
fn crd_is_printed_from_the_types() {
    let o = plinth(&["zt", "crd"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("name: zerotrustmodels.plinth.dev"));
    assert!(text.contains("scope: Cluster"));
}
