//! `plinth fleet create|list|delete` on the real control plane with the upstream Cluster
//! API and AWS provider CRDs installed.
//!
//! No Cluster API controller runs, so this test plays the providers: while `fleet create`
//! watches, it patches the status subresources (Cluster phase and conditions, control
//! plane initialised / available / replicas ready, MachineDeployment replicas ready) with
//! merge patches, and `create` must notice and exit 0.
//!
//! Deletion: without controllers nothing adds finalizers or owner references, so the
//! Cluster disappears as soon as `fleet delete` deletes it, and nothing cascades. `fleet
//! delete` then deletes every object still labelled with the cluster's apply set
//! (`plinth.dev/apply-set=fleet-NAME`) — on a real management cluster that is the add-on
//! ConfigMaps, ClusterResourceSet and autoscaler objects, since Cluster API has removed
//! what the Cluster owns; here it is everything. The test asserts nothing of the set is
//! left, and that a second delete succeeds.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::ApiResource;
use plinth_kube::Applier;
use plinth_testenv::crds::{CLUSTER_API, CLUSTER_API_PROVIDER_AWS};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const SET_LABEL: &str = "plinth.dev/apply-set";
/// The AWS cloud controller manager's manifests come from this module's kustomize base
/// (`examples/existing-cluster/base`, plain objects, no transformers), fetched at test
/// time: real upstream YAML through the ClusterResourceSet, nothing typed in here.
const CLOUD_PROVIDER_AWS: (&str, &str) = ("k8s.io/cloud-provider-aws", "v1.37.1");

/// An add-ons directory with the AWS cloud controller manager's upstream manifests, and
/// the kinds they hold in order.
fn addons_dir(dir: &Path) -> (String, Vec<String>) {
    let module = plinth_testenv::gomod::module_dir(CLOUD_PROVIDER_AWS.0, CLOUD_PROVIDER_AWS.1)
        .expect("cloud-provider-aws module");
    let base = module.join("examples/existing-cluster/base");
    let mut files: Vec<_> = std::fs::read_dir(&base)
        .expect("base")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    let text = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read").trim().to_owned())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let kinds = plinth_core::manifest::parse_str("upstream", &text)
        .expect("upstream YAML parses")
        .iter()
        .map(|d| d.value()["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    let out = dir.join("addons");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("aws-cloud-controller-manager.yaml"), text).expect("write");
    (out.to_str().expect("UTF-8").to_owned(), kinds)
}

/// The example with only the add-ons this test has upstream manifests for (plus the
/// management-side cluster autoscaler).
fn with_test_addons(spec: &str) -> String {
    let start = spec.find("  addons:\n").expect("the example names add-ons");
    let end = spec.find("  backup:\n").expect("backup follows add-ons");
    format!(
        "{}  addons:\n    - aws-cloud-controller-manager\n    - cluster-autoscaler\n{}",
        &spec[..start],
        &spec[end..]
    )
}

fn plinth(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("plinth runs")
}

fn example() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet/prod-us-east.yaml");
    std::fs::read_to_string(path).expect("example")
}

async fn resource(applier: &Applier, api_version: &str, kind: &str) -> ApiResource {
    applier
        .resolve(api_version, kind)
        .await
        .unwrap_or_else(|| panic!("{api_version} {kind} is served"))
        .0
}

fn condition(kind: &str) -> Value {
    json!({
        "type": kind,
        "status": "True",
        "reason": "Provided",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    })
}

async fn patch_status(api: &Api<DynamicObject>, name: &str, status: Value) {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("patching the status of {name}: {e}"));
}

