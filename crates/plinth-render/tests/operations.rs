//! Pure tests of the operations add-ons: cluster-autoscaler, Falco rules, trivy-operator.

use std::collections::{BTreeMap, BTreeSet};

use plinth_render::operations::{
    AUTOSCALER_STATUS_CONFIGMAP, AutoscalerSettings, FALCO_DEFAULT_MACROS, FALCO_PRIORITIES,
    FalcoSettings, NodePool, OperationsError, Severity, TrivyMode, TrivySettings,
    cluster_autoscaler, falco, trivy,
};
use serde_json::Value;

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn args(objects: &[Value]) -> Vec<String> {
    let d = find(objects, "Deployment", "cluster-autoscaler");
    d["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .collect()
}

fn all_objects() -> Vec<Value> {
    let mut v = cluster_autoscaler(&AutoscalerSettings::default()).expect("autoscaler");
    v.extend(falco(&FalcoSettings::default()).expect("falco"));
    v.extend(trivy(&TrivySettings::default()).expect("trivy"));
    v
}

const CLUSTER_SCOPED: &[&str] = &["ClusterRole", "ClusterRoleBinding", "Namespace"];

#[test]
fn every_object_is_well_formed() {
    for o in all_objects() {
        let kind = o["kind"].as_str().expect("kind");
        assert!(
            o["apiVersion"].as_str().is_some_and(|s| !s.is_empty()),
            "{o}"
        );
        assert!(
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{o}"
        );
        if CLUSTER_SCOPED.contains(&kind) {
            assert!(o["metadata"].get("namespace").is_none(), "{o}");
        } else {
            assert!(
                o["metadata"]["namespace"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{o}"
            );
        }
        assert_ne!(kind, "Namespace", "namespaces are rendered elsewhere");
        assert_ne!(kind, "Secret", "no secrets");
    }
}

#[test]
fn seed_pools_give_flags() {
    let objects = cluster_autoscaler(&AutoscalerSettings::default()).expect("render");
    let a = args(&objects);
    for flag in [
        "--cloud-provider=aws",
        "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/production-cluster",
        "--expander=priority",
        "--scale-down-enabled=true",
        "--scale-down-delay-after-add=10m",
        "--scale-down-unneeded-time=10m",
        "--scale-down-utilization-threshold=0.5",
        "--max-node-provision-time=15m",
        "--skip-nodes-with-local-storage=false",
        "--skip-nodes-with-system-pods=false",
        "--balance-similar-node-groups=true",
    ] {
        assert!(a.iter().any(|x| x == flag), "missing {flag} in {a:?}");
    }
    // Auto-discovered pools take min/max from the groups themselves.
    assert!(!a.iter().any(|x| x.starts_with("--nodes=")), "{a:?}");
    // The seed's status ConfigMap is not configuration and is not rendered.
    assert!(
        !objects
            .iter()
            .any(|o| o["metadata"]["name"] == AUTOSCALER_STATUS_CONFIGMAP)
    );
}

#[test]
fn explicit_groups_give_nodes_flags() {
    let mut s = AutoscalerSettings::default();
    for p in &mut s.node_pools {
        p.asg_name = Some(format!("prod-{}-asg", p.name));
    }
    let a = args(&cluster_autoscaler(&s).expect("render"));
    for flag in [
        "--nodes=3:5:prod-system-asg",
        "--nodes=5:100:prod-application-asg",
        "--nodes=0:20:prod-memory-optimized-asg",
        "--nodes=0:50:prod-ml-workload-asg",
        "--nodes=0:200:prod-batch-workload-asg",
    ] {
        assert!(a.iter().any(|x| x == flag), "missing {flag} in {a:?}");
    }
    assert!(
        !a.iter()
            .any(|x| x.starts_with("--node-group-auto-discovery"))
    );
    let yaml = s.priorities_yaml().expect("priorities");
    let p: BTreeMap<u32, Vec<String>> = serde_saphyr::from_str(&yaml).expect("parse");
    assert_eq!(p[&1000], vec!["^prod-system-asg$".to_string()]);
}

#[test]
fn priority_expander_configmap() {
    let objects = cluster_autoscaler(&AutoscalerSettings::default()).expect("render");
    let cm = find(
        &objects,
        "ConfigMap",
        "cluster-autoscaler-priority-expander",
    );
    assert_eq!(cm["metadata"]["namespace"], "kube-system");
    let text = cm["data"]["priorities"].as_str().expect("priorities text");
    let parsed: BTreeMap<u32, Vec<String>> = serde_saphyr::from_str(text).expect("YAML map");
    let expected: BTreeMap<u32, Vec<String>> = [
        (1000, ".*system.*"),
        (800, ".*application.*"),
        (700, ".*memory-optimized.*"),
        (600, ".*ml-workload.*"),
        (400, ".*batch-workload.*"),
    ]
    .into_iter()
    .map(|(k, v)| (k, vec![v.to_string()]))
    .collect();
    assert_eq!(parsed, expected, "{text}");
}

#[test]
fn autoscaler_deployment_and_rbac() {
    let objects = cluster_autoscaler(&AutoscalerSettings::default()).expect("render");
    let d = find(&objects, "Deployment", "cluster-autoscaler");
    assert_eq!(d["metadata"]["namespace"], "kube-system");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["serviceAccountName"], "cluster-autoscaler");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    let selector = &d["spec"]["selector"]["matchLabels"];
    for (k, v) in selector.as_object().expect("selector") {
        assert_eq!(&d["spec"]["template"]["metadata"]["labels"][k], v);
    }
    let pdb = find(&objects, "PodDisruptionBudget", "cluster-autoscaler");
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], *selector);

    let role = find(&objects, "Role", "cluster-autoscaler");
    assert_eq!(role["metadata"]["namespace"], "kube-system");
    let rules = role["rules"].as_array().expect("rules");
    assert!(rules.iter().any(|r| r["resources"][0] == "leases"
        && r["resourceNames"][0] == "cluster-autoscaler"));
    assert!(rules.iter().any(|r| {
        r["resources"][0] == "configmaps"
            && r["resourceNames"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n == AUTOSCALER_STATUS_CONFIGMAP))
    }));
    let cr = find(&objects, "ClusterRole", "cluster-autoscaler");
    for r in cr["rules"].as_array().expect("rules") {
        // Least privilege: no wildcards, no secrets, leases only in the Role.
        let res: Vec<&str> = r["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(!res.contains(&"*") && !res.contains(&"secrets") && !res.contains(&"leases"));
        assert!(
            !r["verbs"]
                .as_array()
                .expect("verbs")
                .iter()
                .any(|v| v == "*")
        );
    }
    for kind in ["ClusterRoleBinding", "RoleBinding"] {
        let b = find(&objects, kind, "cluster-autoscaler");
        assert_eq!(b["subjects"][0]["name"], "cluster-autoscaler");
        assert_eq!(b["subjects"][0]["namespace"], "kube-system");
    }
    find(&objects, "ServiceAccount", "cluster-autoscaler");
}

