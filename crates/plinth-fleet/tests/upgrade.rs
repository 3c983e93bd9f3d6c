//! Upgrade planning from live Cluster API v1beta2 objects: refusals (downgrade, skipped
//! minor, workers ahead, workers too far behind), order (control plane, then pools by
//! name), resumability from partial states, completion checks and blocking conditions.

use plinth_fleet::upgrade::{self, ClusterState, UpgradeError};
use plinth_fleet::version::KubeVersion;
use serde_json::{Value, json};

fn v(s: &str) -> KubeVersion {
    s.parse().expect("test version")
}

/// A KubeadmControlPlane asking for `spec` with `machines` per running version, rolled
/// out when every machine runs `spec`.
fn kcp(spec: &str, replicas: u32, machines: &[(&str, u32)]) -> Value {
    let total: u32 = machines.iter().map(|(_, n)| n).sum();
    let up_to_date: u32 = machines
        .iter()
        .filter(|(ver, _)| *ver == spec)
        .map(|(_, n)| n)
        .sum();
    json!({
        "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2",
        "kind": "KubeadmControlPlane",
        "metadata": {"name": "demo-control-plane", "namespace": "default", "generation": 4},
        "spec": {"replicas": replicas, "version": spec},
        "status": {
            "observedGeneration": 4,
            "replicas": total,
            "upToDateReplicas": up_to_date,
            "readyReplicas": total,
            "availableReplicas": total,
            "versions": machines.iter().map(|(ver, n)| json!({"version": ver, "replicas": n})).collect::<Vec<_>>(),
            "conditions": [{"type": "Available", "status": "True", "reason": "Available", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        },
    })
}

fn md(name: &str, spec: &str, replicas: u32, machines: &[(&str, u32)]) -> Value {
    let total: u32 = machines.iter().map(|(_, n)| n).sum();
    let up_to_date: u32 = machines
        .iter()
        .filter(|(ver, _)| *ver == spec)
        .map(|(_, n)| n)
        .sum();
    let mut status = json!({
        "observedGeneration": 2,
        "replicas": total,
        "upToDateReplicas": up_to_date,
        "readyReplicas": total,
    });
    if !machines.is_empty() {
        status["versions"] = machines
            .iter()
            .map(|(ver, n)| json!({"version": ver, "replicas": n}))
            .collect();
    }
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "MachineDeployment",
        "metadata": {"name": format!("demo-{name}"), "namespace": "default", "generation": 2},
        "spec": {"clusterName": "demo", "replicas": replicas,
                 "template": {"spec": {"clusterName": "demo", "version": spec}}},
        "status": status,
    })
}

fn state(cp: Value, mds: Vec<Value>) -> ClusterState {
    ClusterState::from_objects(&cp, &mds).expect("valid objects")
}

fn names(plan: &upgrade::UpgradePlan) -> Vec<String> {
    plan.steps.iter().map(|s| s.object.to_string()).collect()
}

/// A settled cluster at v1.30.4 with pools listed out of name order.
fn settled() -> ClusterState {
    state(
        kcp("v1.30.4", 3, &[("v1.30.4", 3)]),
        vec![
            md("system", "v1.30.4", 3, &[("v1.30.4", 3)]),
            md("application", "v1.30.4", 5, &[("v1.30.4", 5)]),
            md("batch", "v1.30.4", 0, &[]),
        ],
    )
}

#[test]
fn plan_is_control_plane_then_pools_by_name_with_merge_patches() {
    let plan = upgrade::plan(&settled(), &v("v1.31.2")).expect("allowed");
    assert_eq!(
        names(&plan),
        [
            "KubeadmControlPlane/demo-control-plane",
            "MachineDeployment/demo-application",
            "MachineDeployment/demo-batch",
            "MachineDeployment/demo-system",
        ]
    );
    assert_eq!(plan.control_plane_from, v("v1.30.4"));
    assert_eq!(
        plan.steps[0].patch,
        Some(json!({"spec": {"version": "v1.31.2"}}))
    );
    for s in &plan.steps[1..] {
        assert_eq!(
            s.patch,
            Some(json!({"spec": {"template": {"spec": {"version": "v1.31.2"}}}}))
        );
        assert_eq!(s.from, v("v1.30.4"));
    }
    // Patch releases within the same minor are fine too.
    assert_eq!(
        upgrade::plan(&settled(), &v("v1.30.9"))
            .expect("patch upgrade")
            .steps
            .len(),
        4
    );
}

