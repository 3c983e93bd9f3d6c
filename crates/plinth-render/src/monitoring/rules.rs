//! The alert rules: groups, their PrometheusRule objects and the plain rule file.

use super::*;

/// `namespace` label derived from Istio's destination namespace, so routing and inhibition
/// by namespace work for mesh alerts too.
pub(super) fn with_namespace(expr: &str) -> String {
    format!(
        "label_replace({expr}, \"namespace\", \"$1\", \"destination_service_namespace\", \"(.*)\")"
    )
}

pub(super) fn groups(s: &MonitoringSettings) -> Vec<Group> {
    let t = &s.thresholds;
    // Rounded so that 0.15 reads "15%", not "15.000000000000002%".
    let pct = |r: f64| format!("{}%", (r * 100.0 * 1e6).round() / 1e6);
    let istio_by = "destination_service_namespace, destination_service_name";
    vec![
        Group {
            name: "kubernetes-nodes",
            alerts: vec![
                Alert {
                    name: "KubeNodeNotReady",
                    expr: r#"kube_node_status_condition{condition="Ready",status="true"} == 0"#
                        .to_string(),
                    for_: "5m",
                    severity: Severity::Critical,
                    summary: "Node is not ready.".to_string(),
                    description: "Node {{ $labels.node }} has been unready for more than 5 minutes."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubenodenotready"),
                },
                Alert {
                    name: "KubeNodePressure",
                    expr: r#"kube_node_status_condition{condition=~"MemoryPressure|DiskPressure|PIDPressure",status="true"} == 1"#
                        .to_string(),
                    for_: "2m",
                    severity: Severity::Warning,
                    summary: "Node has an active pressure condition.".to_string(),
                    description: "Node {{ $labels.node }} has had {{ $labels.condition }} for more than 2 minutes."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubenodepressure"),
                },
            ],
        },
        Group {
            name: "kubernetes-workloads",
            alerts: vec![
                Alert {
                    name: "KubePodCrashLooping",
                    expr: r#"max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1"#
                        .to_string(),
                    for_: "5m",
                    severity: Severity::Warning,
                    summary: "Pod is crash looping.".to_string(),
                    description: "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} has been in CrashLoopBackOff for more than 5 minutes."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubepodcrashlooping"),
                },
                Alert {
                    name: "KubePodNotReady",
                    expr: r#"sum by (namespace, pod) (max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Unknown|Failed"}) * on (namespace, pod) group_left () max by (namespace, pod) (kube_pod_owner{owner_kind!="Job"})) > 0"#
                        .to_string(),
                    for_: "15m",
                    severity: Severity::Warning,
                    summary: "Pod has been in a non-ready state for more than 15 minutes.".to_string(),
                    description: "Pod {{ $labels.namespace }}/{{ $labels.pod }} has been Pending, Unknown or Failed for more than 15 minutes."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubepodnotready"),
                },
                Alert {
                    name: "KubeDeploymentReplicasMismatch",
                    expr: "(kube_deployment_spec_replicas > kube_deployment_status_replicas_available) and (changes(kube_deployment_status_replicas_updated[10m]) == 0)"
                        .to_string(),
                    for_: "5m",
                    severity: Severity::Warning,
                    summary: "Deployment has not matched the expected number of replicas.".to_string(),
                    description: "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has had fewer available replicas than desired, without rollout progress, for more than 5 minutes."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubedeploymentreplicasmismatch"),
                },
                Alert {
                    name: "KubeStatefulSetReplicasMismatch",
                    expr: "(kube_statefulset_status_replicas_ready != kube_statefulset_status_replicas) and (changes(kube_statefulset_status_replicas_updated[10m]) == 0)"
                        .to_string(),
                    for_: "5m",
                    severity: Severity::Warning,
                    summary: "StatefulSet has not matched the expected number of replicas.".to_string(),
                    description: "StatefulSet {{ $labels.namespace }}/{{ $labels.statefulset }} has had a mismatch between ready and current replicas, without rollout progress, for more than 5 minutes."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubestatefulsetreplicasmismatch"),
                },
                Alert {
                    name: "KubeJobFailed",
                    expr: r#"kube_job_failed{condition="true"} > 0"#.to_string(),
                    for_: "15m",
                    severity: Severity::Warning,
                    summary: "Job failed to complete.".to_string(),
                    description: "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed to complete; removing the failed job clears the alert."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubejobfailed"),
                },
                Alert {
                    name: "KubeHpaMaxedOut",
                    expr: "kube_horizontalpodautoscaler_status_current_replicas == kube_horizontalpodautoscaler_spec_max_replicas and on (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas != kube_horizontalpodautoscaler_spec_min_replicas)"
                        .to_string(),
                    for_: "15m",
                    severity: Severity::Warning,
                    summary: "HPA is running at its maximum number of replicas.".to_string(),
                    description: "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has been running at its maximum number of replicas for more than 15 minutes."
                        .to_string(),
                    runbook: Runbook::Upstream("kubernetes/kubehpamaxedout"),
                },
                Alert {
                    name: "KubeHpaUnableToScale",
                    expr: r#"kube_horizontalpodautoscaler_status_condition{condition=~"AbleToScale|ScalingActive",status="false"} == 1"#
                        .to_string(),
                    for_: "5m",
                    severity: Severity::Warning,
                    summary: "HPA is unable to scale.".to_string(),
                    description: "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has had condition {{ $labels.condition }}=false for more than 5 minutes."
                        .to_string(),
                    runbook: Runbook::Plinth,
                },
            ],
        },
        Group {
            name: "kubernetes-storage",
            alerts: vec![
                Alert {
                    name: "KubePersistentVolumeFillingUp",
                    expr: format!(
                        "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < {} and kubelet_volume_stats_used_bytes > 0",
                        t.pvc_free_critical_ratio
                    ),
                    for_: "1m",
                    severity: Severity::Critical,
                    summary: "PersistentVolume is filling up.".to_string(),
                    description: format!(
                        "The volume claimed by {{{{ $labels.namespace }}}}/{{{{ $labels.persistentvolumeclaim }}}} has only {{{{ $value | humanizePercentage }}}} free (threshold {})."
                        , pct(t.pvc_free_critical_ratio)
                    ),
                    runbook: Runbook::Upstream("kubernetes/kubepersistentvolumefillingup"),
                },
                Alert {
                    name: "KubePersistentVolumeFillingUp",
                    expr: format!(
                        "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < {} and kubelet_volume_stats_used_bytes > 0 and predict_linear(kubelet_volume_stats_available_bytes[6h], 4 * 24 * 3600) < 0",
                        t.pvc_free_warning_ratio
                    ),
                    for_: "1h",
                    severity: Severity::Warning,
                    summary: "PersistentVolume is filling up.".to_string(),
                    description: format!(
                        "The volume claimed by {{{{ $labels.namespace }}}}/{{{{ $labels.persistentvolumeclaim }}}} has only {{{{ $value | humanizePercentage }}}} free (threshold {}) and is predicted to fill within four days."
                        , pct(t.pvc_free_warning_ratio)
                    ),
                    runbook: Runbook::Upstream("kubernetes/kubepersistentvolumefillingup"),
                },
                Alert {
                    name: "KubePersistentVolumeClaimPending",
                    expr: r#"kube_persistentvolumeclaim_status_phase{phase="Pending"} == 1"#
                        .to_string(),
                    for_: "5m",
                    severity: Severity::Warning,
                    summary: "PersistentVolumeClaim is pending.".to_string(),
                    description: "PersistentVolumeClaim {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has been Pending for more than 5 minutes."
                        .to_string(),
                    runbook: Runbook::Plinth,
                },
            ],
        },
        Group {
            name: "kubernetes-apiserver",
            alerts: vec![
                Alert {
                    name: "KubeAPIServerErrorsHigh",
                    expr: format!(
                        r#"sum(rate(apiserver_request_total{{code=~"5.."}}[5m])) / sum(rate(apiserver_request_total[5m])) > {}"#,
                        t.apiserver_error_ratio
                    ),
                    for_: "10m",
                    severity: Severity::Critical,
                    summary: "The API server answers many requests with errors.".to_string(),
                    description: format!(
                        "More than {} of API server requests have been answered with a 5xx code for more than 10 minutes.",
                        pct(t.apiserver_error_ratio)
                    ),
                    runbook: Runbook::Plinth,
                },
                Alert {
                    name: "KubeAPIServerLatencyHigh",
                    expr: format!(
                        r#"histogram_quantile(0.99, sum by (verb, le) (rate(apiserver_request_duration_seconds_bucket{{verb!~"WATCH|CONNECT"}}[5m]))) > {}"#,
                        t.apiserver_p99_latency_seconds
                    ),
                    for_: "10m",
                    severity: Severity::Warning,
                    summary: "The API server is slow.".to_string(),
                    description: format!(
                        "The 99th percentile latency of {{{{ $labels.verb }}}} requests to the API server has been above {}s for more than 10 minutes.",
                        t.apiserver_p99_latency_seconds
                    ),
                    runbook: Runbook::Plinth,
                },
            ],
        },
        Group {
            name: "istio",
            alerts: vec![
                Alert {
                    name: "IstioHigh5xxRate",
                    expr: format!(
                        "{} > {}",
                        with_namespace(&format!(
                            r#"sum by ({istio_by}) (rate(istio_requests_total{{reporter="destination",response_code=~"5.."}}[5m])) / sum by ({istio_by}) (rate(istio_requests_total{{reporter="destination"}}[5m]))"#
                        )),
                        t.istio_5xx_ratio
                    ),
                    for_: "2m",
                    severity: Severity::Critical,
                    summary: "A mesh service answers many requests with 5xx.".to_string(),
                    description: format!(
                        "More than {} of the requests to service {{{{ $labels.destination_service_namespace }}}}/{{{{ $labels.destination_service_name }}}} have been answered with a 5xx code for more than 2 minutes.",
                        pct(t.istio_5xx_ratio)
                    ),
                    runbook: Runbook::Plinth,
                },
                Alert {
                    name: "IstioHighRequestLatency",
                    expr: format!(
                        "{} > {}",
                        with_namespace(&format!(
                            r#"histogram_quantile(0.99, sum by ({istio_by}, le) (rate(istio_request_duration_milliseconds_bucket{{reporter="destination"}}[5m])))"#
                        )),
                        t.istio_p99_latency_ms
                    ),
                    for_: "5m",
                    severity: Severity::Warning,
                    summary: "A mesh service is slow.".to_string(),
                    description: format!(
                        "The 99th percentile latency of service {{{{ $labels.destination_service_namespace }}}}/{{{{ $labels.destination_service_name }}}} has been above {}ms for more than 5 minutes.",
                        t.istio_p99_latency_ms
                    ),
                    runbook: Runbook::Plinth,
                },
                Alert {
                    name: "IstioMTLSDisabled",
                    expr: format!(
                        "{} > 0",
                        with_namespace(&format!(
                            r#"sum by ({istio_by}) (rate(istio_requests_total{{reporter="destination",connection_security_policy!="mutual_tls"}}[5m]))"#
                        ))
                    ),
                    for_: "5m",
                    severity: Severity::Warning,
                    summary: "A mesh service receives plaintext traffic.".to_string(),
                    description: "Service {{ $labels.destination_service_namespace }}/{{ $labels.destination_service_name }} has received requests without mutual TLS for more than 5 minutes."
                        .to_string(),
                    runbook: Runbook::Plinth,
                },
            ],
        },
        Group {
            name: "certificates",
            alerts: [
                (Severity::Critical, t.certificate_critical_days),
                (Severity::Warning, t.certificate_warning_days),
            ]
            .into_iter()
            .map(|(severity, days)| Alert {
                name: "CertManagerCertExpirySoon",
                expr: format!(
                    "certmanager_certificate_expiration_timestamp_seconds - time() < {days} * 24 * 3600"
                ),
                for_: "1h",
                severity,
                summary: "A certificate expires soon.".to_string(),
                description: format!(
                    "Certificate {{{{ $labels.namespace }}}}/{{{{ $labels.name }}}} expires in less than {days} days and has not been renewed."
                ),
                runbook: Runbook::Plinth,
            })
            .collect(),
        },
        super::components::group(),
    ]
}

