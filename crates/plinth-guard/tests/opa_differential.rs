//! Differential test: every shipped ConstraintTemplate is evaluated by plinth (regorus)
//! and by the real `opa` binary (built from the pinned `github.com/open-policy-agent/opa`
//! in tools/k8s, run in v0-compatible mode) on the same generated objects and
//! parameters; the violation sets must be identical.
//!
//! OPA is run once per template: the cases are passed as data and evaluated with
//! `with input as`, so thousands of inputs cost one process.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use plinth_guard::gatekeeper::{PolicySet, Template, synthetic_review};
use plinth_guard::library;
use plinth_testenv::{Binaries, Binary, cache_root};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

fn subset(items: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    prop::sample::subsequence(items, 0..=items.len().min(3))
}

fn security_context() -> impl Strategy<Value = Value> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(vec![0, 999, 1000, 65534])),
        prop::option::of(any::<bool>()),
        prop::option::of((
            subset(&[
                "NET_ADMIN",
                "SYS_ADMIN",
                "NET_BIND_SERVICE",
                "CAP_SYS_TIME",
                "chown",
            ]),
            subset(&["ALL", "NET_RAW", "all", "SYS_ADMIN"]),
        )),
    )
        .prop_map(
            |(privileged, escalation, non_root, user, read_only, caps)| {
                let mut sc = serde_json::Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        sc.insert(k.to_owned(), v);
                    }
                };
                put("privileged", privileged.map(Value::from));
                put("allowPrivilegeEscalation", escalation.map(Value::from));
                put("runAsNonRoot", non_root.map(Value::from));
                put("runAsUser", user.map(Value::from));
                put("readOnlyRootFilesystem", read_only.map(Value::from));
                put(
                    "capabilities",
                    caps.map(|(add, drop)| json!({"add": add, "drop": drop})),
                );
                Value::Object(sc)
            },
        )
}

fn container(name: String) -> impl Strategy<Value = Value> {
    let image = prop::sample::select(vec![
        "registry.k8s.io/pause:3.10",
        "company-registry.example.com/shop/api:v1.4",
        "docker.io/library/nginx:latest",
        "nginx",
        "gcr.io/distroless/static",
        "prom/prometheus:latest",
        "evil.example/miner:1.0",
    ]);
    let cpu = prop::sample::select(vec![
        json!(""),
        json!("500m"),
        json!("2"),
        json!("16"),
        json!("1.5"),
        json!(3),
        json!("lots"),
        json!("1."),
        json!(".5m"),
        json!("1.2.3"),
        json!("0.25m"),
        json!("1e3"),
        json!("+2"),
        json!("2 "),
    ]);
    let memory = prop::sample::select(vec![
        json!("128Mi"),
        json!("64Gi"),
        json!("1Ei"),
        json!("2E"),
        json!("1.5Gi"),
        json!("bogus"),
        json!("1..5Gi"),
        json!("Mi"),
        json!(".Gi"),
        json!("0.5.Gi"),
        json!(1024),
        json!(""),
    ]);
    let limits = prop::option::of((prop::option::of(cpu), prop::option::of(memory)));
    let ports = prop::collection::vec(
        prop::option::of(prop::sample::select(vec![80, 30000, 32767, 40000])),
        0..3,
    );
    let mounts = subset(&["logs", "data", "root"]);
    (
        image,
        prop::option::of(security_context()),
        limits,
        ports,
        mounts,
        any::<bool>(),
    )
        .prop_map(move |(image, sc, limits, ports, mounts, ro)| {
            let mut c = json!({"name": name, "image": image});
            if let Some(sc) = sc {
                c["securityContext"] = sc;
            }
            match limits {
                None => {}
                Some((None, None)) => c["resources"] = json!({}),
                Some((cpu, memory)) => {
                    let mut l = serde_json::Map::new();
                    if let Some(cpu) = cpu {
                        l.insert("cpu".into(), cpu);
                    }
                    if let Some(m) = memory {
                        l.insert("memory".into(), m);
                    }
                    c["resources"] = json!({"limits": l});
                }
            }
            if !ports.is_empty() {
                c["ports"] = ports
                    .into_iter()
                    .map(|p| match p {
                        Some(h) => json!({"containerPort": 8080, "hostPort": h}),
                        None => json!({"containerPort": 8080}),
                    })
                    .collect();
            }
            if !mounts.is_empty() {
                c["volumeMounts"] = mounts
                    .into_iter()
                    .map(|m| json!({"name": m, "mountPath": format!("/mnt/{m}"), "readOnly": ro}))
                    .collect();
            }
            c
        })
}