#[test]
fn nothing_to_do_at_the_target() {
    let plan = upgrade::plan(&settled(), &v("v1.30.4")).expect("no-op");
    assert!(plan.is_empty());
    assert!(upgrade::blocking(&settled()).is_empty());
}

#[test]
fn downgrade_is_refused() {
    let err = upgrade::plan(&settled(), &v("v1.29.8")).expect_err("downgrade");
    assert!(matches!(err, UpgradeError::Downgrade { .. }), "{err}");
    let err = upgrade::plan(&settled(), &v("v1.30.3")).expect_err("patch downgrade");
    assert!(matches!(err, UpgradeError::Downgrade { .. }), "{err}");
}

#[test]
fn skipping_a_minor_is_refused() {
    let err = upgrade::plan(&settled(), &v("v1.32.0")).expect_err("skip");
    assert!(matches!(err, UpgradeError::SkipsMinor { .. }), "{err}");
    assert!(err.to_string().contains("v1.31.x"), "{err}");
    let err = upgrade::plan(&settled(), &v("v2.0.0")).expect_err("major");
    assert!(matches!(err, UpgradeError::SkipsMinor { .. }), "{err}");
    // Counted from the oldest control plane machine: a half-done 1.30 -> 1.31 rollout
    // cannot be redirected to 1.32.
    let mid = state(
        kcp("v1.31.2", 3, &[("v1.30.4", 2), ("v1.31.2", 1)]),
        vec![md("system", "v1.30.4", 3, &[("v1.30.4", 3)])],
    );
    let err = upgrade::plan(&mid, &v("v1.32.0")).expect_err("skip mid-rollout");
    assert!(matches!(err, UpgradeError::SkipsMinor { .. }), "{err}");
}

#[test]
fn workers_ahead_of_the_control_plane_are_refused() {
    let ahead = state(
        kcp("v1.30.4", 3, &[("v1.30.4", 3)]),
        vec![
            md("application", "v1.30.4", 5, &[("v1.30.4", 5)]),
            md("system", "v1.31.2", 3, &[("v1.30.4", 3)]),
        ],
    );
    let err = upgrade::plan(&ahead, &v("v1.31.2")).expect_err("workers ahead");
    match &err {
        UpgradeError::WorkersAhead { object, .. } => {
            assert_eq!(object, "MachineDeployment/demo-system")
        }
        other => panic!("unexpected {other}"),
    }
    // Also when the control plane only asks for the new version but does not run it.
    let cp_rolling = state(
        kcp("v1.31.2", 3, &[("v1.30.4", 3)]),
        vec![md("system", "v1.31.2", 3, &[("v1.31.2", 3)])],
    );
    assert!(matches!(
        upgrade::plan(&cp_rolling, &v("v1.31.2")),
        Err(UpgradeError::WorkersAhead { .. })
    ));
}

#[test]
fn workers_too_far_behind_are_refused() {
    let old = state(
        kcp("v1.30.4", 3, &[("v1.30.4", 3)]),
        vec![md("legacy", "v1.27.9", 2, &[("v1.27.9", 2)])],
    );
    assert!(matches!(
        upgrade::plan(&old, &v("v1.31.0")),
        Err(UpgradeError::TooFarBehind { .. })
    ));
    // Three minors behind is within the skew policy.
    let ok = state(
        kcp("v1.30.4", 3, &[("v1.30.4", 3)]),
        vec![md("legacy", "v1.28.9", 2, &[("v1.28.9", 2)])],
    );
    assert!(upgrade::plan(&ok, &v("v1.31.0")).is_ok());
}