#[test]
fn images_are_pinned() {
    let text = serde_json::to_string(&all_objects()).expect("json");
    assert!(!text.contains(":latest"));
    let objects = cluster_autoscaler(&AutoscalerSettings::default()).expect("render");
    let image = find(&objects, "Deployment", "cluster-autoscaler")["spec"]["template"]["spec"]
        ["containers"][0]["image"]
        .as_str()
        .expect("image")
        .to_owned();
    let tag = image
        .strip_prefix("registry.k8s.io/autoscaling/cluster-autoscaler:v1.3")
        .expect("upstream image, v1.3x");
    assert!(
        tag.chars().all(|c| c.is_ascii_digit() || c == '.'),
        "{image}"
    );
    let t = trivy(&TrivySettings::default()).expect("trivy");
    let data = &find(&t, "ConfigMap", "trivy-operator-trivy-config")["data"];
    assert!(
        data["trivy.tag"]
            .as_str()
            .is_some_and(|t| t != "latest" && !t.is_empty())
    );

    let s = AutoscalerSettings {
        image_tag: "latest".into(),
        ..AutoscalerSettings::default()
    };
    assert!(matches!(
        cluster_autoscaler(&s),
        Err(OperationsError::Invalid { field, .. }) if field == "imageTag"
    ));
    let t = TrivySettings {
        image_tag: "latest".into(),
        ..TrivySettings::default()
    };
    assert!(matches!(
        trivy(&t),
        Err(OperationsError::Invalid { field, .. }) if field == "imageTag"
    ));
}