fn containers(prefix: &'static str, max: usize) -> impl Strategy<Value = Vec<Value>> {
    (0..=max).prop_flat_map(move |n| {
        (0..n)
            .map(|i| container(format!("{prefix}{i}")))
            .collect::<Vec<_>>()
    })
}

fn pod() -> impl Strategy<Value = Value> {
    let volumes = subset(&["logs", "data", "root", "cfg", "scratch"]);
    (
        prop::sample::select(vec!["default", "production-workloads", "kube-system", "monitoring"]),
        (0u32..1000),
        prop::option::of(prop::sample::select(vec!["platform", "Bad Owner", ""])),
        (prop::option::of(any::<bool>()), prop::option::of(any::<bool>()), prop::option::of(any::<bool>())),
        prop::option::of((
            prop::option::of(any::<bool>()),
            prop::option::of(prop::sample::select(vec![0, 1000, 2000])),
            prop::option::of(prop::sample::select(vec![0, 999, 1000])),
        )),
        (containers("app", 3).prop_filter("a pod has containers", |c| !c.is_empty()), containers("init", 2), containers("debug", 1)),
        volumes,
    )
        .prop_map(|(ns, n, owner, (pid, ipc, net), pod_sc, (main, init, eph), volumes)| {
            let mut p = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("pod-{n}"), "namespace": ns},
                "spec": {"containers": main}});
            if let Some(owner) = owner {
                p["metadata"]["labels"] = json!({"owner": owner});
            }
            for (k, v) in [("hostPID", pid), ("hostIPC", ipc), ("hostNetwork", net)] {
                if let Some(v) = v {
                    p["spec"][k] = json!(v);
                }
            }
            if let Some((non_root, user, fs)) = pod_sc {
                let mut sc = serde_json::Map::new();
                if let Some(v) = non_root {
                    sc.insert("runAsNonRoot".into(), json!(v));
                }
                if let Some(v) = user {
                    sc.insert("runAsUser".into(), json!(v));
                }
                if let Some(v) = fs {
                    sc.insert("fsGroup".into(), json!(v));
                }
                p["spec"]["securityContext"] = Value::Object(sc);
            }
            if !init.is_empty() {
                p["spec"]["initContainers"] = json!(init);
            }
            if !eph.is_empty() {
                p["spec"]["ephemeralContainers"] = json!(eph);
            }
            if !volumes.is_empty() {
                p["spec"]["volumes"] = volumes
                    .into_iter()
                    .map(|v| match v {
                        "logs" => json!({"name": "logs", "hostPath": {"path": "/var/log/app"}}),
                        "data" => json!({"name": "data", "hostPath": {"path": "/data", "type": "Directory"}}),
                        "root" => json!({"name": "root", "hostPath": {"path": "/"}}),
                        "cfg" => json!({"name": "cfg", "configMap": {"name": "settings"}}),
                        _ => json!({"name": "scratch", "emptyDir": {}}),
                    })
                    .collect();
            }
            p
        })
}

/// Objects that are not pods: namespaces, services, ingresses and workloads.
fn other_objects(pods: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, labels) in [
        json!({}),
        json!({"owner": "team-a"}),
        json!({"owner": "Team A"}),
        json!({"owner": "", "team": "t-shop"}),
        json!({"team": "shop"}),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns-{i}"), "labels": labels}}));
    }
    for t in ["NodePort", "ClusterIP", "LoadBalancer"] {
        out.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": t.to_lowercase(), "namespace": "default"}, "spec": {"type": t}}));
    }
    for (name, host) in [
        ("shop", "shop.example.com"),
        ("blog", "blog.example.com"),
        ("new", "new.example.com"),
    ] {
        out.push(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "web"}, "spec": {"rules": [{"host": host}]}}),
        );
    }
    for (i, p) in pods.iter().take(10).enumerate() {
        let kind = [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "Job",
        ][i % 5];
        let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
        out.push(json!({"apiVersion": api, "kind": kind,
            "metadata": {"name": format!("w-{i}"), "namespace": p["metadata"]["namespace"]},
            "spec": {"template": {"metadata": {"labels": {"app": "w"}}, "spec": p["spec"]}}}));
    }
    out.push(json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "default"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": pods[0]["spec"]}}}}}));
    out
}

