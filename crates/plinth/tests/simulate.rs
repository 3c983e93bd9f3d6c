//! `plinth simulate` as a user runs it: the seed's example topology, output shape, exit
//! codes, explanations, capacity planning and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/scheduling")
        .join(rel)
}

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("run plinth")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn the_seed_topology_example() {
    let snap = example("cluster.yaml");
    let out = plinth(&[
        "simulate",
        "--snapshot",
        snap.to_str().expect("utf8"),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "two pods stay pending");
    let v = json(&out);
    let placements = v["placements"].as_array().expect("placements");
    assert_eq!(placements.len(), 19);
    for p in placements {
        for key in ["pod", "node", "score", "preempted", "message"] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
    }
    let find = |pod: &str| placements.iter().find(|p| p["pod"] == pod).expect(pod);
    // Required labels, taints and the dedicated/spot rules steer each profile.
    assert_eq!(find("shop/recommend-0")["node"], "ml-t4-1");
    assert!(
        find("data/orders-db-0")["node"]
            .as_str()
            .expect("placed")
            .starts_with("memory-")
    );
    assert!(
        find("batch/report-0")["node"]
            .as_str()
            .expect("placed")
            .starts_with("application-")
    );
    // The medium-priority training job evicts the low-priority benchmark from its GPU.
    let train = find("research/train-1");
    assert_eq!(train["node"], "ml-v100-1");
    assert_eq!(
        train["preempted"],
        serde_json::json!(["research/gpu-benchmark-0"])
    );
    // What stays pending says why, as kube-scheduler would.
    let close = find("batch/quarterly-close-0");
    assert!(close["node"].is_null());
    let msg = close["message"].as_str().expect("message");
    assert!(msg.starts_with("0/13 nodes are available: "), "{msg}");
    assert!(msg.contains("5 Insufficient cpu"), "{msg}");
    assert!(msg.contains("preemptionPolicy is Never"), "{msg}");
    let db = find("data/orders-db-2");
    assert!(
        db["message"]
            .as_str()
            .expect("message")
            .contains("didn't match pod anti-affinity rules")
    );
    // Per-node use: nothing over-committed.
    for n in v["nodes"].as_array().expect("nodes") {
        assert!(
            n["cpuRequestedMilli"].as_i64() <= n["cpuAllocatableMilli"].as_i64(),
            "{n}"
        );
        assert!(
            n["memoryRequestedBytes"].as_i64() <= n["memoryAllocatableBytes"].as_i64(),
            "{n}"
        );
    }
}

#[test]
fn explain_shows_every_node() {
    let snap = example("cluster.yaml");
    let out = plinth(&[
        "simulate",
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--explain",
        "shop/web-0",
        "-o",
        "json",
    ]);
    let v = json(&out);
    let e = &v["explanation"];
    assert_eq!(e["profile"], "web-application");
    let nodes = e["nodes"].as_array().expect("verdicts");
    assert_eq!(nodes.len(), 13);
    let feasible: Vec<_> = nodes.iter().filter(|n| n["feasible"] == true).collect();
    assert!(!feasible.is_empty());
    for n in &feasible {
        for part in ["resource", "affinity", "sla", "loadBalance", "total"] {
            assert!(n["score"][part].is_number(), "{part} in {n}");
        }
    }
    let system = nodes
        .iter()
        .find(|n| n["node"] == "system-1")
        .expect("system-1");
    assert_eq!(system["plugin"], "TaintToleration");

    let table = plinth(&[
        "simulate",
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--explain",
        "shop/web-0",
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("explain shop/web-0"), "{text}");
    assert!(text.contains("rejected by TaintToleration"), "{text}");
}

#[test]
fn capacity_planning_names_the_pools() {
    let snap = example("cluster.yaml");
    let pool = format!(
        "memory-optimized={}",
        example("pools/memory-optimized.yaml").display()
    );
    let out = plinth(&[
        "simulate",
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--capacity",
        &pool,
        "-o",
        "json",
    ]);
    let v = json(&out);
    assert_eq!(v["capacity"]["added"]["memory-optimized"], 1);
    let db = v["placements"]
        .as_array()
        .expect("placements")
        .iter()
        .find(|p| p["pod"] == "data/orders-db-2")
        .expect("db");
    assert_eq!(db["node"], "memory-optimized-new-1");
}

#[test]
fn all_placed_exits_zero_and_yaml_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("s.yaml");
    std::fs::write(
        &f,
        "apiVersion: v1\nkind: Node\nmetadata: {name: worker-1}\nstatus: {allocatable: {cpu: '2', memory: 2Gi, pods: '10'}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: d}\nspec: {containers: [{name: c, resources: {requests: {cpu: 500m}}}]}\n",
    )
    .expect("write");
    let out = plinth(&[
        "simulate",
        "--snapshot",
        f.to_str().expect("utf8"),
        "-o",
        "yaml",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("node: worker-1"), "{text}");
}

#[test]
fn bad_input_is_one_line_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "taint.yaml",
            "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec:\n  taints:\n  - {key: a, effect: Sometimes}\n",
            "taint.yaml:6:",
        ),
        (
            "quantity.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources: {requests: {memory: 12 GB}}\n",
            "quantity.yaml:",
        ),
        (
            "syntax.yaml",
            "kind: Node\nmetadata: [oops\n",
            "syntax.yaml:2:",
        ),
    ];
    for (name, text, prefix) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, text).expect("write");
        let out = plinth(&["simulate", "--snapshot", f.to_str().expect("utf8")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: no partial output");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{}{prefix}",
                dir.path().display().to_string() + "/"
            )),
            "{name}: {stderr}"
        );
    }
    let out = plinth(&["simulate", "--snapshot", "/does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = plinth(&[
        "simulate",
        "--snapshot",
        example("cluster.yaml").to_str().expect("utf8"),
        "--explain",
        "nobody/here",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = plinth(&[
        "simulate",
        "--snapshot",
        example("cluster.yaml").to_str().expect("utf8"),
        "--capacity",
        "nopool",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
