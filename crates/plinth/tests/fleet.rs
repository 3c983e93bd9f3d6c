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

/// The control plane's AuthenticationConfiguration, as rendered for `version`, taken from
/// the KubeadmControlPlane's files.
fn rendered_authentication_config(version: &str) -> Option<String> {
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replacen(
            "kubernetesVersion: v1.28.5",
            &format!("kubernetesVersion: {version}"),
            1,
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, text).expect("write");
    let o = plinth(&["fleet", "render", s(&spec), "-o", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list: Value = serde_json::from_slice(&o.stdout).expect("json");
    let kcp = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|o| o["kind"] == "KubeadmControlPlane")
        .expect("KubeadmControlPlane")
        .clone();
    let spec = &kcp["spec"]["kubeadmConfigSpec"];
    let args = spec["clusterConfiguration"]["apiServer"]["extraArgs"]
        .as_array()
        .expect("args");
    let path = args.iter().find(|a| a["name"] == "authentication-config")?["value"]
        .as_str()
        .expect("path")
        .to_owned();
    let file = spec["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == path.as_str())
        .expect("the file the flag names is written");
    Some(file["content"].as_str().expect("content").to_owned())
}

/// The rendered AuthenticationConfiguration, given to the real kube-apiserver (the
/// pinned version): anonymous requests reach the health endpoints and kubeadm's
/// cluster-info, and nothing else authenticates without credentials.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_server_accepts_the_rendered_anonymous_allowlist() {
    assert_eq!(
        rendered_authentication_config("v1.31.9"),
        None,
        "before 1.32 there is none"
    );
    let versions = plinth_testenv::Versions::pinned();
    let version = format!("v{}", versions.kubernetes);
    let content = rendered_authentication_config(&version).expect("rendered from 1.32");

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("authentication-config.yaml");
    std::fs::write(&config, content).expect("write");
    let binaries = plinth_testenv::Binaries::in_cache(&plinth_testenv::cache_root());
    binaries.ensure(&mut |_| {}).expect("binaries");
    let plane = plinth_testenv::ControlPlane::start(plinth_testenv::StartOptions {
        dir: dir.path().join("plane"),
        apiserver_port: None,
        lifetime: plinth_testenv::process::Lifetime::Tied,
        binaries,
        timeout: std::time::Duration::from_secs(120),
        port_hint: "",
        extra_apiserver_args: vec![format!("--authentication-config={}", config.display())],
    })
    .await
    .expect("kube-apiserver starts with the rendered configuration");

    // The admin kubeconfig without its client certificate: an anonymous client.
    let mut kubeconfig: Value =
        serde_saphyr::from_str(&plane.admin_kubeconfig()).expect("kubeconfig");
    kubeconfig["users"][0]["user"] = serde_json::json!({});
    let anonymous = plinth_testenv::control_plane::client_from_kubeconfig(
        &serde_json::to_string(&kubeconfig).expect("json"),
    )
    .await
    .expect("client");
    let get = |path: &str| {
        let anonymous = anonymous.clone();
        let path = path.to_owned();
        async move {
            let request = http::Request::get(&path).body(Vec::new()).expect("request");
            match anonymous.request_text(request).await {
                Ok(_) => 200,
                Err(kube::Error::Api(status)) => status.code,
                Err(e) => panic!("{path}: {e}"),
            }
        }
    };
    for path in ["/readyz", "/livez", "/healthz"] {
        assert_eq!(get(path).await, 200, "{path} is open to probes");
    }
    // Authenticated as system:anonymous, then refused by RBAC (no kubeadm role here).
    assert_eq!(
        get("/api/v1/namespaces/kube-public/configmaps/cluster-info").await,
        403
    );
    for path in ["/api/v1/namespaces", "/version", "/apis"] {
        assert_eq!(get(path).await, 401, "{path} needs credentials");
    }
}