fn inventory() -> Value {
    json!({"namespace": {
        "web": {"networking.k8s.io/v1": {"Ingress": {
            "shop": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop", "namespace": "web"}, "spec": {"rules": [{"host": "shop.example.com"}]}}}}},
        "other": {"extensions/v1beta1": {"Ingress": {
            "legacy": {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "legacy", "namespace": "other"}, "spec": {"rules": [{"host": "blog.example.com"}]}}}}}},
        "cluster": {}})
}

/// Parameter sets beyond the shipped constraints', to reach more of each template.
fn extra_parameters(kind: &str) -> Vec<Value> {
    match kind {
        "K8sPSPPrivilegedContainer" => vec![
            json!({}),
            json!({"exemptImages": ["registry.k8s.io/*", "nginx"]}),
        ],
        "K8sPSPAllowPrivilegeEscalationContainer" | "K8sPSPReadOnlyRootFilesystem" => {
            vec![json!({}), json!({"exemptImages": ["prom/*"]})]
        }
        "K8sPSPHostNetworkingPorts" => vec![
            json!({}),
            json!({"hostNetwork": true, "min": 80, "max": 9000, "exemptImages": ["nginx"]}),
        ],
        "K8sPSPCapabilities" => vec![
            json!({"allowedCapabilities": ["*"]}),
            json!({"requiredDropCapabilities": ["NET_RAW", "SYS_ADMIN"], "exemptImages": ["nginx"]}),
            json!({}),
        ],
        "K8sPSPVolumeTypes" => vec![
            json!({"volumes": ["*"]}),
            json!({"volumes": ["hostPath"]}),
            json!({}),
        ],
        "K8sPSPHostFilesystem" => vec![
            json!({}),
            json!({"allowedHostPaths": [{"pathPrefix": "/", "readOnly": false}]}),
            json!({"allowedHostPaths": [{"pathPrefix": "/data"}, {"pathPrefix": "/var/log/", "readOnly": true}]}),
        ],
        "K8sAllowedRepos" => vec![json!({}), json!({"repos": ["nginx", "docker.io/"]})],
        "K8sRequiredLabels" => vec![
            json!({"labels": [{"key": "owner"}, {"key": "team", "allowedRegex": "^t-"}]}),
            json!({"labels": [{"key": "owner"}], "message": "every namespace needs an owner"}),
        ],
        "K8sContainerLimits" => vec![
            json!({"cpu": "-1", "memory": "1E"}),
            json!({"cpu": 2, "memory": "512Mi", "exemptImages": ["nginx"]}),
            json!({"cpu": "1500m"}),
        ],
        "K8sDisallowedTags" => vec![json!({"tags": ["latest", "1.0"], "exemptImages": ["prom/*"]})],
        "RequiredSecurityContext" => vec![
            json!({"runAsNonRoot": true}),
            json!({"forbiddenCapabilities": ["NET_RAW", "chown"]}),
            json!({}),
        ],
        "AllowedImageRegistries" => vec![json!({"registries": ["nginx"]})],
        _ => vec![json!({})],
    }
}

fn generated_pods(n: usize) -> Vec<Value> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = pod();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("the pod strategy always produces a value")
                .current()
        })
        .collect()
}

