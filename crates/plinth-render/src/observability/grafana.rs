//! Grafana: datasources, dashboards (as JSON models) and the Deployment.

use super::*;

/// Grafana's datasource provisioning file.
pub fn grafana_datasources(s: &ObservabilitySettings) -> Value {
    json!({
        "apiVersion": 1,
        "datasources": [
            {"name": "Prometheus", "type": "prometheus", "uid": PROMETHEUS_DATASOURCE_UID,
             "access": "proxy", "url": prometheus_url(s), "isDefault": true, "editable": false,
             "jsonData": {"timeInterval": "30s"}},
            {"name": "Jaeger", "type": "jaeger", "uid": JAEGER_DATASOURCE_UID,
             "access": "proxy", "url": jaeger_query_url(s), "editable": false},
        ],
    })
}

pub(super) fn ds() -> Value {
    json!({"type": "prometheus", "uid": PROMETHEUS_DATASOURCE_UID})
}

pub(super) fn panel(
    id: u32,
    title: &str,
    kind: &str,
    pos: (u32, u32, u32, u32),
    targets: &[(&str, &str)],
) -> Value {
    let targets: Vec<Value> = targets
        .iter()
        .zip(['A', 'B', 'C', 'D'])
        .map(|((expr, legend), ref_id)| {
            json!({"datasource": ds(), "expr": expr, "legendFormat": legend,
                "refId": ref_id.to_string()})
        })
        .collect();
    json!({"id": id, "title": title, "type": kind, "datasource": ds(), "targets": targets,
        "gridPos": {"x": pos.0, "y": pos.1, "w": pos.2, "h": pos.3}})
}

pub(super) fn dashboard(uid: &str, title: &str, tags: &[&str], panels: Vec<Value>) -> Value {
    json!({"uid": uid, "title": title, "tags": tags, "schemaVersion": 39, "version": 1,
        "editable": false, "timezone": "utc", "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"}, "panels": panels})
}

/// The dashboards as `(file name, dashboard JSON)`, in a stable order.
pub fn grafana_dashboards() -> Vec<(&'static str, Value)> {
    let overview = dashboard(
        "plinth-platform-overview",
        "Platform overview",
        &["plinth", "platform"],
        vec![
            panel(
                1,
                "Nodes ready",
                "stat",
                (0, 0, 6, 4),
                &[
                    (
                        "sum(kube_node_status_condition{condition=\"Ready\",status=\"true\"})",
                        "ready",
                    ),
                    (
                        "count(kube_node_status_condition{condition=\"Ready\",status=\"true\"} == 0) or vector(0)",
                        "not ready",
                    ),
                ],
            ),
            panel(
                2,
                "Pods by phase",
                "timeseries",
                (6, 0, 9, 8),
                &[("sum by (phase) (kube_pod_status_phase == 1)", "{{phase}}")],
            ),
            panel(
                3,
                "API server 5xx ratio",
                "timeseries",
                (15, 0, 9, 8),
                &[(
                    "sum(rate(apiserver_request_total{code=~\"5..\"}[5m])) / sum(rate(apiserver_request_total[5m]))",
                    "5xx ratio",
                )],
            ),
            panel(
                4,
                "HPAs at max replicas",
                "table",
                (0, 8, 24, 8),
                &[
                    (
                        "kube_horizontalpodautoscaler_status_current_replicas >= on (namespace, horizontalpodautoscaler) kube_horizontalpodautoscaler_spec_max_replicas",
                        "{{namespace}}/{{horizontalpodautoscaler}}",
                    ),
                    (
                        "kube_horizontalpodautoscaler_status_condition{condition=\"ScalingLimited\",status=\"true\"} == 1",
                        "{{namespace}}/{{horizontalpodautoscaler}} limited",
                    ),
                ],
            ),
        ],
    );
    let istio = dashboard(
        "plinth-istio-services",
        "Istio services",
        &["plinth", "istio"],
        vec![
            panel(
                1,
                "Requests per second by service",
                "timeseries",
                (0, 0, 12, 8),
                &[(
                    "sum by (destination_service) (rate(istio_requests_total{reporter=\"destination\"}[5m]))",
                    "{{destination_service}}",
                )],
            ),
            panel(
                2,
                "5xx ratio by service",
                "timeseries",
                (12, 0, 12, 8),
                &[(
                    "sum by (destination_service) (rate(istio_requests_total{reporter=\"destination\",response_code=~\"5..\"}[5m])) / sum by (destination_service) (rate(istio_requests_total{reporter=\"destination\"}[5m]))",
                    "{{destination_service}}",
                )],
            ),
            panel(
                3,
                "p50 / p99 latency by service (ms)",
                "timeseries",
                (0, 8, 24, 8),
                &[
                    (
                        "histogram_quantile(0.50, sum by (destination_service, le) (rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\"}[5m])))",
                        "p50 {{destination_service}}",
                    ),
                    (
                        "histogram_quantile(0.99, sum by (destination_service, le) (rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\"}[5m])))",
                        "p99 {{destination_service}}",
                    ),
                ],
            ),
        ],
    );
    vec![
        ("platform-overview.json", overview),
        ("istio-services.json", istio),
        ("plinth-components.json", plinth_components()),
    ]
}

