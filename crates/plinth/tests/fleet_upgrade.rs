//! `plinth fleet describe` and `plinth fleet upgrade` on the real API server with the
//! upstream Cluster API CRDs. describe's tree agrees with the objects and its cost and
//! recommendations follow the recorded spec. For upgrade the
//! test plays the providers: whenever a control plane or MachineDeployment asks for a
//! new version, it records the order and (when allowed) reports the rollout finished by
//! patching status. Checked: refusals change nothing; the control plane goes first, then
//! the pools by name; an upgrade interrupted after the control plane continues from the
//! objects when run again, without touching the control plane a second time.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use plinth_kube::Applier;
use plinth_testenv::crds::{CLUSTER_API, CLUSTER_API_PROVIDER_AWS};
use serde_json::json;

fn plinth(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("plinth runs")
}

/// Reports `object` rolled out at `version`.
async fn roll(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    version: &str,
    with_versions: bool,
) {
    let name = object.metadata.name.clone().expect("name");
    let replicas = object.data["spec"]["replicas"].as_i64().unwrap_or(1);
    let mut status = json!({
        "replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
        "upToDateReplicas": replicas, "observedGeneration": object.metadata.generation,
    });
    if with_versions {
        status["versions"] = json!([{"version": version, "replicas": replicas}]);
        status["initialization"] = json!({"controlPlaneInitialized": true});
    }
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": status})),
    )
    .await
    .unwrap_or_else(|e| panic!("status of {name}: {e}"));
}

