//! `plinth fleet render` of the seed's production cluster: every object accepted by the
//! real API server with the upstream Cluster API and AWS provider CRDs installed (strict
//! server-side apply through `plinth apply`), a second apply changes nothing, and a bad
//! spec exits 2 with file:line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plinth_testenv::crds::{CLUSTER_API, CLUSTER_API_PROVIDER_AWS};
use serde_json::Value;

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("plinth runs")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet/prod-us-east.yaml")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn render_is_deterministic_and_bad_specs_exit_2_with_file_and_line() {
    let a = plinth(&["fleet", "render", s(&example()), "-o", "yaml"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = plinth(&["fleet", "render", s(&example()), "-o", "yaml"]);
    assert_eq!(a.stdout, b.stdout, "two renders differ");
    let json = plinth(&["fleet", "render", s(&example()), "-o", "json"]);
    let list: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(list["kind"], "List");

    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(example()).expect("example");
    let bad = text.replacen("replicas: 3", "replicas: 2", 1);
    assert_ne!(bad, text);
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, &bad).expect("write");
    let o = plinth(&["fleet", "render", s(&file)]);
    assert_eq!(o.status.code(), Some(2));
    let line = bad
        .lines()
        .position(|l| l.contains("replicas: 2"))
        .expect("line")
        + 1;
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("bad.yaml:{line}")), "{err}");
    assert!(o.stdout.is_empty());
}

#[tokio::test]
async fn every_rendered_object_passes_strict_server_side_apply() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[CLUSTER_API, CLUSTER_API_PROVIDER_AWS])
        .await
        .expect("upstream CRDs");

    let dir = tempfile::tempdir().expect("tempdir");
    let o = plinth(&["fleet", "render", s(&example()), "-o", "yaml"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = dir.path().join("prod-us-east.yaml");
    std::fs::write(&file, &o.stdout).expect("write");
    let rendered = plinth_core::manifest::read_file(&file).expect("rendered YAML parses");

    let kubeconfig = env.kubeconfig_path().display().to_string();
    let apply = || {
        plinth(&[
            "apply",
            s(&file),
            "--set",
            "fleet-test",
            "--kubeconfig",
            &kubeconfig,
            "-o",
            "json",
        ])
    };
    let o = apply();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let objects = v["objects"].as_array().map_or(0, Vec::len);
    assert_eq!(objects, rendered.len(), "{v}");
    let o = apply();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        again["unchanged"].as_u64(),
        Some(rendered.len() as u64),
        "{again}"
    );
}

#[test]
fn addon_manifests_are_all_or_refused_and_the_gap_is_reported() {
    // Without --addons-dir: objects render, and stderr names the add-ons not installed.
    let o = plinth(&["fleet", "render", s(&example())]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("add-ons aws-cloud-controller-manager, aws-ebs-csi-driver"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("ClusterResourceSet"));

    // With a directory that lacks some: exit 2 naming each missing file, no output.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("calico.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: calico-system\n",
    )
    .expect("write");
    let o = plinth(&[
        "fleet",
        "render",
        s(&example()),
        "--addons-dir",
        s(dir.path()),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("aws-ebs-csi-driver.yaml"), "{err}");
    assert!(!err.contains("calico.yaml"), "{err}");

    // A document without a name: exit 2 with the file and line.
    std::fs::write(
        dir.path().join("calico.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: calico-system\n---\napiVersion: v1\nkind: ServiceAccount\n",
    )
    .expect("write");
    let spec = dir.path().join("spec.yaml");
    let text = std::fs::read_to_string(example()).expect("example");
    let start = text.find("  addons:\n").expect("addons");
    let end = text.find("  backup:\n").expect("backup");
    std::fs::write(
        &spec,
        format!("{}  addons: [calico]\n{}", &text[..start], &text[end..]),
    )
    .expect("write");
    let o = plinth(&["fleet", "render", s(&spec), "--addons-dir", s(dir.path())]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("calico.yaml:6"), "{err}");
    assert!(err.contains("metadata.name"), "{err}");
}
