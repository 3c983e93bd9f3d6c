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
    ]
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