fn version_of(o: &DynamicObject) -> String {
    let v = &o.data["spec"];
    v["version"]
        .as_str()
        .or_else(|| v["template"]["spec"]["version"].as_str())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_is_ordered_refuses_unsafe_targets_and_resumes() {
    let env = plinth_testenv::shared();
    let client = env.client().await.expect("client");
    env.install_crds(&client, &[CLUSTER_API, CLUSTER_API_PROVIDER_AWS])
        .await
        .expect("CRDs");
    let ns = env
        .namespace(&client, "fleet-upgrade")
        .await
        .expect("namespace");
    let name = format!("up-{}", ns.rsplit('-').next().unwrap_or("x"));
    let dir = tempfile::tempdir().expect("tempdir");
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet/prod-us-east.yaml"),
    )
    .expect("example");
    let spec = dir.path().join("cluster.yaml");
    // Images pinned for both versions: the upgrade must move the templates too.
    let with_images = example
        .replacen("name: prod-us-east", &format!("name: {name}"), 1)
        .replacen(
            "  networking:",
            "  machineImages:\n    v1.28.5: ami-0123456789abcdef0\n    v1.29.0: ami-0fedcba9876543210\n  networking:",
            1,
        );
    std::fs::write(&spec, &with_images).expect("write");
    let kubeconfig = env.kubeconfig_path().display().to_string();
    let common = [
        "--namespace",
        ns.as_str(),
        "--kubeconfig",
        kubeconfig.as_str(),
    ];
    let o = plinth(
        &[
            &["fleet", "create", spec.to_str().expect("utf8"), "--no-wait"][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let applier = Applier::new(client.clone(), "fleet-upgrade-test");
    let resource = |av: &'static str, kind: &'static str| {
        let applier = &applier;
        async move { applier.resolve(av, kind).await.expect("served").0 }
    };
    let kcps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resource(
            "controlplane.cluster.x-k8s.io/v1beta2",
            "KubeadmControlPlane",
        )
        .await,
    );
    let mds: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resource("cluster.x-k8s.io/v1beta2", "MachineDeployment").await,
    );
    let selector = ListParams::default().labels(&format!("cluster.x-k8s.io/cluster-name={name}"));
    let all = |kcps: Api<DynamicObject>, mds: Api<DynamicObject>, selector: ListParams| async move {
        let mut out = kcps.list(&ListParams::default()).await.expect("kcps").items;
        out.extend(mds.list(&selector).await.expect("mds").items);
        out
    };
    // Everything provisioned at the spec's version.
    for o in all(kcps.clone(), mds.clone(), selector.clone()).await {
        let is_cp = o
            .types
            .as_ref()
            .is_some_and(|t| t.kind == "KubeadmControlPlane");
        roll(if is_cp { &kcps } else { &mds }, &o, &version_of(&o), is_cp).await;
    }
    let generations = |objs: Vec<DynamicObject>| -> Vec<(String, Option<i64>)> {
        objs.iter()
            .map(|o| {
                (
                    o.metadata.name.clone().unwrap_or_default(),
                    o.metadata.generation,
                )
            })
            .collect()
    };

    // describe: the tree agrees with the objects; cost and recommendations come from the
    // recorded spec and change with it.
    let describe = |args: &[&str]| {
        let o = plinth(
            &[
                &["fleet", "describe", name.as_str(), "-o", "json"][..],
                args,
                &common[..],
            ]
            .concat(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json")
    };
    let d = describe(&[]);
    let tree: Vec<String> = d["tree"]
        .as_array()
        .expect("tree")
        .iter()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect();
    assert!(
        tree.iter()
            .any(|l| l.contains("ControlPlane") && l.contains("3/3 ready")),
        "{tree:?}"
    );
    assert_eq!(
        tree.iter().filter(|l| l.contains("Workers")).count(),
        3,
        "{tree:?}"
    );
    let total = d["cost"]["totalMonthly"].as_f64().expect("a cost");
    assert!(total > 0.0);
    let with_latest = describe(&["--latest-supported", "v1.34.0"]);
    assert!(
        with_latest["recommendations"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["field"] == "spec.kubernetesVersion"
                && x["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("minor versions behind")))),
        "an old version is pointed out: {}",
        with_latest["recommendations"]
    );
    let bigger = dir.path().join("bigger.yaml");
    let text = std::fs::read_to_string(&spec).expect("spec");
    let grown = text.replacen("maxNodes: 20", "maxNodes: 60", 1);
    assert_ne!(
        grown, text,
        "the example's application pool has maxNodes: 20"
    );
    std::fs::write(&bigger, grown).expect("write");
    let o = plinth(
        &[
            &[
                "fleet",
                "create",
                bigger.to_str().expect("utf8"),
                "--no-wait",
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let grown_total = describe(&[])["cost"]["totalMonthly"]
        .as_f64()
        .expect("a cost");
    assert!(grown_total > total, "{grown_total} vs {total}");
    let o = plinth(
        &[
            &["fleet", "create", spec.to_str().expect("utf8"), "--no-wait"][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(o.status.success());

    let before = generations(all(kcps.clone(), mds.clone(), selector.clone()).await);
    // Refused before any change: a downgrade and a skipped minor.
    for to in ["v1.27.9", "v1.30.0"] {
        let o = plinth(
            &[
                &["fleet", "upgrade", name.as_str(), "--to", to][..],
                &common[..],
            ]
            .concat(),
        );
        assert_eq!(
            o.status.code(),
            Some(2),
            "{to}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("refused"),
            "{to}"
        );
    }
    assert_eq!(
        generations(all(kcps.clone(), mds.clone(), selector.clone()).await),
        before,
        "a refusal changed something"
    );
    // A dry run prints the plan and changes nothing.
    let o = plinth(
        &[
            &[
                "fleet",
                "upgrade",
                name.as_str(),
                "--to",
                "v1.29.0",
                "--dry-run",
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("KubeadmControlPlane"));
    assert_eq!(
        generations(all(kcps.clone(), mds.clone(), selector.clone()).await),
        before
    );

    // The providers: record each new version asked for, in order; roll it out when allowed.
    let order: Arc<Mutex<Vec<String>>> = Arc::default();
    let pools_allowed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // What every object asks for before the upgrade starts, so that no change can slip
    // in before the provider's first look.
    let initial: std::collections::BTreeMap<String, String> =
        all(kcps.clone(), mds.clone(), selector.clone())
            .await
            .iter()
            .map(|o| (o.metadata.name.clone().unwrap_or_default(), version_of(o)))
            .collect();
    let provider = {
        let (order, pools_allowed, stop) = (order.clone(), pools_allowed.clone(), stop.clone());
        let (kcps, mds, selector) = (kcps.clone(), mds.clone(), selector.clone());
        tokio::spawn(async move {
            let mut seen = initial;
            let mut rolled: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
            while !stop.load(Ordering::SeqCst) {
                for o in all(kcps.clone(), mds.clone(), selector.clone()).await {
                    let n = o.metadata.name.clone().unwrap_or_default();
                    let v = version_of(&o);
                    let is_cp = o
                        .types
                        .as_ref()
                        .is_some_and(|t| t.kind == "KubeadmControlPlane");
                    if seen
                        .insert(n.clone(), v.clone())
                        .is_some_and(|old| old != v)
                    {
                        order.lock().expect("order").push(n.clone());
                    }
                    if v == "v1.29.0"
                        && !rolled.contains(&n)
                        && (is_cp || pools_allowed.load(Ordering::SeqCst))
                    {
                        roll(if is_cp { &kcps } else { &mds }, &o, &v, is_cp).await;
                        rolled.insert(n);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // A machine of the first pool (by name) that stays on the old version and reports
    // why, so the stuck rollout below must name it.
    let mut pool_names: Vec<String> = mds
        .list(&selector)
        .await
        .expect("mds")
        .items
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    pool_names.sort();
    let first_pool = pool_names.first().expect("pools").clone();
    let machines: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resource("cluster.x-k8s.io/v1beta2", "Machine").await,
    );
    let machine = format!("{first_pool}-abcde");
    let mut m: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Machine",
        "metadata": {"name": machine, "namespace": ns, "labels": {
            "cluster.x-k8s.io/cluster-name": name,
            "cluster.x-k8s.io/deployment-name": first_pool}},
        "spec": {
            "clusterName": name,
            "version": "v1.28.5",
            "bootstrap": {"dataSecretName": format!("{machine}-bootstrap")},
            "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io",
                "kind": "AWSMachine", "name": machine},
        },
    }))
    .expect("machine");
    m.metadata.resource_version = None;
    machines
        .create(&Default::default(), &m)
        .await
        .expect("create machine");
    machines
        .patch_status(
            &machine,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"phase": "Running", "conditions": [{
                "type": "Deleting", "status": "True", "reason": "WaitingForPreDrainHook",
                "message": "pre-drain hook pending", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})),
        )
        .await
        .expect("machine status");

    // First run: only the control plane gets rolled out; the first pool never finishes,
    // so the command times out there (exit 1), as an interruption would leave it.
    let o = plinth(
        &[
            &[
                "fleet",
                "upgrade",
                name.as_str(),
                "--to",
                "v1.29.0",
                "--timeout",
                "4",
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("run the same command again"), "{err}");
    assert!(
        err.contains(&format!("Machine/{machine}: v1.28.5, phase Running")),
        "the stuck machine is named: {err}"
    );
    assert!(err.contains("WaitingForPreDrainHook"), "{err}");
    let cp_generation = kcps.list(&ListParams::default()).await.expect("kcp").items[0]
        .metadata
        .generation;

    // Second run: it continues with the pools, in name order.
    pools_allowed.store(true, Ordering::SeqCst);
    let o = plinth(
        &[
            &[
                "fleet",
                "upgrade",
                name.as_str(),
                "--to",
                "v1.29.0",
                "--timeout",
                "60",
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    stop.store(true, Ordering::SeqCst);
    provider.await.expect("provider");
    let order = order.lock().expect("order").clone();
    let mut pools: Vec<String> = mds
        .list(&selector)
        .await
        .expect("mds")
        .items
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    pools.sort();
    let kcp_name = kcps.list(&ListParams::default()).await.expect("kcp").items[0]
        .metadata
        .name
        .clone()
        .expect("name");
    let mut expected = vec![kcp_name];
    expected.extend(pools);
    assert_eq!(
        order, expected,
        "control plane first, then the pools by name, each once"
    );
    assert_eq!(
        kcps.list(&ListParams::default()).await.expect("kcp").items[0]
            .metadata
            .generation,
        cp_generation,
        "the second run patched the control plane again"
    );
    // Nothing left to do.
    let o = plinth(
        &[
            &["fleet", "upgrade", name.as_str(), "--to", "v1.29.0"][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to do"));

    // Every machine template moved to the image pinned for v1.29.0, created in the
    // cluster's apply set before the patch that points at it.
    let templates: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resource(
            "infrastructure.cluster.x-k8s.io/v1beta2",
            "AWSMachineTemplate",
        )
        .await,
    );
    let mut refs = vec![kcps.list(&ListParams::default()).await.expect("kcp").items[0].data["spec"]
        ["machineTemplate"]["spec"]["infrastructureRef"]["name"]
        .as_str()
        .expect("ref")
        .to_owned()];
    for m in mds.list(&selector).await.expect("mds").items {
        refs.push(
            m.data["spec"]["template"]["spec"]["infrastructureRef"]["name"]
                .as_str()
                .expect("ref")
                .to_owned(),
        );
    }
    assert_eq!(refs.len(), 4);
    for r in &refs {
        let t = templates.get(r).await.expect("referenced template exists");
        assert_eq!(
            t.data["spec"]["template"]["spec"]["ami"]["id"], "ami-0fedcba9876543210",
            "{r}"
        );
        assert_eq!(
            t.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("plinth.dev/apply-set")),
            Some(&format!("fleet-{name}")),
            "{r}"
        );
    }

    // The recorded spec follows the upgrade.
    let clusters: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resource("cluster.x-k8s.io/v1beta2", "Cluster").await,
    );
    let recorded = clusters.get(&name).await.expect("cluster");
    let recorded: serde_json::Value = serde_json::from_str(
        &recorded.metadata.annotations.expect("annotations")["plinth.io/managed-cluster"],
    )
    .expect("spec JSON");
    assert_eq!(recorded["spec"]["kubernetesVersion"], "v1.29.0");

    // Re-applying the old spec would downgrade the cluster: refused, nothing changed.
    let before = generations(all(kcps.clone(), mds.clone(), selector.clone()).await);
    let o = plinth(
        &[
            &["fleet", "create", spec.to_str().expect("utf8"), "--no-wait"][..],
            &common[..],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("would downgrade"), "{err}");
    assert_eq!(
        generations(all(kcps.clone(), mds.clone(), selector.clone()).await),
        before
    );
    // A spec that skips ahead is sent to `fleet upgrade` instead.
    let ahead = dir.path().join("ahead.yaml");
    let text = std::fs::read_to_string(&spec).expect("spec");
    std::fs::write(
        &ahead,
        text.replace("kubernetesVersion: v1.28.5", "kubernetesVersion: v1.30.1"),
    )
    .expect("write");
    let o = plinth(
        &[
            &[
                "fleet",
                "create",
                ahead.to_str().expect("utf8"),
                "--no-wait",
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("plinth fleet upgrade"));
    // The spec brought up to date applies, and changes no machine.
    let current = dir.path().join("current.yaml");
    std::fs::write(
        &current,
        text.replace("kubernetesVersion: v1.28.5", "kubernetesVersion: v1.29.0"),
    )
    .expect("write");
    let o = plinth(
        &[
            &[
                "fleet",
                "create",
                current.to_str().expect("utf8"),
                "--no-wait",
            ][..],
            &common[..],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        generations(all(kcps.clone(), mds.clone(), selector.clone()).await),
        before
    );
}