pub(super) fn runbook_url(s: &MonitoringSettings, alert: &Alert) -> String {
    match alert.runbook {
        Runbook::Upstream(path) => {
            format!(
                "{}/{path}",
                s.upstream_runbook_base_url.trim_end_matches('/')
            )
        }
        Runbook::Plinth => format!(
            "{}/{}",
            s.runbook_base_url.trim_end_matches('/'),
            alert.name.to_ascii_lowercase()
        ),
    }
}

pub(super) fn render_group(s: &MonitoringSettings, g: &Group) -> Value {
    let rules: Vec<Value> = g
        .alerts
        .iter()
        .map(|a| {
            json!({
                "alert": a.name,
                "expr": a.expr,
                "for": a.for_,
                "labels": {"severity": a.severity.as_str()},
                "annotations": {
                    "summary": a.summary,
                    "description": a.description,
                    "runbook_url": runbook_url(s, a),
                },
            })
        })
        .collect();
    json!({"name": format!("plinth.{}", g.name), "rules": rules})
}

/// The Prometheus rule groups (`[{name, rules: [...]}, ...]`), in a stable order.
pub fn rule_groups(settings: &MonitoringSettings) -> Result<Vec<Value>, MonitoringError> {
    settings.validate()?;
    Ok(groups(settings)
        .iter()
        .map(|g| render_group(settings, g))
        .collect())
}

