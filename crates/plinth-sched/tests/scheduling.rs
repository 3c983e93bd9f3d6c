//! Whole cycles through the public API: selection, messages, profiles, preemption and
//! simulation, written from kube-scheduler's documented behaviour.

use std::collections::BTreeSet;
use std::sync::Arc;

use plinth_sched::config::SchedulerConfig;
use plinth_sched::cycle::prefilter;
use plinth_sched::preemption::preempt;
use plinth_sched::simulate::{Options, Pool, plan_capacity, simulate};
use plinth_sched::snapshot::Pdb;
use plinth_sched::testkit::{Fixture, NodeB, PodB, node, pod};
use plinth_sched::{Scheduler, model::Pod};
use proptest::prelude::*;
use serde_json::json;

fn scheduler() -> Scheduler {
    Scheduler::new(SchedulerConfig::default())
}

fn name_of(f: &Fixture, id: usize) -> String {
    f.snapshot.node(id).node.name.clone()
}

#[test]
fn plain_pods_go_to_the_least_loaded_node() {
    let f = Fixture::new(vec![node("a"), node("b"), node("c")]).with_pods(vec![
        (pod("x").request("2", "4Gi"), "a"),
        (pod("y").request("1", "1Gi"), "b"),
    ]);
    let placed = scheduler()
        .schedule(&f.snapshot, &pod("p").request("500m", "512Mi").build())
        .expect("fits");
    assert_eq!(name_of(&f, placed.node), "c");
    assert_eq!(placed.feasible, 3);
    assert!(placed.score.total > 0.0 && placed.score.total <= 100.0);
}

#[test]
fn ties_go_to_the_first_name() {
    let f = Fixture::new(vec![node("b"), node("a")]);
    let placed = scheduler()
        .schedule(&f.snapshot, &pod("p").build())
        .expect("fits");
    assert_eq!(name_of(&f, placed.node), "a");
}