/// Waits (briefly polling; this is the test, not plinth) until `name` exists.
async fn exists(api: &Api<DynamicObject>, name: &str) -> DynamicObject {
    for _ in 0..600 {
        if let Ok(Some(o)) = api.get_opt(name).await {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was never created");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_watches_until_provisioned_list_reports_and_delete_removes_the_set() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[CLUSTER_API, CLUSTER_API_PROVIDER_AWS])
        .await
        .expect("upstream CRDs");
    let ns = env
        .namespace(&client, "fleet-live")
        .await
        .expect("namespace");
    let suffix = ns.rsplit('-').next().unwrap_or("x").to_owned();
    let name = format!("prod-{suffix}");
    let slow = format!("slow-{suffix}");

    let dir = tempfile::tempdir().expect("tempdir");
    let text = with_test_addons(&example());
    let (addons, addon_kinds) = addons_dir(dir.path());
    let spec = dir.path().join("cluster.yaml");
    let renamed = text.replacen("name: prod-us-east", &format!("name: {name}"), 1);
    assert_ne!(renamed, text);
    std::fs::write(&spec, &renamed).expect("write");
    let spec = spec.to_str().expect("UTF-8").to_owned();
    let slow_spec = dir.path().join("slow.yaml");
    std::fs::write(
        &slow_spec,
        text.replacen("name: prod-us-east", &format!("name: {slow}"), 1),
    )
    .expect("write");
    let slow_spec = slow_spec.to_str().expect("UTF-8").to_owned();
    let kubeconfig = env.kubeconfig_path().display().to_string();

    let applier = Applier::new(client.clone(), "fleet-live-test");
    let api = |r: &ApiResource| Api::<DynamicObject>::namespaced_with(client.clone(), &ns, r);
    let clusters = api(&resource(&applier, "cluster.x-k8s.io/v1beta2", "Cluster").await);
    let kcps = api(&resource(
        &applier,
        "controlplane.cluster.x-k8s.io/v1beta2",
        "KubeadmControlPlane",
    )
    .await);
    let mds = api(&resource(&applier, "cluster.x-k8s.io/v1beta2", "MachineDeployment").await);

    // A cluster nobody provisions: create times out, exit 1, naming what is pending.
    let o = plinth(&[
        "fleet",
        "create",
        &slow_spec,
        "--addons-dir",
        &addons,
        "--namespace",
        &ns,
        "--timeout",
        "5",
        "--kubeconfig",
        &kubeconfig,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("still pending"), "{err}");
    assert!(
        err.contains(&format!("Cluster {ns}/{slow}: status.phase is")),
        "{err}"
    );
    assert!(err.contains("controlPlaneInitialized is not true"), "{err}");

    // `fleet create` in the background, its stderr collected line by line.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args([
            "fleet",
            "create",
            &spec,
            "--addons-dir",
            &addons,
            "--namespace",
            &ns,
            "--timeout",
            "120",
            "--kubeconfig",
            &kubeconfig,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("plinth runs");
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let stderr = stderr.clone();
        let pipe = child.stderr.take().expect("stderr");
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut s) = stderr.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        })
    };
    let seen = |what: &str| stderr.lock().map(|s| s.contains(what)).unwrap_or(false);

    // Play the providers, in stages, once create is watching.
    let cluster = exists(&clusters, &name).await;
    let kcp_name = cluster.data["spec"]["controlPlaneRef"]["name"]
        .as_str()
        .expect("controlPlaneRef")
        .to_owned();
    let kcp = exists(&kcps, &kcp_name).await;
    for _ in 0..600 {
        if seen("waiting for cluster") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen("waiting for cluster"), "create never started waiting");
    tokio::time::sleep(Duration::from_millis(800)).await;

    patch_status(
        &clusters,
        &name,
        json!({"phase": "Provisioning",
        "initialization": {"infrastructureProvisioned": true}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cp_replicas = kcp.data["spec"]["replicas"].as_i64().expect("replicas");
    patch_status(
        &kcps,
        &kcp_name,
        json!({
            "initialization": {"controlPlaneInitialized": true},
            "replicas": cp_replicas, "readyReplicas": 1, "availableReplicas": 1,
            "upToDateReplicas": cp_replicas,
        }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    patch_status(
        &kcps,
        &kcp_name,
        json!({
            "readyReplicas": cp_replicas, "availableReplicas": cp_replicas,
            "conditions": [condition("Available")],
        }),
    )
    .await;
    let mut workers = 0;
    let deployments = mds
        .list(&ListParams::default().labels(&format!("cluster.x-k8s.io/cluster-name={name}")))
        .await
        .expect("MachineDeployments");
    assert_eq!(deployments.items.len(), 3);
    for md in &deployments.items {
        let n = md.metadata.name.clone().expect("name");
        let r = md.data["spec"]["replicas"].as_i64().unwrap_or(0);
        workers += r;
        patch_status(
            &mds,
            &n,
            json!({"replicas": r, "readyReplicas": r, "availableReplicas": r,
            "upToDateReplicas": r}),
        )
        .await;
    }
    patch_status(
        &clusters,
        &name,
        json!({"phase": "Provisioned",
        "initialization": {"infrastructureProvisioned": true, "controlPlaneInitialized": true},
        "conditions": [condition("Available"), condition("ControlPlaneInitialized")]}),
    )
    .await;

    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("create finishes once provisioned")
        .expect("wait");
    reader.await.expect("reader");
    let err = stderr.lock().expect("stderr").clone();
    assert!(status.success(), "{err}");
    for progress in [
        format!("Cluster {ns}/{name}: phase Provisioning"),
        format!("Cluster {ns}/{name}: phase Provisioned"),
        format!(
            "KubeadmControlPlane {ns}/{kcp_name}: initialized=true, Available=Unknown, ready 1/{cp_replicas}"
        ),
        format!(
            "KubeadmControlPlane {ns}/{kcp_name}: initialized=true, Available=True, ready {cp_replicas}/{cp_replicas}"
        ),
        format!("cluster {ns}/{name} is ready"),
    ] {
        assert!(err.contains(&progress), "missing {progress:?} in:\n{err}");
    }

    // A second create changes nothing.
    let o = plinth(&[
        "fleet",
        "create",
        &spec,
        "--addons-dir",
        &addons,
        "--namespace",
        &ns,
        "--no-wait",
        "-o",
        "json",
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again: Value = serde_json::from_slice(&o.stdout).expect("json");
    let summary = &again["clusters"][0];
    let total = summary["objects"].as_array().map_or(0, Vec::len);
    assert!(total > 10, "{again}");
    assert_eq!(summary["unchanged"].as_u64(), Some(total as u64), "{again}");
    assert_eq!(summary["set"], format!("fleet-{name}"));

    // The add-on's upstream manifests reach the ClusterResourceSet's ConfigMap intact.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm = cms
        .get(&format!("{name}-addon-aws-cloud-controller-manager"))
        .await
        .expect("the add-on ConfigMap exists");
    let data = cm
        .data
        .and_then(|d| d.get("aws-cloud-controller-manager.yaml").cloned())
        .expect("manifests key");
    let stored: Vec<String> = plinth_core::manifest::parse_str("configmap", &data)
        .expect("the ConfigMap holds YAML")
        .iter()
        .map(|d| d.value()["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(stored, addon_kinds);
    assert!(
        addon_kinds.iter().any(|k| k == "DaemonSet"),
        "{addon_kinds:?}"
    );
    let crs = api(&resource(
        &applier,
        "addons.cluster.x-k8s.io/v1beta2",
        "ClusterResourceSet",
    )
    .await)
    .get(&format!("{name}-addons"))
    .await
    .expect("ClusterResourceSet");
    assert_eq!(
        crs.data["spec"]["resources"],
        json!([{"kind": "ConfigMap", "name": format!("{name}-addon-aws-cloud-controller-manager")}])
    );

    // list agrees with the objects.
    let o = plinth(&["fleet", "list", "-o", "json", "--kubeconfig", &kubeconfig]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed: Value = serde_json::from_slice(&o.stdout).expect("json");
    let row = listed["clusters"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["name"] == name.as_str() && r["namespace"] == ns.as_str())
        })
        .unwrap_or_else(|| panic!("{name} listed: {listed}"));
    assert_eq!(row["tier"], "production", "{row}");
    assert_eq!(row["phase"], "Provisioned", "{row}");
    assert_eq!(row["version"], "v1.28.5", "{row}");
    assert_eq!(
        row["controlPlane"],
        json!({"ready": cp_replicas, "desired": cp_replicas})
    );
    assert_eq!(
        row["workers"],
        json!({"ready": workers, "desired": workers})
    );
    assert!(row["age"].is_string(), "{row}");
    let table = plinth(&["fleet", "list", "--kubeconfig", &kubeconfig]);
    assert!(table.status.success());
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.lines().any(|l| l.contains(&name)
            && l.contains("Provisioned")
            && l.contains(&format!("{workers}/{workers}"))),
        "{table}"
    );

    // delete removes the Cluster and the rest of the set; a second delete succeeds.
    let kinds: Vec<(String, String)> = {
        let o = plinth(&["fleet", "render", &spec, "--namespace", &ns, "-o", "json"]);
        let rendered: Value = serde_json::from_slice(&o.stdout).expect("json");
        rendered["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                (
                    i["apiVersion"].as_str().unwrap_or_default().to_owned(),
                    i["kind"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    for target in [&name, &slow] {
        let o = plinth(&[
            "fleet",
            "delete",
            target,
            "--namespace",
            &ns,
            "--timeout",
            "30",
            "--kubeconfig",
            &kubeconfig,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains(&format!("deleted Cluster {ns}/{target}")),
            "{out}"
        );
        assert!(out.contains("deleted ClusterResourceSet"), "{out}");
        assert!(clusters.get_opt(target).await.expect("get").is_none());
        for (api_version, kind) in &kinds {
            let r = resource(&applier, api_version, kind).await;
            let left = Api::<DynamicObject>::all_with(client.clone(), &r)
                .list_metadata(
                    &ListParams::default().labels(&format!("{SET_LABEL}=fleet-{target}")),
                )
                .await
                .expect("list");
            assert!(left.items.is_empty(), "{kind} of {target} left behind");
        }
    }
    let o = plinth(&[
        "fleet",
        "delete",
        &name,
        "--namespace",
        &ns,
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
}