#[test]
fn no_secrets_in_output() {
    let text = serde_json::to_string(&all_objects())
        .expect("json")
        .to_ascii_lowercase();
    for word in [
        "password",
        "token",
        "secretkey",
        "aws_secret",
        "begin rsa",
        "githubtoken",
    ] {
        assert!(!text.contains(word), "{word}");
    }
}

#[test]
fn deterministic() {
    let a = serde_json::to_string(&all_objects()).expect("json");
    let b = serde_json::to_string(&all_objects()).expect("json");
    assert_eq!(a, b);
    let s = FalcoSettings::default();
    assert_eq!(s.rules_yaml().expect("a"), s.rules_yaml().expect("b"));
}

#[test]
fn autoscaler_validation() {
    let with = |f: &dyn Fn(&mut AutoscalerSettings)| {
        let mut s = AutoscalerSettings::default();
        f(&mut s);
        cluster_autoscaler(&s).expect_err("must fail")
    };
    assert_eq!(
        with(&|s| {
            s.node_pools[1].min_nodes = 200;
        }),
        OperationsError::MinAboveMax {
            field: "nodePools[1]".into(),
            min: 200,
            max: 100
        }
    );
    assert!(matches!(
        with(&|s| s.node_pools[0].name = "System_Pool".into()),
        OperationsError::NotDnsLabel { field, .. } if field == "nodePools[0].name"
    ));
    assert!(matches!(
        with(&|s| s.node_pools[2].name = "system".into()),
        OperationsError::Duplicate { field, first, .. }
            if field == "nodePools[2].name" && first == "nodePools[0].name"
    ));
    assert!(matches!(
        with(&|s| s.node_pools[3].priority = 1000),
        OperationsError::Duplicate { field, .. } if field == "nodePools[3].priority"
    ));
    assert!(matches!(
        with(&|s| s.node_pools[0].asg_name = Some("a:b".into())),
        OperationsError::Invalid { field, .. } if field == "nodePools[0].asgName"
    ));
    assert!(matches!(
        with(&|s| {
            s.node_pools[0].asg_name = Some("same".into());
            s.node_pools[1].asg_name = Some("same".into());
        }),
        OperationsError::Duplicate { field, .. } if field == "nodePools[1].asgName"
    ));
    assert!(matches!(
        with(&|s| s.scale_down.unneeded_time = "ten minutes".into()),
        OperationsError::Invalid { field, .. } if field == "scaleDown.unneededTime"
    ));
    assert!(matches!(
        with(&|s| s.scale_down.utilization_threshold = 1.5),
        OperationsError::Invalid { field, .. } if field == "scaleDown.utilizationThreshold"
    ));
    assert!(matches!(
        with(&|s| s.cluster_name = "prod cluster".into()),
        OperationsError::Invalid { field, .. } if field == "clusterName"
    ));
    assert!(matches!(
        with(&|s| s.node_pools.clear()),
        OperationsError::Invalid { field, .. } if field == "nodePools"
    ));
    assert!(matches!(
        with(&|s| s.resources.memory_limit = "lots".into()),
        OperationsError::Invalid { field, .. } if field == "resources.memoryLimit"
    ));
    // Errors name the field in their message.
    let e = with(&|s| s.node_pools[4].min_nodes = 300);
    assert!(e.to_string().contains("nodePools[4]"), "{e}");
}