#[test]
fn resumes_from_partial_states() {
    // Interrupted while the control plane rolls out: wait for it (no patch), then pools.
    let cp_rolling = state(
        kcp("v1.31.2", 3, &[("v1.30.4", 1), ("v1.31.2", 2)]),
        vec![
            md("system", "v1.30.4", 3, &[("v1.30.4", 3)]),
            md("application", "v1.30.4", 5, &[("v1.30.4", 5)]),
        ],
    );
    let plan = upgrade::plan(&cp_rolling, &v("v1.31.2")).expect("resume");
    assert_eq!(plan.steps.len(), 3);
    assert_eq!(plan.steps[0].object.kind, "KubeadmControlPlane");
    assert_eq!(plan.steps[0].patch, None);
    assert!(plan.steps[0].describe().contains("wait"));
    assert!(plan.steps[1].patch.is_some());

    // Interrupted between the control plane and the pools: pools only.
    let between = state(
        kcp("v1.31.2", 3, &[("v1.31.2", 3)]),
        vec![
            md("system", "v1.30.4", 3, &[("v1.30.4", 3)]),
            md("application", "v1.30.4", 5, &[("v1.30.4", 5)]),
        ],
    );
    let plan = upgrade::plan(&between, &v("v1.31.2")).expect("resume");
    assert_eq!(
        names(&plan),
        [
            "MachineDeployment/demo-application",
            "MachineDeployment/demo-system"
        ]
    );

    // One pool done, the other mid-rollout: wait for that one, skip the done one.
    let later = state(
        kcp("v1.31.2", 3, &[("v1.31.2", 3)]),
        vec![
            md("application", "v1.31.2", 5, &[("v1.31.2", 5)]),
            md("system", "v1.31.2", 3, &[("v1.30.4", 1), ("v1.31.2", 2)]),
        ],
    );
    let plan = upgrade::plan(&later, &v("v1.31.2")).expect("resume");
    assert_eq!(names(&plan), ["MachineDeployment/demo-system"]);
    assert_eq!(plan.steps[0].patch, None);

    // A control plane at the target whose controller has not observed the latest
    // generation is not done yet.
    let mut unobserved = kcp("v1.31.2", 3, &[("v1.31.2", 3)]);
    unobserved["metadata"]["generation"] = json!(5);
    let s = state(unobserved, vec![]);
    let plan = upgrade::plan(&s, &v("v1.31.2")).expect("resume");
    assert_eq!(plan.steps.len(), 1);
}

#[test]
fn is_done_follows_the_status() {
    let plan = upgrade::plan(&settled(), &v("v1.31.2")).expect("allowed");
    let cp_step = &plan.steps[0];
    assert!(
        !cp_step
            .is_done(&kcp("v1.30.4", 3, &[("v1.30.4", 3)]))
            .expect("readable")
    );
    // Patched, rolling: not done.
    assert!(
        !cp_step
            .is_done(&kcp("v1.31.2", 3, &[("v1.30.4", 1), ("v1.31.2", 2)]))
            .expect("readable")
    );
    // All machines at the version but one not ready: not done.
    let mut unready = kcp("v1.31.2", 3, &[("v1.31.2", 3)]);
    unready["status"]["readyReplicas"] = json!(2);
    assert!(!cp_step.is_done(&unready).expect("readable"));
    // Rolled out: done.
    assert!(
        cp_step
            .is_done(&kcp("v1.31.2", 3, &[("v1.31.2", 3)]))
            .expect("readable")
    );
    // A surge machine still present (4 of 3): not done.
    assert!(
        !cp_step
            .is_done(&kcp("v1.31.2", 3, &[("v1.31.2", 4)]))
            .expect("readable")
    );
    // A pool of zero replicas is done as soon as it asks for the version.
    let batch = plan
        .steps
        .iter()
        .find(|s| s.object.name == "demo-batch")
        .expect("batch step");
    assert!(
        batch
            .is_done(&md("batch", "v1.31.2", 0, &[]))
            .expect("readable")
    );
}

#[test]
fn malformed_objects_are_errors_not_panics() {
    let mut bad = kcp("v1.30.4", 3, &[("v1.30.4", 3)]);
    bad["spec"]["version"] = json!("1.30");
    let err = ClusterState::from_objects(&bad, &[]).expect_err("bad version");
    assert!(err.to_string().contains("spec.version"), "{err}");
    let mut bad = kcp("v1.30.4", 3, &[("v1.30.4", 3)]);
    bad["status"]["readyReplicas"] = json!("three");
    assert!(ClusterState::from_objects(&bad, &[]).is_err());
    let wrong_kind = md("system", "v1.30.4", 3, &[("v1.30.4", 3)]);
    assert!(ClusterState::from_objects(&wrong_kind, &[]).is_err());
    assert!(ClusterState::from_objects(&json!({}), &[]).is_err());
}

