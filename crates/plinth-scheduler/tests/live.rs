//! The live scheduler on the real control plane: binding, events and conditions,
//! re-activation, preemption, profile reloads and metrics.

mod common;

use std::time::Duration;

use common::{Slice, TEST_TAINT};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn binds_our_pods_to_feasible_nodes_and_leaves_others_alone() {
    let s = Slice::new("bind").await;
    let mut gpu = s.node("gpu");
    gpu["metadata"]["labels"]["accelerator"] = json!("gpu");
    s.create_node(gpu).await;
    s.create_node(s.node("plain")).await;
    let running = s.start().await;

    let mut wants_gpu = s.pod("wants-gpu");
    wants_gpu["spec"]["nodeSelector"] = json!({"accelerator": "gpu"});
    s.create_pod(wants_gpu).await;
    let mut other = s.pod("not-ours");
    other["spec"]["schedulerName"] = json!("some-other-scheduler");
    s.create_pod(other).await;
    for i in 0..10 {
        s.create_pod(s.pod(&format!("p{i}"))).await;
    }

    assert_eq!(s.bound("wants-gpu", WAIT).await, s.node_name("gpu"));
    for i in 0..10 {
        let node = s.bound(&format!("p{i}"), WAIT).await;
        assert!(node == s.node_name("gpu") || node == s.node_name("plain"));
    }
    let note = s
        .event("p0", "Scheduled", "Successfully assigned", WAIT)
        .await;
    assert!(note.contains(&format!("{}/p0", s.ns)), "{note}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let other = s.get_pod("not-ours").await.expect("exists");
    assert!(
        other.spec.and_then(|s| s.node_name).is_none(),
        "another scheduler's pod was touched"
    );
    assert!(s.events("not-ours").await.is_empty());
    running.stop();
    running.join().await.expect("clean stop");
}

#[tokio::test]
async fn unschedulable_pods_get_events_and_conditions_then_bind_when_a_node_appears() {
    let s = Slice::new("unsched").await;
    let mut tainted = s.node("ml");
    tainted["spec"]["taints"]
        .as_array_mut()
        .expect("taints")
        .push(json!({"key": "workload-type", "value": "ml", "effect": "NoSchedule"}));
    s.create_node(tainted).await;
    let mut small = s.node("small");
    small["status"]["allocatable"]["cpu"] = json!("1");
    s.create_node(small).await;
    let running = s.start().await;

    // Resource exhaustion on one node, an untolerated taint on the other.
    let mut big = s.pod("big");
    big["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("2");
    s.create_pod(big).await;
    let note = s
        .event("big", "FailedScheduling", "nodes are available", WAIT)
        .await;
    assert!(note.contains("Insufficient cpu"), "{note}");
    assert!(
        note.contains("node(s) had untolerated taint {workload-type: ml}"),
        "{note}"
    );
    let (status, reason, message) = s.scheduled_condition("big").await.expect("condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "Unschedulable")
    );
    assert!(message.contains("Insufficient cpu"), "{message}");

    // Required node affinity that no node satisfies.
    let mut picky = s.pod("picky");
    picky["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disktype", "operator": "In", "values": ["ssd"]}]}]}}});
    s.create_pod(picky).await;
    s.event(
        "picky",
        "FailedScheduling",
        "didn't match Pod's node affinity/selector",
        WAIT,
    )
    .await;
    let (status, reason, _) = s.scheduled_condition("picky").await.expect("condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "Unschedulable")
    );

    // An unknown profile and malformed metadata: named problems, never a crash.
    let mut unknown = s.pod("unknown-profile");
    unknown["metadata"]["labels"]["workload.enterprise.io/type"] = json!("quantum");
    s.create_pod(unknown).await;
    s.event(
        "unknown-profile",
        "FailedScheduling",
        "unknown workload type \"quantum\"",
        WAIT,
    )
    .await;
    let mut malformed = s.pod("malformed");
    malformed["metadata"]["annotations"] =
        json!({"scheduler.enterprise.io/workload-metadata": "{not json"});
    s.create_pod(malformed).await;
    s.event(
        "malformed",
        "FailedScheduling",
        "scheduler.enterprise.io/workload-metadata",
        WAIT,
    )
    .await;

    // A suitable node arrives: the pod is bound within seconds.
    s.create_node(s.node("roomy")).await;
    assert_eq!(
        s.bound("big", Duration::from_secs(15)).await,
        s.node_name("roomy")
    );
    running.stop();
    running.join().await.expect("clean stop");
}