#[test]
fn settings_deserialise_camel_case_and_strict() {
    let s: AutoscalerSettings = serde_saphyr::from_str(
        "clusterName: prod\nnodePools:\n  - name: app\n    minNodes: 1\n    maxNodes: 3\n    priority: 10\n    asgName: prod-app\nscaleDown:\n  unneededTime: 20m\n",
    )
    .expect("settings");
    assert_eq!(s.node_pools[0].asg_name.as_deref(), Some("prod-app"));
    assert_eq!(s.scale_down.unneeded_time, "20m");
    assert_eq!(s.scale_down.delay_after_add, "10m");
    let a = args(&cluster_autoscaler(&s).expect("render"));
    assert!(a.iter().any(|x| x == "--nodes=1:3:prod-app"));
    assert!(a.iter().any(|x| x == "--scale-down-unneeded-time=20m"));
    assert!(serde_saphyr::from_str::<AutoscalerSettings>("clusterNmae: x\n").is_err());
    assert!(serde_saphyr::from_str::<NodePool>("name: a\nmin: 1\n").is_err());
    assert!(serde_saphyr::from_str::<FalcoSettings>("shells: [sh]\n").is_err());
    let t: TrivySettings = serde_saphyr::from_str(
        "severity: [HIGH, CRITICAL]\nignoreUnfixed: true\nmode:\n  clientServer:\n    serverUrl: http://trivy.trivy-system:4954\n",
    )
    .expect("trivy settings");
    assert_eq!(t.severity, vec![Severity::High, Severity::Critical]);
    assert!(matches!(t.mode, TrivyMode::ClientServer { .. }));
    assert!(serde_saphyr::from_str::<TrivySettings>("severities: [HIGH]\n").is_err());
}

// ----- Falco ---------------------------------------------------------------------------

fn falco_entries(settings: &FalcoSettings) -> Vec<Value> {
    let objects = falco(settings).expect("falco");
    assert_eq!(objects.len(), 1);
    let cm = &objects[0];
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "falco-rules");
    assert_eq!(cm["metadata"]["namespace"], "falco");
    let text = cm["data"]["plinth_rules.yaml"]
        .as_str()
        .expect("rules file");
    let parsed: Value = serde_saphyr::from_str(text).expect("rules YAML");
    parsed.as_array().expect("a YAML sequence").clone()
}

/// Identifiers in a condition that are neither fields (contain `.`), operators, keywords nor
/// literals: these must be macros or lists.
fn references(condition: &str) -> BTreeSet<String> {
    const WORDS: &[&str] = &[
        "and",
        "or",
        "not",
        "in",
        "intersects",
        "pmatch",
        "contains",
        "icontains",
        "startswith",
        "endswith",
        "glob",
        "exists",
        "true",
        "false",
    ];
    condition
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '/'))
        .filter(|w| !w.is_empty())
        .filter(|w| !w.contains('.') && !w.contains('/'))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !WORDS.contains(w))
        .map(str::to_owned)
        .collect()
}