#[test]
fn failure_message_reads_like_kube_scheduler() {
    let f = Fixture::new(vec![
        node("small").alloc("1", "8Gi"),
        node("ml-1").taint("workload-type", "ml", "NoSchedule"),
        node("ml-2").taint("workload-type", "ml", "NoSchedule"),
    ]);
    let err = scheduler()
        .schedule(&f.snapshot, &pod("p").request("2", "1Gi").build())
        .expect_err("nothing fits");
    assert_eq!(
        err.message(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {workload-type: ml}."
    );
    assert_eq!(
        err.preemption_candidates(),
        vec![0],
        "only the resource failure is resolvable"
    );
}

#[test]
fn profiles_filter_and_prefer() {
    let f = Fixture::new(vec![
        node("web-old")
            .label("workload-type", "web")
            .label("instance-generation", "previous"),
        node("web-new")
            .label("workload-type", "web")
            .label("instance-generation", "current")
            .label("network-performance", "high"),
        node("batch").label("workload-type", "batch"),
    ]);
    let mut s = scheduler();
    let web = pod("w")
        .label("workload.enterprise.io/type", "web-application")
        .build();
    let placed = s.schedule(&f.snapshot, &web).expect("fits");
    assert_eq!(name_of(&f, placed.node), "web-new");
    assert_eq!(placed.feasible, 2);
    assert!(
        (placed.score.affinity - 100.0).abs() < 1e-9,
        "{:?}",
        placed.score
    );

    let explanation = s.explain(&f.snapshot, &web);
    assert_eq!(explanation.profile.as_deref(), Some("web-application"));
    let old = explanation
        .nodes
        .iter()
        .find(|n| n.node == "web-old")
        .expect("listed");
    assert!(
        old.score.expect("feasible").affinity < 1e-9,
        "no preferred label matched"
    );
    let batch = explanation
        .nodes
        .iter()
        .find(|n| n.node == "batch")
        .expect("listed");
    assert_eq!(batch.plugin, Some("WorkloadLabels"));

    let bad = pod("q")
        .label("workload.enterprise.io/type", "quantum")
        .build();
    let err = s.schedule(&f.snapshot, &bad).expect_err("bad profile");
    assert!(
        err.message().starts_with(
            "0/3 nodes are available: workload profile: unknown workload type \"quantum\""
        ),
        "{}",
        err.message()
    );
    assert!(err.preemption_candidates().is_empty());
}

#[test]
fn anti_affinity_rules_are_key_and_value() {
    let f = Fixture::new(vec![
        node("spot")
            .label("workload-type", "web")
            .label("instance-generation", "current")
            .label("spot-instance", "true"),
        node("nonspot")
            .label("workload-type", "web")
            .label("instance-generation", "current")
            .label("spot-instance", "false"),
    ]);
    let mut s = scheduler();
    let e = s.explain(
        &f.snapshot,
        &pod("w")
            .label("workload.enterprise.io/type", "web-application")
            .build(),
    );
    let score = |n: &str| {
        e.nodes
            .iter()
            .find(|v| v.node == n)
            .and_then(|v| v.score)
            .expect("feasible")
    };
    assert!(
        score("nonspot").affinity > score("spot").affinity,
        "only spot-instance=true is penalised"
    );
}

#[test]
fn gated_pods_wait() {
    let f = Fixture::new(vec![node("a")]);
    let mut gated = pod("g");
    gated.0["spec"]["schedulingGates"] = json!([{"name": "example.com/quota"}]);
    let err = scheduler()
        .schedule(&f.snapshot, &gated.build())
        .expect_err("gated");
    assert!(
        err.message()
            .contains("waiting for scheduling gates example.com/quota")
    );
}

fn preemption_case(f: &Fixture, preemptor: PodB) -> Result<(String, Vec<String>, usize), String> {
    let mut s = scheduler();
    let p = preemptor.build();
    let fit = s
        .schedule(&f.snapshot, &p)
        .expect_err("must not fit before preemption");
    preempt(&s, &f.snapshot, &p, &fit)
        .map(|pre| {
            let victims = pre
                .victims
                .iter()
                .map(|v| f.snapshot.pod(*v).expect("victim").pod.name.clone())
                .collect();
            (name_of(f, pre.node), victims, pre.pdb_violations)
        })
        .map_err(|e| e.to_string())
}

fn full(n: &str) -> NodeB {
    node(n).alloc("2", "8Gi")
}

#[test]
fn preemption_evicts_only_what_is_needed() {
    let f = Fixture::new(vec![full("n")]).with_pods(vec![
        (
            pod("a")
                .request("500m", "1Gi")
                .priority(10)
                .started("2026-01-01T00:00:00Z"),
            "n",
        ),
        (
            pod("b")
                .request("500m", "1Gi")
                .priority(5)
                .started("2026-01-01T00:00:00Z"),
            "n",
        ),
        (
            pod("c")
                .request("1", "1Gi")
                .priority(20)
                .started("2026-01-01T00:00:00Z"),
            "n",
        ),
    ]);
    let (node, victims, _) =
        preemption_case(&f, pod("p").request("500m", "1Gi").priority(100)).expect("preempts");
    assert_eq!(node, "n");
    assert_eq!(victims, ["b"], "the least important pod is enough");
}

#[test]
fn preemption_policy_never_and_equal_priorities() {
    let f = Fixture::new(vec![full("n")])
        .with_pods(vec![(pod("a").request("2", "1Gi").priority(10), "n")]);
    let err = preemption_case(&f, pod("p").request("1", "1Gi").class("low").priority(1000))
        .expect_err("Never");
    assert!(err.contains("preemptionPolicy is Never"), "{err}");
    let err =
        preemption_case(&f, pod("p").request("1", "1Gi").priority(10)).expect_err("equal priority");
    assert!(err.contains("Preemption is not helpful"), "{err}");
}

#[test]
fn unresolvable_nodes_are_never_candidates() {
    let f = Fixture::new(vec![full("n").taint("dedicated", "db", "NoSchedule")]).with_pods(vec![(
        pod("a")
            .request("2", "1Gi")
            .priority(0)
            .toleration("dedicated", "Exists", "", ""),
        "n",
    )]);
    let err = preemption_case(&f, pod("p").request("1", "1Gi").priority(100)).expect_err("taint");
    assert!(err.contains("not helpful"), "{err}");
}

#[test]
fn preemption_node_choice_follows_kube_scheduler_order() {
    let started = |p: PodB, t: &str| p.started(t);
    // 1. Fewest PDB violations.
    let mut f = Fixture::new(vec![full("guarded"), full("free")]).with_pods(vec![
        (
            pod("g").label("app", "db").request("2", "1Gi").priority(0),
            "guarded",
        ),
        (
            pod("f").label("app", "web").request("2", "1Gi").priority(0),
            "free",
        ),
    ]);
    f.snapshot.add_pdb(Pdb {
        namespace: "default".into(),
        name: "db".into(),
        selector: plinth_core::selector::Selector::from_map(
            &[("app".to_owned(), "db".to_owned())].into(),
        )
        .expect("selector"),
        status_allowed: Some(0),
        min_available: None,
        max_unavailable: None,
    });
    let (node, _, violations) =
        preemption_case(&f, pod("p").request("1", "1Gi").priority(100)).expect("preempts");
    assert_eq!((node.as_str(), violations), ("free", 0));

    // 2. Lowest highest-victim priority.
    let f = Fixture::new(vec![full("n1"), full("n2")]).with_pods(vec![
        (pod("a").request("2", "1Gi").priority(50), "n1"),
        (pod("b").request("2", "1Gi").priority(10), "n2"),
    ]);
    assert_eq!(
        preemption_case(&f, pod("p").request("1", "1Gi").priority(100))
            .expect("ok")
            .0,
        "n2"
    );

    // 3. Smallest priority sum.
    let f = Fixture::new(vec![full("n1"), full("n2")]).with_pods(vec![
        (pod("a1").request("1", "1Gi").priority(10), "n1"),
        (pod("a2").request("1", "1Gi").priority(10), "n1"),
        (pod("b1").request("1", "1Gi").priority(10), "n2"),
        (pod("b2").request("1", "1Gi").priority(5), "n2"),
    ]);
    assert_eq!(
        preemption_case(&f, pod("p").request("2", "1Gi").priority(100))
            .expect("ok")
            .0,
        "n2"
    );

    // 4. Fewest victims.
    let f = Fixture::new(vec![full("n1"), full("n2")]).with_pods(vec![
        (pod("a1").request("1", "1Gi").priority(0), "n1"),
        (pod("a2").request("1", "1Gi").priority(0), "n1"),
        (pod("b").request("2", "1Gi").priority(0), "n2"),
    ]);
    let (node, victims, _) =
        preemption_case(&f, pod("p").request("2", "1Gi").priority(100)).expect("ok");
    assert_eq!((node.as_str(), victims.len()), ("n2", 1));

    // 5. Latest start of the highest-priority victims.
    let f = Fixture::new(vec![full("old"), full("young")]).with_pods(vec![
        (
            started(
                pod("a").request("2", "1Gi").priority(0),
                "2026-01-01T00:00:00Z",
            ),
            "old",
        ),
        (
            started(
                pod("b").request("2", "1Gi").priority(0),
                "2026-06-01T00:00:00Z",
            ),
            "young",
        ),
    ]);
    assert_eq!(
        preemption_case(&f, pod("p").request("1", "1Gi").priority(100))
            .expect("ok")
            .0,
        "young"
    );
}

#[test]
fn pdb_violating_pods_are_reprieved_first() {
    // Either pod alone makes room; the one protected by a budget is spared.
    let mut f = Fixture::new(vec![full("n")]).with_pods(vec![
        (
            pod("protected")
                .label("app", "db")
                .request("1", "1Gi")
                .priority(0),
            "n",
        ),
        (
            pod("plain")
                .label("app", "web")
                .request("1", "1Gi")
                .priority(5),
            "n",
        ),
    ]);
    f.snapshot.add_pdb(Pdb {
        namespace: "default".into(),
        name: "db".into(),
        selector: plinth_core::selector::Selector::from_map(
            &[("app".to_owned(), "db".to_owned())].into(),
        )
        .expect("selector"),
        status_allowed: Some(0),
        min_available: None,
        max_unavailable: None,
    });
    let (_, victims, violations) =
        preemption_case(&f, pod("p").request("1", "1Gi").priority(100)).expect("ok");
    assert_eq!((victims, violations), (vec!["plain".to_owned()], 0));
}

#[test]
fn simulation_places_in_queue_order_and_preempts() {
    let mut f = Fixture::new(vec![full("a"), full("b")]).with_pods(vec![(
        pod("old-batch")
            .request("2", "1Gi")
            .priority(0)
            .started("2026-01-01T00:00:00Z"),
        "a",
    )]);
    let pending: Vec<Arc<Pod>> = vec![
        Arc::new(pod("low").request("2", "1Gi").priority(1000).build()),
        Arc::new(
            pod("critical")
                .request("2", "1Gi")
                .class("critical")
                .build(),
        ),
        Arc::new(pod("never").request("2", "1Gi").class("low").build()),
    ];
    let mut s = scheduler();
    let r = simulate(
        &mut s,
        &mut f.snapshot,
        &pending,
        &Options {
            allow_preemption: true,
            explain: Some("default/never".into()),
        },
    );
    let order: Vec<(&str, Option<&str>)> = r
        .placements
        .iter()
        .map(|p| (p.pod.as_str(), p.node.as_deref()))
        .collect();
    // critical first (b is free), then low (1000) preempts old-batch (0) on a; "never"
    // (low class, policy Never) cannot preempt and stays pending.
    assert_eq!(
        order,
        [
            ("default/critical", Some("b")),
            ("default/low", Some("a")),
            ("default/never", None)
        ]
    );
    assert_eq!(r.placements[1].preempted, ["default/old-batch"]);
    assert!(
        r.placements[2]
            .message
            .contains("preemptionPolicy is Never"),
        "{}",
        r.placements[2].message
    );
    assert!(!r.all_placed());
    let a = r.nodes.iter().find(|n| n.node == "a").expect("usage");
    assert_eq!((a.cpu_requested_milli, a.pods), (2000, 1));
    assert!(r.explanation.is_some());
}

#[test]
fn capacity_planning_adds_the_pool_that_helps() {
    let f = Fixture::new(vec![
        node("web-1")
            .label("workload-type", "web")
            .alloc("2", "4Gi"),
    ]);
    let pending: Vec<Arc<Pod>> = (0..5)
        .map(|i| {
            Arc::new(
                pod(&format!("w{i}"))
                    .label("workload.enterprise.io/type", "web-application")
                    .request("1", "1Gi")
                    .build(),
            )
        })
        .collect();
    let pools = vec![
        Pool {
            name: "gpu".into(),
            template: node("t")
                .label("accelerator", "gpu")
                .alloc("8", "32Gi")
                .build(),
        },
        Pool {
            name: "web".into(),
            template: node("t")
                .label("workload-type", "web")
                .alloc("2", "4Gi")
                .build(),
        },
    ];
    let mut s = scheduler();
    let plan = plan_capacity(&mut s, &f.snapshot, &pending, &pools, None);
    assert_eq!(plan.added.get("web"), Some(&2), "{:?}", plan.added);
    assert_eq!(plan.added.get("gpu"), None);
    assert!(plan.result.all_placed());
}

// ---- properties -------------------------------------------------------------------

fn arb_node(i: usize) -> impl Strategy<Value = NodeB> {
    (1u32..8, 1u32..16, 0u32..3, prop::bool::ANY, prop::bool::ANY).prop_map(
        move |(cpu, mem, gpu, web, tainted)| {
            let mut n = node(&format!("n{i}"))
                .alloc(&cpu.to_string(), &format!("{mem}Gi"))
                .alloc_res("pods", "8");
            if gpu > 0 {
                n = n
                    .alloc_res("nvidia.com/gpu", &gpu.to_string())
                    .label("accelerator", "gpu");
            }
            if web {
                n = n
                    .label("workload-type", "web")
                    .label("zone", if i.is_multiple_of(2) { "a" } else { "b" });
            }
            if tainted {
                n = n.taint("workload-type", "ml", "NoSchedule");
            }
            n
        },
    )
}

fn arb_pod(i: usize) -> impl Strategy<Value = PodB> {
    (100u32..3000, 64u32..4096, 0u32..2, 0u8..4, prop::bool::ANY, 0i32..3).prop_map(move |(cpu, mem, gpu, kind, tolerate, prio)| {
        let mut p = pod(&format!("p{i}")).request(&format!("{cpu}m"), &format!("{mem}Mi")).priority(prio * 100);
        if gpu > 0 {
            p = p.request_res("nvidia.com/gpu", &gpu.to_string());
        }
        p = match kind {
            0 => p.label("workload.enterprise.io/type", "web-application"),
            1 => p.label("app", "spread").spread(json!({"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "spread"}}})),
            2 => p.label("app", "solo").anti_affinity(json!({"labelSelector": {"matchLabels": {"app": "solo"}}, "topologyKey": "kubernetes.io/hostname"})),
            _ => p,
        };
        if tolerate {
            p = p.toleration("workload-type", "Equal", "ml", "NoSchedule");
        }
        p
    })
}

fn arb_case() -> impl Strategy<Value = (Vec<NodeB>, Vec<PodB>)> {
    (1usize..7, 1usize..25).prop_flat_map(|(n, p)| {
        (
            (0..n).map(arb_node).collect::<Vec<_>>(),
            (0..p).map(arb_pod).collect::<Vec<_>>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A pod never lands on a node failing any filter, and no node is ever given more
    /// than it has — with or without preemption.
    #[test]
    fn placements_respect_every_filter_and_allocatable((nodes, pods) in arb_case()) {
        let mut f = Fixture::new(nodes);
        let mut s = scheduler();
        let config = SchedulerConfig::default();
        for p in &pods {
            let pod = p.build();
            match s.schedule(&f.snapshot, &pod) {
                Ok(placed) => {
                    let profile = pod.profile.clone().expect("valid");
                    let cycle = prefilter(&f.snapshot, &pod, profile.as_deref(), &config, BTreeSet::new());
                    for filter in s.filters() {
                        prop_assert!(filter.filter(&cycle, f.snapshot.node(placed.node)).is_ok(),
                            "{} rejects the chosen node", filter.name());
                    }
                    f.snapshot.place(Arc::new(pod), placed.node);
                }
                Err(fit) => {
                    if let Ok(pre) = preempt(&s, &f.snapshot, &pod, &fit) {
                        for v in &pre.victims {
                            let victim = f.snapshot.pod(*v).expect("victim");
                            prop_assert!(victim.pod.priority < pod.priority);
                            f.snapshot.remove(*v);
                        }
                        let profile = pod.profile.clone().expect("valid");
                        let cycle = prefilter(&f.snapshot, &pod, profile.as_deref(), &config, BTreeSet::new());
                        for filter in s.filters() {
                            prop_assert!(filter.filter(&cycle, f.snapshot.node(pre.node)).is_ok(),
                                "after preemption {} still rejects the nominated node", filter.name());
                        }
                        f.snapshot.place(Arc::new(pod), pre.node);
                    }
                }
            }
            for n in f.snapshot.nodes() {
                let a = &n.node.allocatable;
                prop_assert!(n.requested.cpu <= a.cpu && n.requested.memory <= a.memory);
                prop_assert!(n.requested.get("nvidia.com/gpu") <= a.get("nvidia.com/gpu"));
                prop_assert!(n.pods.len() as i64 <= a.pods);
            }
        }
    }
}