#[tokio::test]
async fn preemption_respects_budgets_and_policy() {
    let s = Slice::new("preempt").await;
    let mut n = s.node("only");
    n["status"]["allocatable"]["cpu"] = json!("2");
    s.create_node(n).await;
    let running = s.start().await;

    // Fill the node with two low-priority pods; one is protected by a PDB.
    for (name, app) in [("protected", "db"), ("plain", "web")] {
        let mut p = s.pod(name);
        p["metadata"]["labels"]["app"] = json!(app);
        p["spec"]["priorityClassName"] = json!("best-effort");
        p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1");
        s.create_pod(p).await;
        s.bound(name, WAIT).await;
    }
    s.apply(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "db", "namespace": s.ns},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}}),
    )
    .await;

    // preemptionPolicy Never (class "low") waits instead of preempting.
    let mut polite = s.pod("polite");
    polite["spec"]["priorityClassName"] = json!("low");
    polite["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1");
    s.create_pod(polite).await;
    let note = s
        .event("polite", "FailedScheduling", "preemption", WAIT)
        .await;
    assert!(note.contains("preemptionPolicy is Never"), "{note}");

    // A critical pod preempts, choosing the victim that violates no budget.
    let mut urgent = s.pod("urgent");
    urgent["spec"]["priorityClassName"] = json!("critical");
    urgent["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1");
    s.create_pod(urgent).await;
    assert_eq!(s.bound("urgent", WAIT).await, s.node_name("only"));
    assert!(
        s.get_pod("plain").await.is_none(),
        "the unprotected pod was the victim"
    );
    assert!(
        s.get_pod("protected").await.is_some(),
        "the PDB-protected pod stays"
    );
    assert!(
        s.get_pod("polite")
            .await
            .and_then(|p| p.spec)
            .and_then(|s| s.node_name)
            .is_none()
    );
    running.stop();
    running.join().await.expect("clean stop");
}

#[tokio::test]
async fn profiles_hot_reload_keeps_the_last_good_version() {
    let s = Slice::new("reload").await;
    let mut web = s.node("web");
    web["metadata"]["labels"]["workload-type"] = json!("web");
    s.create_node(web).await;
    let mut batch = s.node("batch");
    batch["metadata"]["labels"]["workload-type"] = json!("batch");
    s.create_node(batch).await;
    let profiles = |required: &str| {
        format!(
            "profiles:\n  web-application:\n    resource_profile: {{cpu_weight: 1, memory_weight: 1}}\n    sla_requirements: {{max_latency_ms: 200, availability_pct: 99.9, isolation_level: shared}}\n    node_affinity:\n      required_labels: {{workload-type: {required}}}\n"
        )
    };
    let cm = |text: String| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "advanced-scheduling-policies", "namespace": s.ns},
            "data": {"workload-profiles": text}})
    };
    s.apply(cm(profiles("batch"))).await;
    let mut options = s.options();
    options.profiles_configmap = Some((s.ns.clone(), "advanced-scheduling-policies".into()));
    // Pending before the scheduler starts: it must read the ConfigMap before placing it.
    let mut p = s.pod("first");
    p["metadata"]["labels"]["workload.enterprise.io/type"] = json!("web-application");
    s.create_pod(p).await;
    let running = plinth_scheduler::start(s.client.clone(), options)
        .await
        .expect("start");

    assert_eq!(
        s.bound("first", WAIT).await,
        s.node_name("batch"),
        "the ConfigMap's profile, not the built-in"
    );

    // A bad edit: rejected with a Warning event on the ConfigMap; the old profile stays.
    s.apply(cm(
        "profiles:\n  web-application: [not, a, profile]\n".into()
    ))
    .await;
    s.event(
        "advanced-scheduling-policies",
        "InvalidProfiles",
        "last good",
        WAIT,
    )
    .await;
    let mut p = s.pod("second");
    p["metadata"]["labels"]["workload.enterprise.io/type"] = json!("web-application");
    s.create_pod(p).await;
    assert_eq!(s.bound("second", WAIT).await, s.node_name("batch"));

    // A good edit takes effect.
    s.apply(cm(profiles("web"))).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut p = s.pod("third");
    p["metadata"]["labels"]["workload.enterprise.io/type"] = json!("web-application");
    s.create_pod(p).await;
    assert_eq!(s.bound("third", WAIT).await, s.node_name("web"));
    running.stop();
    running.join().await.expect("clean stop");
}