fn check_rules(entries: &[Value]) {
    let mut lists = BTreeSet::new();
    let mut macros = BTreeSet::new();
    let mut rules = Vec::new();
    for e in entries {
        let keys: BTreeSet<&str> = e
            .as_object()
            .expect("mapping")
            .keys()
            .map(String::as_str)
            .collect();
        if let Some(name) = e.get("list") {
            assert_eq!(keys, BTreeSet::from(["list", "items"]), "{e}");
            assert!(!e["items"].as_array().expect("items").is_empty(), "{e}");
            lists.insert(name.as_str().expect("list name").to_owned());
        } else if let Some(name) = e.get("macro") {
            assert_eq!(keys, BTreeSet::from(["macro", "condition"]), "{e}");
            let cond = e["condition"].as_str().expect("condition");
            for r in references(cond) {
                assert!(
                    macros.contains(&r)
                        || lists.contains(&r)
                        || FALCO_DEFAULT_MACROS.contains(&r.as_str()),
                    "macro {name} uses undefined {r}"
                );
            }
            macros.insert(name.as_str().expect("macro name").to_owned());
        } else {
            for k in ["rule", "desc", "condition", "output", "priority"] {
                assert!(
                    e[k].as_str().is_some_and(|s| !s.trim().is_empty()),
                    "rule lacks {k}: {e}"
                );
            }
            assert!(
                FALCO_PRIORITIES.contains(&e["priority"].as_str().unwrap_or("")),
                "{e}"
            );
            assert!(
                keys.iter().all(
                    |k| ["rule", "desc", "condition", "output", "priority", "tags"].contains(k)
                ),
                "{e}"
            );
            assert!(e["tags"].as_array().is_some_and(|t| !t.is_empty()));
            rules.push(e.clone());
        }
    }
    for r in &rules {
        let cond = r["condition"].as_str().expect("condition");
        for id in references(cond) {
            assert!(
                macros.contains(&id) || FALCO_DEFAULT_MACROS.contains(&id.as_str()),
                "rule {} uses undefined {id}",
                r["rule"]
            );
        }
        // List names only appear inside `in (...)`.
        for l in &lists {
            if cond.contains(l.as_str()) {
                assert!(cond.contains(&format!("({l})")), "{cond}");
            }
        }
        // Balanced parentheses.
        let mut depth = 0i32;
        for c in cond.chars() {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            assert!(depth >= 0, "{cond}");
        }
        assert_eq!(depth, 0, "{cond}");
        // Output fields are Falco fields.
        let out = r["output"].as_str().expect("output");
        assert!(out.contains("%container.id"), "{out}");
    }
    let names: Vec<&str> = rules.iter().filter_map(|r| r["rule"].as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "duplicate rule names");
}

#[test]
fn falco_rules_structure() {
    let entries = falco_entries(&FalcoSettings::default());
    check_rules(&entries);
    let rules: Vec<&Value> = entries.iter().filter(|e| e.get("rule").is_some()).collect();
    assert_eq!(rules.len(), 5);
    let text = |pat: &str| {
        rules
            .iter()
            .find(|r| r["rule"].as_str().is_some_and(|n| n.contains(pat)))
            .unwrap_or_else(|| panic!("no rule {pat}"))["condition"]
            .as_str()
            .expect("condition")
            .to_owned()
    };
    assert!(text("Shell").contains("spawned_process"));
    assert!(text("etc").contains("fd.name startswith /etc/"));
    assert!(text("Outbound").contains("outbound and plinth_database_containers"));
    assert!(text("Privileged").contains("container.privileged = true"));
    assert!(text("Sensitive").contains("open_read"));
}

#[test]
fn falco_rules_with_every_list_filled() {
    let s = FalcoSettings {
        shell_allowed_images: vec!["registry.example.com/debug".into()],
        etc_writers: vec!["update-ca-certs".into()],
        database_namespaces: vec!["databases".into()],
        database_allowed_networks: vec!["203.0.113.0/24".into(), "2001:db8::/32".into()],
        sensitive_file_readers: vec!["sshd".into()],
        ..FalcoSettings::default()
    };
    let entries = falco_entries(&s);
    check_rules(&entries);
    let lists = entries.iter().filter(|e| e.get("list").is_some()).count();
    assert_eq!(lists, 9);
}

