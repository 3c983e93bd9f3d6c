//! The observability stack's objects: shape, determinism, pinned images, no literal secrets,
//! dashboards with real metric names, a collector configuration whose pipelines only use
//! defined components, and restricted-level containers. Pure: no server.

use std::collections::BTreeSet;

use plinth_render::monitoring::MonitoringSettings;
use plinth_render::observability::{
    ObservabilityError, ObservabilitySettings, RemoteWrite, grafana_dashboards, observability,
    otel_collector_config,
};
use serde_json::Value;

fn objects() -> Vec<Value> {
    observability(&ObservabilitySettings::default()).expect("default settings render")
}

fn with_remote_write() -> ObservabilitySettings {
    let mut s = ObservabilitySettings::default();
    s.prometheus.remote_write = Some(RemoteWrite {
        url: "https://metrics.example.com/api/v1/write".into(),
        basic_auth_secret: Some("prometheus-remote-write-auth".into()),
    });
    s
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} missing"))
}

#[test]
fn rendering_is_deterministic() {
    for s in [ObservabilitySettings::default(), with_remote_write()] {
        let a = serde_json::to_string(&observability(&s).unwrap()).unwrap();
        let b = serde_json::to_string(&observability(&s).unwrap()).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn every_object_is_named_and_namespaced() {
    let cluster_scoped = ["ClusterRole", "ClusterRoleBinding"];
    let mut seen = BTreeSet::new();
    for o in objects() {
        let kind = o["kind"].as_str().expect("kind");
        assert!(
            o["apiVersion"].as_str().is_some_and(|v| !v.is_empty()),
            "{o}"
        );
        let name = o["metadata"]["name"].as_str().expect("metadata.name");
        assert!(!name.is_empty());
        if cluster_scoped.contains(&kind) {
            assert!(o["metadata"].get("namespace").is_none(), "{kind}/{name}");
        } else {
            assert_eq!(o["metadata"]["namespace"], "monitoring", "{kind}/{name}");
        }
        assert!(
            seen.insert((kind.to_string(), name.to_string())),
            "duplicate {kind}/{name}"
        );
    }
    for (kind, name) in [
        ("Prometheus", "main"),
        ("Alertmanager", "main"),
        ("ServiceAccount", "prometheus-main"),
        ("ClusterRole", "prometheus-main"),
        ("ClusterRoleBinding", "prometheus-main"),
        ("ServiceMonitor", "kube-state-metrics"),
        ("ServiceMonitor", "node-exporter"),
        ("ServiceMonitor", "kubelet"),
        ("ServiceMonitor", "kube-apiserver"),
        ("ServiceMonitor", "cert-manager"),
        ("ServiceMonitor", "istiod"),
        ("PodMonitor", "istio-sidecars"),
        ("Deployment", "grafana"),
        ("Service", "grafana"),
        ("ConfigMap", "grafana-datasources"),
        ("ConfigMap", "grafana-dashboards"),
        ("Deployment", "thanos-query"),
        ("Service", "thanos-query"),
        ("Deployment", "jaeger"),
        ("Service", "jaeger"),
        ("Deployment", "otel-collector"),
        ("ConfigMap", "otel-collector-config"),
        ("Service", "otel-collector"),
    ] {
        assert!(seen.contains(&(kind.into(), name.into())), "{kind}/{name}");
    }
}

#[test]
fn prometheus_selects_the_rules_and_references_secrets() {
    let s = with_remote_write();
    let objects = observability(&s).unwrap();
    let p = &find(&objects, "Prometheus", "main")["spec"];
    assert_eq!(p["replicas"], 2);
    assert_eq!(p["retention"], "30d");
    // The rules' labels, as the monitoring module renders them.
    let rule_labels =
        serde_json::to_value(MonitoringSettings::default().rule_selector_labels).unwrap();
    assert_eq!(p["ruleSelector"]["matchLabels"], rule_labels);
    assert_eq!(p["externalLabels"]["cluster"], "production-cluster");
    assert_eq!(
        p["thanos"]["objectStorageConfig"],
        serde_json::json!({"name": "thanos-objstore-config", "key": "thanos.yaml"})
    );
    assert_eq!(
        p["remoteWrite"][0]["basicAuth"]["password"]["name"],
        "prometheus-remote-write-auth"
    );
    assert_eq!(
        p["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"],
        "500Gi"
    );
    assert_eq!(p["securityContext"]["runAsNonRoot"], true);
    let am = &find(&objects, "Alertmanager", "main")["spec"];
    assert_eq!(am["replicas"], 3);
    assert_eq!(am["configSecret"], "alertmanager-main");
    // Every monitor carries the labels the selectors match.
    let sel = &p["serviceMonitorSelector"]["matchLabels"];
    for o in objects
        .iter()
        .filter(|o| o["kind"] == "ServiceMonitor" || o["kind"] == "PodMonitor")
    {
        for (k, v) in sel.as_object().unwrap() {
            assert_eq!(&o["metadata"]["labels"][k], v, "{}", o["metadata"]["name"]);
        }
    }
    let envoy = &find(&objects, "PodMonitor", "istio-sidecars")["spec"]["podMetricsEndpoints"][0];
    assert_eq!(envoy["portNumber"], 15090);
    assert_eq!(envoy["path"], "/stats/prometheus");
}

#[test]
fn no_image_is_unpinned() {
    let mut images = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "image"
                        && let Some(s) = v.as_str()
                    {
                        out.push(s.to_string());
                    }
                    walk(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    for o in objects() {
        walk(&o, &mut images);
    }
    assert!(images.len() >= 6, "{images:?}");
    for i in images {
        let last = i.rsplit('/').next().unwrap();
        assert!(last.contains(':'), "{i} has no tag");
        assert!(!i.ends_with(":latest"), "{i}");
    }
}

fn is_secretish(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
        "access_key",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Every string under a secret-looking key must be a reference: a Secret's name in a known
/// reference field, or a file path.
fn check_no_literal_secrets(v: &Value, path: &str, problems: &mut Vec<String>) {
    const REFERENCE_KEYS: &[&str] = &[
        "configSecret",
        "secretName",
        "bearerTokenFile",
        "objstoreSecretName",
    ];
    match v {
        Value::Object(m) => {
            // Environment variables: a secret-looking name needs valueFrom or a __FILE path.
            if let (Some(Value::String(name)), Some(value)) = (m.get("name"), m.get("value"))
                && is_secretish(name)
            {
                let ok =
                    name.ends_with("_FILE") && value.as_str().is_some_and(|p| p.starts_with('/'));
                if !ok {
                    problems.push(format!("{path}: env {name} has a literal value"));
                }
            }
            for (k, child) in m {
                let p = format!("{path}.{k}");
                if let Value::String(s) = child {
                    if is_secretish(k)
                        && !REFERENCE_KEYS.contains(&k.as_str())
                        && !s.starts_with('/')
                    {
                        problems.push(format!("{p}: literal {s:?}"));
                    }
                    // Embedded configuration files: parse and scan them too.
                    if k.ends_with(".yaml") {
                        match serde_saphyr::from_str::<Value>(s) {
                            Ok(inner) => check_no_literal_secrets(&inner, &p, problems),
                            Err(e) => problems.push(format!("{p}: not YAML: {e}")),
                        }
                    } else if k.ends_with(".json") {
                        match serde_json::from_str::<Value>(s) {
                            Ok(inner) => check_no_literal_secrets(&inner, &p, problems),
                            Err(e) => problems.push(format!("{p}: not JSON: {e}")),
                        }
                    }
                } else {
                    check_no_literal_secrets(child, &p, problems);
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                check_no_literal_secrets(child, &format!("{path}[{i}]"), problems);
            }
        }
        _ => {}
    }
}

#[test]
fn no_literal_secrets() {
    for s in [ObservabilitySettings::default(), with_remote_write()] {
        let mut problems = Vec::new();
        for o in observability(&s).unwrap() {
            assert_ne!(
                o["kind"], "Secret",
                "Secrets are referenced, never rendered"
            );
            let name = format!("{}/{}", o["kind"], o["metadata"]["name"]);
            check_no_literal_secrets(&o, &name, &mut problems);
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }
    // The checker itself catches a literal.
    let mut problems = Vec::new();
    check_no_literal_secrets(
        &serde_json::json!({"env": [{"name": "GF_SECURITY_ADMIN_PASSWORD", "value": "admin"}],
            "password": "hunter2"}),
        "x",
        &mut problems,
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    // Grafana's admin credentials come from the Secret, mounted.
    let objects = objects();
    let g = &find(&objects, "Deployment", "grafana")["spec"]["template"]["spec"];
    assert!(
        g["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["secret"]["secretName"] == "grafana-admin")
    );
    assert!(
        g["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "GF_SECURITY_ADMIN_PASSWORD__FILE")
    );
}

const PROMQL_KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan"];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

/// Metric names of `expr`: identifiers outside strings, label matchers, ranges and grouping
/// clauses that are not functions, aggregations or keywords.
fn metric_names(expr: &str) -> Vec<String> {
    // 1. Drop strings, `{...}` matchers and `[...]` ranges.
    let mut cleaned = Vec::new();
    let mut chars = expr.chars();
    let (mut braces, mut brackets, mut in_string) = (0, 0, false);
    while let Some(c) = chars.next() {
        if in_string {
            if c == '\\' {
                chars.next();
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => braces += 1,
            '}' => braces -= 1,
            '[' => brackets += 1,
            ']' => brackets -= 1,
            _ if braces == 0 && brackets == 0 => cleaned.push(c),
            _ => {}
        }
    }
    // 2. Identifiers; skip grouping clauses' label lists and function/aggregation names.
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let next_non_space = |from: usize| {
        cleaned[from..]
            .iter()
            .position(|c| !c.is_whitespace())
            .map(|p| from + p)
    };
    let mut names = Vec::new();
    let mut i = 0;
    while i < cleaned.len() {
        let c = cleaned[i];
        if c.is_ascii_digit() {
            while i < cleaned.len() && (cleaned[i].is_ascii_alphanumeric() || cleaned[i] == '.') {
                i += 1;
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < cleaned.len() && ident(cleaned[i]) {
            i += 1;
        }
        let word: String = cleaned[start..i].iter().collect();
        let lower = word.to_ascii_lowercase();
        let next = next_non_space(i);
        if GROUPING.contains(&lower.as_str()) {
            if let Some(n) = next.filter(|&n| cleaned[n] == '(') {
                i = cleaned[n..]
                    .iter()
                    .position(|&c| c == ')')
                    .map_or(cleaned.len(), |p| n + p + 1);
            }
            continue;
        }
        if PROMQL_KEYWORDS.contains(&lower.as_str()) || AGGREGATIONS.contains(&lower.as_str()) {
            continue;
        }
        if next.is_some_and(|n| cleaned[n] == '(') {
            continue; // a function call
        }
        names.push(word);
    }
    names
}

#[test]
fn metric_name_extraction() {
    assert_eq!(
        metric_names("sum by (a, b) (rate(x_total{c=\"d\"}[5m])) / on (a) group_left y"),
        vec!["x_total", "y"]
    );
    assert_eq!(
        metric_names("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))"),
        vec!["h_bucket"]
    );
    assert_eq!(
        metric_names("count(up{a=\"b\"} == 0) or vector(0)"),
        vec!["up"]
    );
    assert_eq!(
        metric_names("a_current >= on (namespace, hpa) b_max"),
        vec!["a_current", "b_max"]
    );
}

#[test]
fn dashboards_use_existing_metric_names() {
    const ALLOWED: &[&str] = &[
        "kube_node_status_condition",
        "kube_pod_status_phase",
        "apiserver_request_total",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_status_condition",
        "istio_requests_total",
        "istio_request_duration_milliseconds_bucket",
    ];
    let objects = objects();
    let cm = find(&objects, "ConfigMap", "grafana-dashboards");
    let data = cm["data"].as_object().unwrap();
    assert!(data.len() >= 2);
    let mut all_metrics = BTreeSet::new();
    for (file, text) in data {
        let d: Value =
            serde_json::from_str(text.as_str().unwrap()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            d["uid"].as_str().is_some() && d["title"].as_str().is_some(),
            "{file}"
        );
        let panels = d["panels"].as_array().unwrap();
        assert!(!panels.is_empty(), "{file}");
        for p in panels {
            assert!(p["datasource"]["uid"].as_str().is_some(), "{file}: {p}");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: {}", p["title"]);
            for t in targets {
                let expr = t["expr"].as_str().unwrap();
                assert!(!expr.contains("kube_hpa_"), "{expr}");
                assert!(!expr.contains("istio_request_total"), "{expr}");
                for m in metric_names(expr) {
                    // plinth's own names are checked against the components' real
                    // registries by the `plinth` crate's own_metrics test.
                    assert!(
                        ALLOWED.contains(&m.as_str()) || m.starts_with("plinth_"),
                        "{file}: {m} in {expr}"
                    );
                    all_metrics.insert(m);
                }
            }
        }
    }
    for needed in [
        "kube_node_status_condition",
        "kube_pod_status_phase",
        "apiserver_request_total",
        "istio_requests_total",
        "istio_request_duration_milliseconds_bucket",
    ] {
        assert!(all_metrics.contains(needed), "{needed}");
    }
    assert!(
        all_metrics
            .iter()
            .any(|m| m.starts_with("kube_horizontalpodautoscaler_"))
    );
    assert_eq!(grafana_dashboards().len(), data.len());
    // Datasources: Prometheus (via Thanos Query) and Jaeger.
    let ds: Value = serde_saphyr::from_str(
        find(&objects, "ConfigMap", "grafana-datasources")["data"]["datasources.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let types: Vec<&str> = ds["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["prometheus", "jaeger"]);
    assert!(
        ds["datasources"][0]["url"]
            .as_str()
            .unwrap()
            .contains("thanos-query")
    );
}

#[test]
fn collector_config_pipelines_use_defined_components() {
    let objects = objects();
    let text = find(&objects, "ConfigMap", "otel-collector-config")["data"]["config.yaml"]
        .as_str()
        .unwrap();
    let config: Value = serde_saphyr::from_str(text).expect("collector config is YAML");
    assert_eq!(
        config,
        otel_collector_config(&ObservabilitySettings::default())
    );
    let pipelines = config["service"]["pipelines"].as_object().unwrap();
    assert!(pipelines.contains_key("traces") && pipelines.contains_key("metrics"));
    for (name, p) in pipelines {
        for section in ["receivers", "processors", "exporters"] {
            for c in p[section].as_array().unwrap() {
                let c = c.as_str().unwrap();
                assert!(
                    config[section].get(c).is_some(),
                    "pipeline {name}: {section} {c} is not defined"
                );
            }
        }
        let procs: Vec<&str> = p["processors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(procs.first(), Some(&"memory_limiter"), "{name}");
        assert_eq!(procs.last(), Some(&"batch"), "{name}");
    }
    for e in config["service"]["extensions"].as_array().unwrap() {
        assert!(config["extensions"].get(e.as_str().unwrap()).is_some());
    }
    assert_eq!(
        config["processors"]["probabilistic_sampler"]["sampling_percentage"]
            .as_f64()
            .unwrap(),
        10.0
    );
    assert!(
        config["exporters"]["otlp/jaeger"]["endpoint"]
            .as_str()
            .unwrap()
            .ends_with(":4317")
    );
    // Jaeger's own configuration is YAML with the same property.
    let jaeger: Value = serde_saphyr::from_str(
        find(&objects, "ConfigMap", "jaeger-config")["data"]["config.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let p = &jaeger["service"]["pipelines"]["traces"];
    for section in ["receivers", "processors", "exporters"] {
        for c in p[section].as_array().unwrap() {
            assert!(jaeger[section].get(c.as_str().unwrap()).is_some());
        }
    }
    let ports: Vec<i64> = find(&objects, "Service", "jaeger")["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    for port in [4317, 4318, 16686] {
        assert!(ports.contains(&port));
    }
}

#[test]
fn containers_are_restricted() {
    let objects = objects();
    let deployments: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 4);
    for d in deployments {
        let name = &d["metadata"]["name"];
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert!(
            pod["securityContext"]["runAsUser"].as_u64().unwrap() > 0,
            "{name}"
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{name}"
        );
        for c in pod["containers"].as_array().unwrap() {
            let sc = &c["securityContext"];
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{name}"
            );
            assert_eq!(sc["runAsNonRoot"], true, "{name}");
            for k in ["requests", "limits"] {
                for r in ["cpu", "memory"] {
                    assert!(c["resources"][k][r].is_string(), "{name}: {k}.{r}");
                }
            }
            assert!(c["readinessProbe"].is_object(), "{name}");
            assert!(c["livenessProbe"].is_object(), "{name}");
        }
        assert!(
            pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v.get("hostPath").is_none())
        );
    }
    for kind in ["Prometheus", "Alertmanager"] {
        let sc = &find(&objects, kind, "main")["spec"]["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    }
}

#[test]
fn settings_deserialise_and_validate() {
    let s: ObservabilitySettings = serde_saphyr::from_str(
        "clusterName: eu-1\nprometheus:\n  replicas: 3\n  retention: 15d\n  remoteWrite:\n    url: https://m.example.com/write\ntracing:\n  samplingRatio: 0.25\nthanos:\n  queryEnabled: false\n",
    )
    .unwrap();
    assert_eq!(s.prometheus.replicas, 3);
    assert_eq!(s.grafana.admin_secret_name, "grafana-admin");
    let objects = observability(&s).unwrap();
    assert!(
        !objects
            .iter()
            .any(|o| o["metadata"]["name"] == "thanos-query")
    );
    assert_eq!(
        find(&objects, "Prometheus", "main")["spec"]["externalLabels"]["cluster"],
        "eu-1"
    );
    assert!(serde_saphyr::from_str::<ObservabilitySettings>("bogus: 1\n").is_err());

    let bad = |f: &dyn Fn(&mut ObservabilitySettings)| {
        let mut s = ObservabilitySettings::default();
        f(&mut s);
        matches!(
            observability(&s),
            Err(ObservabilityError::InvalidSetting { .. })
        )
    };
    assert!(bad(&|s| s.images.grafana = "grafana/grafana:latest".into()));
    assert!(bad(&|s| s.images.jaeger = "jaegertracing/jaeger".into()));
    assert!(bad(&|s| s.prometheus.retention = "30 days".into()));
    assert!(bad(&|s| s.prometheus.retention = "1d2w".into()));
    assert!(bad(&|s| s.prometheus.storage_size = "lots".into()));
    assert!(bad(&|s| s.tracing.sampling_ratio = 1.5));
    assert!(bad(&|s| s.tracing.sampling_ratio = f64::NAN));
    assert!(bad(&|s| s.prometheus.replicas = 0));
    assert!(bad(&|s| s.namespace = "Monitoring".into()));
    assert!(bad(&|s| s.rule_selector_labels.clear()));
    assert!(bad(&|s| {
        s.prometheus.remote_write = Some(RemoteWrite {
            url: "https://user:pw@m.example.com".into(),
            basic_auth_secret: None,
        })
    }));
    assert!(!bad(&|s| s.prometheus.retention = "1w3d12h".into()));
}

/// Writes the default objects as JSON to `$PLINTH_OBSERVABILITY_DUMP` when set (for checking
/// them against CRD schemas or an API server outside this test).
#[test]
fn dump_when_asked() {
    if let Ok(path) = std::env::var("PLINTH_OBSERVABILITY_DUMP") {
        let mut all = objects();
        all.extend(
            observability(&with_remote_write())
                .unwrap()
                .into_iter()
                .filter(|o| o["kind"] == "Prometheus"),
        );
        std::fs::write(path, serde_json::to_string_pretty(&all).unwrap()).unwrap();
    }
}