/// plinth's own components: the enterprise scheduler, the guard webhook and the
/// zero-trust controller, from the metrics they register (`plinth_scheduler_*`,
/// `plinth_guard_*`, `plinth_zt_*`).
fn plinth_components() -> Value {
    let p99 = |metric: &str, by: &str| {
        format!("histogram_quantile(0.99, sum by ({by}le) (rate({metric}_bucket[5m])))")
    };
    dashboard(
        "plinth-components",
        "plinth components",
        &["plinth", "scheduler", "admission", "zero-trust"],
        vec![
            panel(
                1,
                "Scheduler: pending pods by queue",
                "timeseries",
                (0, 0, 8, 8),
                &[(
                    "sum by (queue) (plinth_scheduler_pending_pods)",
                    "{{queue}}",
                )],
            ),
            panel(
                2,
                "Scheduler: attempts per second by result",
                "timeseries",
                (8, 0, 8, 8),
                &[(
                    "sum by (result) (rate(plinth_scheduler_scheduling_attempt_duration_seconds_count[5m]))",
                    "{{result}}",
                )],
            ),
            panel(
                3,
                "Scheduler: p99 attempt and end-to-end latency (s)",
                "timeseries",
                (16, 0, 8, 8),
                &[
                    (
                        &p99("plinth_scheduler_scheduling_attempt_duration_seconds", ""),
                        "attempt",
                    ),
                    (
                        &p99("plinth_scheduler_pod_scheduling_duration_seconds", ""),
                        "pending to bound",
                    ),
                ],
            ),
            panel(
                4,
                "Scheduler: bind errors, preemption victims per second; leader",
                "timeseries",
                (0, 8, 12, 8),
                &[
                    (
                        "sum by (reason) (rate(plinth_scheduler_bind_errors_total[5m]))",
                        "bind {{reason}}",
                    ),
                    (
                        "sum(rate(plinth_scheduler_preemption_victims_total[5m]))",
                        "victims",
                    ),
                    ("sum(plinth_scheduler_leader)", "leaders"),
                ],
            ),
            panel(
                5,
                "Guard: requests per second by decision",
                "timeseries",
                (12, 8, 12, 8),
                &[(
                    "sum by (decision) (rate(plinth_guard_request_duration_seconds_count[5m]))",
                    "{{decision}}",
                )],
            ),
            panel(
                6,
                "Guard: p99 admission latency (s) and undecidable requests",
                "timeseries",
                (0, 16, 12, 8),
                &[
                    (&p99("plinth_guard_request_duration_seconds", ""), "p99"),
                    (
                        "sum by (reason) (rate(plinth_guard_rejected_requests_total[5m]))",
                        "rejected {{reason}}",
                    ),
                ],
            ),
            panel(
                7,
                "Guard: top denying policies",
                "table",
                (12, 16, 12, 8),
                &[(
                    "topk(10, sum by (policy) (increase(plinth_guard_denials_total[1h])))",
                    "{{policy}}",
                )],
            ),
            panel(
                8,
                "Zero trust: reconciliations per second by result, p99 (s)",
                "timeseries",
                (0, 24, 12, 8),
                &[
                    (
                        "sum by (result) (rate(plinth_zt_reconciles_total[5m]))",
                        "{{result}}",
                    ),
                    (&p99("plinth_zt_reconcile_duration_seconds", ""), "p99"),
                ],
            ),
            panel(
                9,
                "Zero trust: model outcomes per hour by reason; applied objects",
                "timeseries",
                (12, 24, 12, 8),
                &[
                    (
                        "sum by (reason) (increase(plinth_zt_model_outcomes_total[1h]))",
                        "{{reason}}",
                    ),
                    ("sum(plinth_zt_applied_objects)", "applied objects"),
                ],
            ),
        ],
    )
}