#[test]
fn falco_validation() {
    let with = |f: &dyn Fn(&mut FalcoSettings)| {
        let mut s = FalcoSettings::default();
        f(&mut s);
        falco(&s).expect_err("must fail")
    };
    assert!(matches!(
        with(&|s| s.shell_binaries.push("sh, bash".into())),
        OperationsError::Invalid { field, .. } if field == "shellBinaries[8]"
    ));
    assert!(matches!(
        with(&|s| s.database_allowed_networks.push("10.0.0.0/33".into())),
        OperationsError::Invalid { field, .. } if field == "databaseAllowedNetworks[0]"
    ));
    assert!(matches!(
        with(&|s| s.namespace = "Falco".into()),
        OperationsError::NotDnsLabel { field, .. } if field == "namespace"
    ));
    assert!(matches!(
        with(&|s| {
            s.database_images.clear();
            s.database_namespaces.clear();
        }),
        OperationsError::Invalid { field, .. } if field == "databaseImages"
    ));
    assert!(matches!(
        with(&|s| s.sensitive_files = vec!["etc/shadow".into()]),
        OperationsError::Invalid { field, .. } if field == "sensitiveFiles[0]"
    ));
}

// ----- trivy -----------------------------------------------------------------------------

#[test]
fn trivy_configmaps() {
    let objects = trivy(&TrivySettings::default()).expect("trivy");
    assert_eq!(objects.len(), 2);
    let op = find(&objects, "ConfigMap", "trivy-operator");
    assert_eq!(op["metadata"]["namespace"], "trivy-system");
    assert_eq!(op["data"]["vulnerabilityReports.scanner"], "Trivy");
    assert_eq!(op["data"]["compliance.failEntriesLimit"], "10");
    let sc: Value = serde_json::from_str(
        op["data"]["scanJob.podTemplateContainerSecurityContext"]
            .as_str()
            .expect("JSON text"),
    )
    .expect("security context JSON");
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);

    let cfg = find(&objects, "ConfigMap", "trivy-operator-trivy-config");
    let data = &cfg["data"];
    assert_eq!(data["trivy.severity"], "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL");
    assert_eq!(data["trivy.ignoreUnfixed"], "false");
    assert_eq!(data["trivy.dbRepository"], "mirror.gcr.io/aquasec/trivy-db");
    assert_eq!(data["trivy.mode"], "Standalone");
    // ConfigMap data values are strings.
    for o in &objects {
        for (_, v) in o["data"].as_object().expect("data") {
            assert!(v.is_string());
        }
    }

    let s = TrivySettings {
        severity: vec![Severity::Critical, Severity::High, Severity::Critical],
        ignore_unfixed: true,
        mode: TrivyMode::ClientServer {
            server_url: "http://trivy.trivy-system:4954".into(),
        },
        ..TrivySettings::default()
    };
    let objects = trivy(&s).expect("trivy");
    let data = &find(&objects, "ConfigMap", "trivy-operator-trivy-config")["data"];
    assert_eq!(data["trivy.severity"], "HIGH,CRITICAL");
    assert_eq!(data["trivy.ignoreUnfixed"], "true");
    assert_eq!(data["trivy.mode"], "ClientServer");
    assert_eq!(data["trivy.serverURL"], "http://trivy.trivy-system:4954");
}

#[test]
fn trivy_validation() {
    let with = |f: &dyn Fn(&mut TrivySettings)| {
        let mut s = TrivySettings::default();
        f(&mut s);
        trivy(&s).expect_err("must fail")
    };
    assert!(matches!(
        with(&|s| s.severity.clear()),
        OperationsError::Invalid { field, .. } if field == "severity"
    ));
    assert!(matches!(
        with(&|s| s.image_repository = "aquasec/trivy:latest".into()),
        OperationsError::Invalid { field, .. } if field == "imageRepository"
    ));
    assert!(matches!(
        with(&|s| s.mode = TrivyMode::ClientServer { server_url: "http://user:pw@trivy:4954".into() }),
        OperationsError::Invalid { field, .. } if field == "mode.clientServer.serverUrl"
    ));
    assert!(matches!(
        with(&|s| s.timeout = "5 minutes".into()),
        OperationsError::Invalid { field, .. } if field == "timeout"
    ));
}