/// A violation set in a comparable form: sorted `(msg, details)` JSON texts.
fn normalise(items: impl IntoIterator<Item = (String, Value)>) -> Vec<String> {
    let mut v: Vec<String> = items
        .into_iter()
        .map(|(m, d)| json!({"msg": m, "details": d}).to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn run_opa(
    opa: &Path,
    dir: &Path,
    template: &Template,
    doc: &Value,
    cases: &[Value],
) -> Vec<Vec<String>> {
    let (rego, libs) = plinth_guard::gatekeeper::template::rego_sources(doc);
    std::fs::write(dir.join("template.rego"), rego).expect("scratch dir is writable");
    for (i, lib) in libs.iter().enumerate() {
        std::fs::write(dir.join(format!("lib_{i}.rego")), lib).expect("scratch dir is writable");
    }
    let data = json!({"inventory": inventory(), "plinth_cases": cases});
    std::fs::write(dir.join("data.json"), data.to_string()).expect("scratch dir is writable");
    let query = format!(
        "{{i: v | some i; case := data.plinth_cases[i]; v := data.{}.violation with input as case}}",
        template.package
    );
    let mut cmd = Command::new(opa);
    cmd.args(["eval", "--v0-compatible", "--format", "json", "-d"])
        .arg(dir.join("template.rego"))
        .arg("-d")
        .arg(dir.join("data.json"));
    for i in 0..libs.len() {
        cmd.arg("-d").arg(dir.join(format!("lib_{i}.rego")));
    }
    cmd.arg(&query);
    let out = cmd.output().expect("opa runs");
    assert!(
        out.status.success(),
        "opa eval failed for {}: {}{}",
        template.name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("opa prints JSON");
    let by_index = &parsed["result"][0]["expressions"][0]["value"];
    (0..cases.len())
        .map(|i| {
            let set = by_index
                .get(i.to_string())
                .and_then(Value::as_array)
                .unwrap_or_else(|| {
                    panic!("opa returned no result for case {i} of {}", template.name)
                });
            normalise(set.iter().map(|r| {
                (
                    r["msg"]
                        .as_str()
                        .unwrap_or("<msg is not a string>")
                        .to_owned(),
                    r.get("details").cloned().unwrap_or_else(|| json!({})),
                )
            }))
        })
        .collect()
}

#[test]
fn regorus_and_opa_agree_on_every_shipped_template() {
    let binaries = Binaries::in_cache(&cache_root());
    binaries
        .ensure(&mut |p| eprintln!("{p:?}"))
        .expect("the pinned binaries (including opa) build");
    let opa = binaries.path(Binary::Opa);

    let set: PolicySet = library::defaults().expect("shipped policies load");
    let mut with_inventory = set.clone();
    with_inventory.set_inventory(&inventory()).unwrap();
    let docs: BTreeMap<String, Value> = library::TEMPLATES
        .iter()
        .flat_map(|(f, y)| library::documents(f, y).unwrap())
        .map(|d| {
            (
                d["spec"]["crd"]["spec"]["names"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                d,
            )
        })
        .collect();

    let pods = generated_pods(200);
    let mut objects = pods.clone();
    objects.extend(other_objects(&pods));

    let scratch = tempfile::tempdir().unwrap();
    let (mut compared, mut non_empty, mut failures) = (0usize, 0usize, Vec::new());
    for template in with_inventory.templates() {
        let mut params: Vec<Value> = set
            .constraints()
            .filter(|c| c.kind == template.kind)
            .map(|c| c.parameters.clone())
            .collect();
        params.extend(extra_parameters(&template.kind));
        let mut cases = Vec::new();
        for object in &objects {
            for (i, p) in params.iter().enumerate() {
                let mut review = synthetic_review(object);
                // Alternate the operation so templates that skip UPDATE are exercised.
                review["operation"] = json!(if (cases.len() + i) % 4 == 3 {
                    "UPDATE"
                } else {
                    "CREATE"
                });
                cases.push(json!({"review": review, "parameters": p}));
            }
        }
        let dir = scratch.path().join(&template.name);
        std::fs::create_dir_all(&dir).unwrap();
        let expected = run_opa(&opa, &dir, template, &docs[&template.kind], &cases);
        for (case, want) in cases.iter().zip(expected) {
            let got = match template.evaluate(regorus::Value::from(case.clone())) {
                Ok(v) => normalise(v.into_iter().map(|r| (r.msg, r.details))),
                Err(e) => vec![format!("error: {e}")],
            };
            compared += 1;
            if !want.is_empty() {
                non_empty += 1;
            }
            if got != want && failures.len() < 20 {
                failures.push(format!(
                    "{}: input {}\n  plinth: {got:?}\n  opa:    {want:?}",
                    template.name, case
                ));
            }
        }
    }
    eprintln!(
        "opa differential: {compared} evaluations over {} templates, {non_empty} with violations",
        docs.len()
    );
    assert!(
        failures.is_empty(),
        "regorus and opa disagree:\n{}",
        failures.join("\n")
    );
    assert!(
        non_empty > compared / 10,
        "the generated inputs must exercise the policies"
    );
}