#[test]
fn blocking_reports_stuck_objects_conditions_and_machines() {
    let mut cp = kcp("v1.31.2", 3, &[("v1.30.4", 2), ("v1.31.2", 1)]);
    cp["status"]["readyReplicas"] = json!(2);
    cp["status"]["conditions"] = json!([
        {"type": "Available", "status": "True", "reason": "Available"},
        {"type": "RollingOut", "status": "True", "reason": "RollingOut", "message": "Rolling out 2 not up-to-date replicas"},
        {"type": "MachinesReady", "status": "False", "reason": "NotReady",
         "message": "* Machine demo-control-plane-x7k2p: NodeHealthy: Node not found"},
        {"type": "EtcdClusterHealthy", "status": "Unknown", "reason": "Inspecting"},
    ]);
    let mut pool = md("system", "v1.30.4", 3, &[("v1.30.4", 3)]);
    pool["spec"]["paused"] = json!(true);
    let machines = vec![
        json!({"kind": "Machine",
               "metadata": {"name": "demo-control-plane-x7k2p", "namespace": "default",
                            "labels": {"cluster.x-k8s.io/control-plane-name": "demo-control-plane"}},
               "spec": {"version": "v1.31.2"},
               "status": {"phase": "Provisioned", "conditions": [
                   {"type": "NodeHealthy", "status": "False", "reason": "NodeDoesNotExist", "message": "Node not found"}]}}),
        json!({"kind": "Machine",
               "metadata": {"name": "demo-control-plane-aaaaa", "namespace": "default",
                            "labels": {"cluster.x-k8s.io/control-plane-name": "demo-control-plane"}},
               "spec": {"version": "v1.30.4"},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}]}}),
        json!({"kind": "Machine",
               "metadata": {"name": "demo-control-plane-bbbbb", "namespace": "default",
                            "labels": {"cluster.x-k8s.io/control-plane-name": "demo-control-plane"}},
               "spec": {"version": "v1.31.2"},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}]}}),
    ];
    let s = ClusterState::from_objects(&cp, &[pool])
        .expect("valid")
        .with_machines(&machines);
    let lines = upgrade::blocking(&s);
    let text = lines.join("\n");
    assert!(
        text.contains("KubeadmControlPlane/demo-control-plane: rolling out v1.31.2"),
        "{text}"
    );
    assert!(
        text.contains("MachinesReady=False (NotReady): * Machine demo-control-plane-x7k2p"),
        "{text}"
    );
    assert!(
        text.contains(
            "Machine/demo-control-plane-x7k2p: NodeHealthy=False (NodeDoesNotExist): Node not found"
        ),
        "{text}"
    );
    // Behind the version but healthy: named as behind, no conditions.
    assert!(
        text.contains("Machine/demo-control-plane-aaaaa: v1.30.4, phase Running"),
        "{text}"
    );
    // Up to date and healthy: not named. True positive conditions and progress: not named.
    assert!(!text.contains("bbbbb"), "{text}");
    assert!(!text.contains("Available="), "{text}");
    assert!(!text.contains("RollingOut="), "{text}");
    // The settled, paused pool is not rolling out: not reported.
    assert!(!text.contains("demo-system"), "{text}");

    // A paused pool that is mid-rollout is reported as paused.
    let mut stuck = md("system", "v1.31.2", 3, &[("v1.30.4", 3)]);
    stuck["spec"]["paused"] = json!(true);
    let s =
        ClusterState::from_objects(&kcp("v1.31.2", 3, &[("v1.31.2", 3)]), &[stuck]).expect("valid");
    assert_eq!(
        upgrade::blocking(&s),
        [
            "MachineDeployment/demo-system: rolling out v1.31.2: desired 3, replicas 3, up-to-date 0, ready 3",
            "MachineDeployment/demo-system: paused",
        ]
    );
}

/// A spec with pools `general` and `batch` and images pinned for two versions.
const SPEC: &str = r#"apiVersion: plinth.io/v1alpha1
kind: ManagedCluster
metadata:
  name: demo
