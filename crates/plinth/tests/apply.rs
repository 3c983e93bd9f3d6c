//! `plinth apply` against the real API server: order (a CRD and its custom resource in one
//! set), the summary, idempotence, server dry run, pruning, and a refused object that
//! stops everything else from being written.

use std::path::Path;
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::Value;

fn apply(kubeconfig: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .arg("apply")
        .args(args)
        .args(["--kubeconfig", kubeconfig, "-o", "json"])
        .output()
        .expect("plinth runs")
}

fn summary(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn counts(v: &Value) -> [u64; 4] {
    ["created", "changed", "unchanged", "pruned"].map(|k| v[k].as_u64().unwrap_or(99))
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

#[tokio::test]
async fn applies_orders_validates_and_prunes_a_set() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    let kubeconfig = env.kubeconfig_path().display().to_string();
    let suffix = format!("{:x}", std::process::id());
    let ns = format!("applyset-{suffix}");
    let group = format!("t{suffix}.plinth.dev");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Written so that the CR comes before its CRD and the ConfigMap before its namespace:
    // the set must order them.
    write(
        d,
        "a-widget.yaml",
        &format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w, namespace: {ns}}}\nspec: {{size: 3}}\n"
        ),
    );
    write(
        d,
        "b-config.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{level: \"1\"}}\n"
        ),
    );
    write(
        d,
        "c-crd.yaml",
        &format!(
            r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  names: {{kind: Widget, plural: widgets, singular: widget}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
"#
        ),
    );
    write(
        d,
        "d-namespace.yaml",
        &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"),
    );
    write(
        d,
        "kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
    );
    let path = d.display().to_string();
    let set = ["--set", &ns];

    let first = summary(&apply(&kubeconfig, &[&path, set[0], set[1]]));
    assert_eq!(counts(&first), [4, 0, 0, 0], "{first}");
    let again = summary(&apply(&kubeconfig, &[&path, set[0], set[1]]));
    assert_eq!(counts(&again), [0, 0, 4, 0], "{again}");

    // A change, seen as such.
    write(
        d,
        "b-config.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{level: \"2\"}}\n"
        ),
    );
    let changed = summary(&apply(&kubeconfig, &[&path, set[0], set[1]]));
    assert_eq!(counts(&changed), [0, 1, 3, 0], "{changed}");

    // Server dry run of a new object: reported, not persisted.
    write(
        d,
        "e-extra.yaml",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: extra, namespace: {ns}}}\n"),
    );
    let dry = summary(&apply(
        &kubeconfig,
        &[&path, set[0], set[1], "--dry-run=server"],
    ));
    assert_eq!(counts(&dry), [1, 0, 4, 0], "{dry}");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    assert!(
        cms.get_opt("extra").await.expect("get").is_none(),
        "dry run persisted"
    );

    // One refused object (unknown field): nothing else of the set is written.
    write(
        d,
        "f-bad.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bad, namespace: {ns}}}\nspec: {{nope: 1}}\n"
        ),
    );
    let refused = apply(&kubeconfig, &[&path, set[0], set[1]]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("f-bad.yaml:1"), "{err}");
    assert!(
        cms.get_opt("extra").await.expect("get").is_none(),
        "a write despite a refused object"
    );
    std::fs::remove_file(d.join("f-bad.yaml")).expect("rm");

    // Prune: the ConfigMap's file goes, so does the ConfigMap.
    std::fs::remove_file(d.join("e-extra.yaml")).expect("rm");
    std::fs::remove_file(d.join("b-config.yaml")).expect("rm");
    let pruned = summary(&apply(&kubeconfig, &[&path, set[0], set[1], "--prune"]));
    assert_eq!(counts(&pruned), [0, 0, 3, 1], "{pruned}");
    assert!(
        cms.get_opt("settings").await.expect("get").is_none(),
        "not pruned"
    );

    // Client dry run needs no server and lists the objects.
    let listed = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args([
            "apply",
            &path,
            "--dry-run",
            "-o",
            "json",
            "--kubeconfig",
            "/nonexistent",
        ])
        .output()
        .expect("runs");
    let v = summary(&listed);
    assert_eq!(v["objects"].as_array().map(Vec::len), Some(3));
}
