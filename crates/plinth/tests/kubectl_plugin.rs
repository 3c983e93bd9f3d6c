//! `kubectl plinth ...`: kubectl runs `kubectl-plinth` from `PATH` with every argument
//! after the plugin name. The binary, linked under that name, speaks as `kubectl plinth`
//! and honours kubectl's `--kubeconfig`, `--context` and `-n`/`--namespace`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn plugin(dir: &std::path::Path) -> PathBuf {
    let link = dir.join("kubectl-plinth");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_plinth"), &link).expect("symlink");
    link
}

fn run(bin: &PathBuf, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("runs")
}

#[test]
fn usage_speaks_as_kubectl_plinth_and_namespace_flags_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = plugin(dir.path());
    let help = run(&bin, &["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: kubectl plinth"));
    let bad = run(&bin, &["fleet", "bogus"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("kubectl plinth fleet"));

    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/fleet/prod-us-east.yaml"
    );
    for flags in [
        &["-n", "fleets"][..],
        &["--namespace=fleets"][..],
        &["-nfleets"][..],
    ] {
        let o = run(
            &bin,
            &[&["fleet", "render", spec, "-o", "json"][..], flags].concat(),
        );
        assert!(
            o.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let list: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let items = list["items"].as_array().expect("items");
        assert!(
            items.iter().all(|i| i["metadata"]["namespace"] == "fleets"),
            "{flags:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeconfig_and_context_select_the_cluster() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[plinth_testenv::crds::CLUSTER_API])
        .await
        .expect("CRDs");
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = plugin(dir.path());
    let kubeconfig = env.kubeconfig_path().display().to_string();
    let o = run(
        &bin,
        &[
            "fleet",
            "list",
            "--kubeconfig",
            &kubeconfig,
            "--context",
            "plinth",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(
        &bin,
        &[
            "fleet",
            "list",
            "--kubeconfig",
            &kubeconfig,
            "--context",
            "elsewhere",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("elsewhere"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