spec:
  tier: staging
  region: us-east-1
  kubernetesVersion: v1.30.4
  controlPlane:
    replicas: 3
    instanceType: c5.xlarge
  nodePools:
    - name: general
      machineType: c5.large
      minNodes: 2
      maxNodes: 6
    - name: batch
      machineType: c5.2xlarge
      minNodes: 0
      maxNodes: 4
  machineImages:
    v1.30.4: ami-0123456789abcdef0
    v1.31.0: ami-0fedcba9876543210
  networking:
    vpcCidr: 10.0.0.0/16
    podCidr: 192.168.0.0/16
    serviceCidr: 10.128.0.0/12
"#;

#[test]
fn templates_move_with_the_version_in_the_same_patch() {
    let docs = plinth_core::manifest::parse_str("spec.yaml", SPEC).expect("parses");
    let mut spec = plinth_fleet::clusters(&docs).expect("valid").remove(0);
    let settings = plinth_fleet::RenderSettings::default();
    let before = plinth_fleet::render(&spec, &settings).expect("renders");
    spec.spec.kubernetes_version = "v1.31.0".to_owned();
    let after = plinth_fleet::render(&spec, &settings).expect("renders");

    let live = state(
        kcp("v1.30.4", 3, &[("v1.30.4", 3)]),
        vec![
            md("general", "v1.30.4", 2, &[("v1.30.4", 2)]),
            md("batch", "v1.30.4", 1, &[("v1.30.4", 1)]),
        ],
    );
    let plan = upgrade::with_templates(upgrade::plan(&live, &v("v1.31.0")).expect("plan"), &after);
    assert_eq!(plan.steps.len(), 3);
    let template_name = |objs: &[Value], kind: &str, prefix: &str| -> String {
        objs.iter()
            .find(|o| {
                o["kind"] == kind
                    && o["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(prefix))
            })
            .and_then(|o| o["metadata"]["name"].as_str())
            .expect("template")
            .to_owned()
    };
    // Control plane: version and its new machine template together.
    let cp = &plan.steps[0];
    let patch = cp.patch.as_ref().expect("patch");
    assert_eq!(patch["spec"]["version"], "v1.31.0");
    let new_cp = template_name(&after, "AWSMachineTemplate", "demo-control-plane-");
    assert_ne!(
        new_cp,
        template_name(&before, "AWSMachineTemplate", "demo-control-plane-")
    );
    assert_eq!(
        patch["spec"]["machineTemplate"]["spec"]["infrastructureRef"]["name"],
        new_cp.as_str()
    );
    assert_eq!(cp.templates.len(), 1);
    assert_eq!(
        cp.templates[0]["spec"]["template"]["spec"]["ami"]["id"],
        "ami-0fedcba9876543210"
    );
    assert!(cp.describe().contains(&new_cp), "{}", cp.describe());
    // Pools: machine and bootstrap templates with the version.
    let batch = &plan.steps[1];
    assert_eq!(batch.object.name, "demo-batch");
    let patch = batch.patch.as_ref().expect("patch");
    let spec_part = &patch["spec"]["template"]["spec"];
    assert_eq!(spec_part["version"], "v1.31.0");
    assert_eq!(
        spec_part["infrastructureRef"]["name"],
        template_name(&after, "AWSMachineTemplate", "demo-batch-").as_str()
    );
    assert_eq!(
        spec_part["bootstrap"]["configRef"]["kind"],
        "KubeadmConfigTemplate"
    );
    assert_eq!(batch.templates.len(), 2);

    // An object the render does not hold keeps a version-only patch.
    let foreign = state(
        kcp("v1.30.4", 3, &[("v1.30.4", 3)]),
        vec![md("legacy", "v1.30.4", 1, &[("v1.30.4", 1)])],
    );
    let plan = upgrade::with_templates(
        upgrade::plan(&foreign, &v("v1.31.0")).expect("plan"),
        &after,
    );
    assert_eq!(
        plan.steps[1].patch,
        Some(json!({"spec": {"template": {"spec": {"version": "v1.31.0"}}}}))
    );
    assert!(plan.steps[1].templates.is_empty());
}
