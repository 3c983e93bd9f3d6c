//! plinth's own alerts and dashboard (rendered by plinth-render) use only metric names
//! the components really register: the scheduler's, the guard's and the zero-trust
//! controller's registries are built here and encoded, and every `plinth_*` name in the
//! `plinth-components` rule group and dashboard must be one of their series. The
//! dashboard's queries also pass `promtool check rules` (as recording rules), so a typo
//! in PromQL fails here rather than in Grafana.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use prometheus_client::registry::Registry;
use serde_json::Value;

/// Every series name the three components can expose.
fn exposed() -> BTreeSet<String> {
    let mut registry = Registry::default();
    let _scheduler = plinth_scheduler::metrics::Metrics::new(&mut registry);
    let guard = plinth_admission::metrics::Metrics::register(&mut registry);
    // Families keyed by unbounded or request-derived labels appear once observed.
    guard
        .request_duration
        .get_or_create(&plinth_admission::metrics::RequestLabels {
            resource: "pods",
            decision: "allowed",
        })
        .observe(0.001);
    guard
        .denials
        .get_or_create(&plinth_admission::metrics::PolicyLabel {
            policy: "PodSecurity".to_owned(),
        })
        .inc();
    let _zt = plinth_zt::metrics::Metrics::new(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        match kind {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// `plinth_*` identifiers in a PromQL expression (label values are quoted, so a name
/// inside quotes is skipped).
fn plinth_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut quoted = false;
    let bytes: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == '"' {
            quoted = !quoted;
            i += 1;
            continue;
        }
        let starts = !quoted
            && expr[expr.char_indices().nth(i).map_or(0, |(b, _)| b)..].starts_with("plinth_")
            && (i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_'));
        if starts {
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_alphanumeric() || bytes[j] == '_') {
                j += 1;
            }
            out.push(bytes[i..j].iter().collect());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn component_alert_exprs() -> Vec<String> {
    let groups = plinth_render::monitoring::rule_groups(
        &plinth_render::monitoring::MonitoringSettings::default(),
    )
    .expect("rule groups");
    let group = groups
        .iter()
        .find(|g| g["name"] == "plinth.plinth-components")
        .expect("the plinth-components group is rendered");
    group["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["expr"].as_str().expect("expr").to_owned())
        .collect()
}

fn dashboard_exprs() -> Vec<String> {
    let (_, dashboard) = plinth_render::observability::grafana_dashboards()
        .into_iter()
        .find(|(file, _)| *file == "plinth-components.json")
        .expect("the plinth-components dashboard is rendered");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            out.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    out
}

#[test]
fn alerts_and_dashboard_use_only_registered_names() {
    let exposed = exposed();
    let mut used = BTreeSet::new();
    for expr in component_alert_exprs().iter().chain(&dashboard_exprs()) {
        let names = plinth_names(expr);
        assert!(!names.is_empty(), "no plinth metric in {expr}");
        for name in names {
            assert!(
                exposed.contains(&name),
                "{name} (in {expr}) is not registered by any component; registered: {exposed:?}"
            );
            used.insert(name);
        }
    }
    // Every component is covered by alerts and the dashboard.
    for prefix in ["plinth_scheduler_", "plinth_guard_", "plinth_zt_"] {
        assert!(
            used.iter().any(|n| n.starts_with(prefix)),
            "nothing uses {prefix}*"
        );
    }
    // The scanner itself: a quoted label value is not a metric name.
    assert_eq!(
        plinth_names(r#"sum(plinth_a_total{x="plinth_b"}) / plinth_c"#),
        ["plinth_a_total", "plinth_c"]
    );
}

fn promtool() -> PathBuf {
    let mut dirs = vec![PathBuf::from("/usr/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
        .expect("promtool is not installed: run tools/deps (Debian package `prometheus`)")
}

#[test]
fn dashboard_queries_are_valid_promql() {
    let rules: Vec<Value> = dashboard_exprs()
        .iter()
        .enumerate()
        .map(|(i, expr)| serde_json::json!({"record": format!("plinth:dashboard_query_{i}"), "expr": expr}))
        .collect();
    let file = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dashboard-queries.yaml");
    std::fs::write(&path, file.to_string()).expect("write");
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