/// A plain Prometheus rule file (`groups: [...]`) as YAML, for Prometheus without the
/// operator and for `promtool check rules` / `promtool test rules`.
pub fn rule_file_yaml(settings: &MonitoringSettings) -> Result<String, MonitoringError> {
    let file = json!({"groups": rule_groups(settings)?});
    to_yaml("the rule file", &file)
}

/// One `monitoring.coreos.com/v1` `PrometheusRule` per rule group, in the settings'
/// namespace, labelled so the Prometheus resource's `ruleSelector` picks it up.
pub fn prometheus_rules(settings: &MonitoringSettings) -> Result<Vec<Value>, MonitoringError> {
    settings.validate()?;
    let mut labels: Map<String, Value> = settings
        .rule_selector_labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    labels.insert("app.kubernetes.io/managed-by".into(), "plinth".into());
    labels.insert("app.kubernetes.io/part-of".into(), "plinth".into());
    Ok(groups(settings)
        .iter()
        .map(|g| {
            json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {
                    "name": format!("plinth-{}", g.name),
                    "namespace": settings.namespace,
                    "labels": labels,
                },
                "spec": {"groups": [render_group(settings, g)]},
            })
        })
        .collect())
}

/// The names of all alerts, sorted and without duplicates (an alert may exist once per
/// severity).
pub fn alert_names(settings: &MonitoringSettings) -> Result<Vec<String>, MonitoringError> {
    settings.validate()?;
    let mut names: Vec<String> = groups(settings)
        .iter()
        .flat_map(|g| g.alerts.iter().map(|a| a.name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}