pub(super) fn grafana(s: &ObservabilitySettings) -> Result<Vec<Value>, ObservabilityError> {
    let g = &s.grafana;
    let name = "grafana";
    let datasources = to_yaml("Grafana datasources", &grafana_datasources(s))?;
    let providers = to_yaml(
        "Grafana dashboard providers",
        &json!({"apiVersion": 1, "providers": [{"name": "plinth", "orgId": 1, "folder": "plinth",
            "type": "file", "disableDeletion": true, "allowUiUpdates": false,
            "options": {"path": "/etc/grafana/dashboards"}}]}),
    )?;
    let mut dashboards = BTreeMap::new();
    for (file, d) in grafana_dashboards() {
        dashboards.insert(file, to_json("a Grafana dashboard", &d)?);
    }
    let secrets = "/etc/grafana/secrets";
    let container = json!({
        "name": "grafana",
        "image": s.images.grafana,
        "ports": [{"name": "http", "containerPort": 3000}],
        "env": [
            // Credentials from files mounted from the Secret: never a literal.
            {"name": "GF_SECURITY_ADMIN_USER__FILE", "value": format!("{secrets}/{}", g.admin_user_key)},
            {"name": "GF_SECURITY_ADMIN_PASSWORD__FILE", "value": format!("{secrets}/{}", g.admin_password_key)},
            {"name": "GF_LOG_MODE", "value": "console"},
            {"name": "GF_PATHS_DATA", "value": "/var/lib/grafana"},
            {"name": "GF_PATHS_PROVISIONING", "value": "/etc/grafana/provisioning"},
            {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
            {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"},
            {"name": "GF_USERS_ALLOW_SIGN_UP", "value": "false"},
        ],
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/grafana"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources", "readOnly": true},
            {"name": "dashboard-providers", "mountPath": "/etc/grafana/provisioning/dashboards", "readOnly": true},
            {"name": "dashboards", "mountPath": "/etc/grafana/dashboards", "readOnly": true},
            {"name": "admin", "mountPath": secrets, "readOnly": true},
        ],
        "livenessProbe": http_probe("/api/health", "http"),
        "readinessProbe": http_probe("/api/health", "http"),
        "resources": Resources::new("250m", "512Mi", "1", "1Gi").to_json(),
    });
    let volumes = json!([
        // The SQLite database: recreated from provisioning on restart.
        {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "100Mi"}},
        {"name": "datasources", "configMap": {"name": "grafana-datasources"}},
        {"name": "dashboard-providers", "configMap": {"name": "grafana-dashboard-providers"}},
        {"name": "dashboards", "configMap": {"name": "grafana-dashboards"}},
        {"name": "admin", "secret": {"secretName": g.admin_secret_name, "defaultMode": 0o440}},
    ]);
    Ok(vec![
        service_account(s, name),
        config_map(
            s,
            "grafana-datasources",
            "grafana",
            BTreeMap::from([("datasources.yaml", datasources)]),
        ),
        config_map(
            s,
            "grafana-dashboard-providers",
            "grafana",
            BTreeMap::from([("dashboards.yaml", providers)]),
        ),
        config_map(s, "grafana-dashboards", "grafana", dashboards),
        deployment(
            s,
            Workload {
                name,
                component: "grafana",
                replicas: g.replicas,
                uid: 472,
                container,
                volumes,
            },
        ),
        service(
            s,
            name,
            "grafana",
            json!([{"name": "http", "port": 3000, "targetPort": "http"}]),
        ),
    ])
}