#[tokio::test]
async fn metrics_and_health_over_https() {
    let s = Slice::new("metrics").await;
    s.create_node(s.node("n")).await;
    let mut options = s.options();
    options.metrics_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let running = plinth_scheduler::start(s.client.clone(), options)
        .await
        .expect("start");
    let addr = running.metrics_addr.expect("serving");
    s.create_pod(s.pod("m")).await;
    s.bound("m", WAIT).await;
    let get = |path: &'static str| common::get_https(addr, path);
    assert_eq!(get("/healthz").await.0, 200);
    let deadline = tokio::time::Instant::now() + WAIT;
    while get("/readyz").await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, body) = get("/metrics").await;
    assert_eq!(code, 200);
    for name in [
        "plinth_scheduler_scheduling_attempt_duration_seconds_count{result=\"scheduled\"} 1",
        "plinth_scheduler_pod_scheduling_duration_seconds_count",
        "plinth_scheduler_pending_pods{queue=\"active\"}",
        "plinth_scheduler_bind_errors",
        "plinth_scheduler_preemption_victims_total",
        "plinth_scheduler_cache_size{type=\"nodes\"}",
        "plinth_scheduler_leader 1",
    ] {
        assert!(body.contains(name), "{name} missing in\n{body}");
    }
    assert!(
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .is_err(),
        "no plain HTTP"
    );
    running.stop();
    running.join().await.expect("clean stop");
}

#[tokio::test]
async fn explain_against_the_live_cluster() {
    let s = Slice::new("explain").await;
    s.create_node(s.node("a")).await;
    let mut pod = s.pod("x");
    pod["spec"]["schedulerName"] = json!("nobody");
    s.create_pod(pod).await;
    let e = plinth_scheduler::explain::explain(&s.client, &s.ns, "x", Default::default())
        .await
        .expect("explanation");
    let mine = e
        .nodes
        .iter()
        .find(|v| v.node == s.node_name("a"))
        .expect("our node");
    assert!(mine.feasible, "{mine:?}");
    let others: Vec<_> = e
        .nodes
        .iter()
        .filter(|v| v.node != s.node_name("a"))
        .collect();
    assert!(
        others
            .iter()
            .all(|v| !v.feasible && v.reasons[0].contains(TEST_TAINT))
    );
    let missing =
        plinth_scheduler::explain::explain(&s.client, &s.ns, "nope", Default::default()).await;
    assert!(missing.is_err());
    // Nothing bound by explaining.
    let pods = Api::<Pod>::namespaced(s.client.clone(), &s.ns)
        .list(&ListParams::default())
        .await
        .expect("pods");
    assert!(
        pods.items
            .iter()
            .all(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
    );
    let _ = Api::<Pod>::namespaced(s.client.clone(), &s.ns)
        .delete("x", &DeleteParams::default())
        .await;
}
