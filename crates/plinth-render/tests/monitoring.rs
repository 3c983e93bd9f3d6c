//! The monitoring rules and the Alertmanager configuration, checked with the real tools:
//! `promtool check rules`, one `promtool test rules` unit test per case below (every alert
//! has one that fires it and one that does not), `amtool check-config` and
//! `amtool config routes test`. A missing tool fails the test (run `tools/deps`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_render::monitoring::{
    MonitoringError, MonitoringSettings, alert_names, alertmanager_config, alertmanager_yaml,
    prometheus_rules, receivers, rule_file_yaml, rule_groups,
};
use serde_json::{Value, json};

fn tool(name: &str) -> PathBuf {
    let mut dirs = vec![PathBuf::from("/usr/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not installed: run tools/deps (it installs the Debian packages \
         `prometheus` and `prometheus-alertmanager`, which provide promtool and amtool)"
    );
}

/// Runs a command; returns (success, stdout + stderr).
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn yaml(v: &Value) -> String {
    serde_saphyr::to_string(v).unwrap()
}

// ---------------------------------------------------------------------------------------
// The unit-test table.

/// An alert the case expects at `eval`: its severity, its labels (without `severity`) and,
/// for annotations that print `$value`, the printed value.
struct Expect {
    severity: &'static str,
    labels: &'static [(&'static str, &'static str)],
    value: Option<&'static str>,
}

struct Case {
    /// What the case shows.
    name: &'static str,
    alert: &'static str,
    /// `(series, values)` in promtool's expanding notation, one sample per minute.
    series: &'static [(&'static str, &'static str)],
    eval: &'static str,
    /// Empty: the alert must not fire.
    expect: &'static [Expect],
}

const fn exp(severity: &'static str, labels: &'static [(&'static str, &'static str)]) -> Expect {
    Expect {
        severity,
        labels,
        value: None,
    }
}

const NONE: &[Expect] = &[];

const SHOP_WEB_ISTIO: &[(&str, &str)] = &[
    ("destination_service_name", "web"),
    ("destination_service_namespace", "shop"),
    ("namespace", "shop"),
];

const CASES: &[Case] = &[
    // Nodes.
    Case {
        name: "node unready for longer than `for`",
        alert: "KubeNodeNotReady",
        series: &[(
            r#"kube_node_status_condition{node="worker-1",condition="Ready",status="true"}"#,
            "0x20",
        )],
        eval: "10m",
        expect: &[exp(
            "critical",
            &[
                ("condition", "Ready"),
                ("node", "worker-1"),
                ("status", "true"),
            ],
        )],
    },
    Case {
        name: "node unready for 3 minutes, then ready",
        alert: "KubeNodeNotReady",
        series: &[(
            r#"kube_node_status_condition{node="worker-1",condition="Ready",status="true"}"#,
            "0x3 1x20",
        )],
        eval: "10m",
        expect: NONE,
    },
    Case {
        name: "memory pressure",
        alert: "KubeNodePressure",
        series: &[(
            r#"kube_node_status_condition{node="worker-1",condition="MemoryPressure",status="true"}"#,
            "1x10",
        )],
        eval: "5m",
        expect: &[exp(
            "warning",
            &[
                ("condition", "MemoryPressure"),
                ("node", "worker-1"),
                ("status", "true"),
            ],
        )],
    },
    Case {
        name: "disk pressure",
        alert: "KubeNodePressure",
        series: &[(
            r#"kube_node_status_condition{node="worker-2",condition="DiskPressure",status="true"}"#,
            "1x10",
        )],
        eval: "5m",
        expect: &[exp(
            "warning",
            &[
                ("condition", "DiskPressure"),
                ("node", "worker-2"),
                ("status", "true"),
            ],
        )],
    },
    Case {
        name: "no pressure: the status=\"true\" series is 0",
        alert: "KubeNodePressure",
        series: &[
            (
                r#"kube_node_status_condition{node="worker-1",condition="MemoryPressure",status="true"}"#,
                "0x10",
            ),
            (
                r#"kube_node_status_condition{node="worker-1",condition="MemoryPressure",status="false"}"#,
                "1x10",
            ),
        ],
        eval: "5m",
        expect: NONE,
    },
    // Workloads.
    Case {
        name: "container in CrashLoopBackOff",
        alert: "KubePodCrashLooping",
        series: &[(
            r#"kube_pod_container_status_waiting_reason{namespace="shop",pod="web-1",container="app",reason="CrashLoopBackOff"}"#,
            "1x20",
        )],
        eval: "15m",
        expect: &[exp(
            "warning",
            &[
                ("container", "app"),
                ("namespace", "shop"),
                ("pod", "web-1"),
                ("reason", "CrashLoopBackOff"),
            ],
        )],
    },
    Case {
        name: "container waiting for another reason",
        alert: "KubePodCrashLooping",
        series: &[(
            r#"kube_pod_container_status_waiting_reason{namespace="shop",pod="web-1",container="app",reason="ContainerCreating"}"#,
            "1x20",
        )],
        eval: "15m",
        expect: NONE,
    },
    Case {
        name: "ReplicaSet pod pending",
        alert: "KubePodNotReady",
        series: &[
            (
                r#"kube_pod_status_phase{namespace="shop",pod="web-1",phase="Pending"}"#,
                "1x30",
            ),
            (
                r#"kube_pod_owner{namespace="shop",pod="web-1",owner_kind="ReplicaSet",owner_name="web-5d9"}"#,
                "1x30",
            ),
        ],
        eval: "20m",
        expect: &[exp("warning", &[("namespace", "shop"), ("pod", "web-1")])],
    },
    Case {
        name: "Job pod pending is not reported",
        alert: "KubePodNotReady",
        series: &[
            (
                r#"kube_pod_status_phase{namespace="batch",pod="report-x",phase="Pending"}"#,
                "1x30",
            ),
            (
                r#"kube_pod_owner{namespace="batch",pod="report-x",owner_kind="Job",owner_name="report"}"#,
                "1x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "deployment short of replicas without progress",
        alert: "KubeDeploymentReplicasMismatch",
        series: &[
            (
                r#"kube_deployment_spec_replicas{namespace="shop",deployment="web"}"#,
                "3x20",
            ),
            (
                r#"kube_deployment_status_replicas_available{namespace="shop",deployment="web"}"#,
                "1x20",
            ),
            (
                r#"kube_deployment_status_replicas_updated{namespace="shop",deployment="web"}"#,
                "3x20",
            ),
        ],
        eval: "15m",
        expect: &[exp(
            "warning",
            &[("deployment", "web"), ("namespace", "shop")],
        )],
    },
    Case {
        name: "deployment short of replicas while the rollout progresses",
        alert: "KubeDeploymentReplicasMismatch",
        series: &[
            (
                r#"kube_deployment_spec_replicas{namespace="shop",deployment="web"}"#,
                "30x20",
            ),
            (
                r#"kube_deployment_status_replicas_available{namespace="shop",deployment="web"}"#,
                "1x20",
            ),
            (
                r#"kube_deployment_status_replicas_updated{namespace="shop",deployment="web"}"#,
                "0+1x20",
            ),
        ],
        eval: "15m",
        expect: NONE,
    },
    Case {
        name: "statefulset ready < current",
        alert: "KubeStatefulSetReplicasMismatch",
        series: &[
            (
                r#"kube_statefulset_status_replicas_ready{namespace="db",statefulset="pg"}"#,
                "1x20",
            ),
            (
                r#"kube_statefulset_status_replicas{namespace="db",statefulset="pg"}"#,
                "3x20",
            ),
            (
                r#"kube_statefulset_status_replicas_updated{namespace="db",statefulset="pg"}"#,
                "3x20",
            ),
        ],
        eval: "15m",
        expect: &[exp(
            "warning",
            &[("namespace", "db"), ("statefulset", "pg")],
        )],
    },
    Case {
        name: "statefulset all ready",
        alert: "KubeStatefulSetReplicasMismatch",
        series: &[
            (
                r#"kube_statefulset_status_replicas_ready{namespace="db",statefulset="pg"}"#,
                "3x20",
            ),
            (
                r#"kube_statefulset_status_replicas{namespace="db",statefulset="pg"}"#,
                "3x20",
            ),
            (
                r#"kube_statefulset_status_replicas_updated{namespace="db",statefulset="pg"}"#,
                "3x20",
            ),
        ],
        eval: "15m",
        expect: NONE,
    },
    Case {
        name: "job failed",
        alert: "KubeJobFailed",
        series: &[
            (
                r#"kube_job_failed{namespace="batch",job_name="report",condition="true"}"#,
                "1x30",
            ),
            (
                r#"kube_job_failed{namespace="batch",job_name="report",condition="false"}"#,
                "0x30",
            ),
        ],
        eval: "20m",
        expect: &[exp(
            "warning",
            &[
                ("condition", "true"),
                ("job_name", "report"),
                ("namespace", "batch"),
            ],
        )],
    },
    Case {
        name: "job with Failed=false",
        alert: "KubeJobFailed",
        series: &[
            (
                r#"kube_job_failed{namespace="batch",job_name="report",condition="true"}"#,
                "0x30",
            ),
            (
                r#"kube_job_failed{namespace="batch",job_name="report",condition="false"}"#,
                "1x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "HPA at max replicas",
        alert: "KubeHpaMaxedOut",
        series: &[
            (
                r#"kube_horizontalpodautoscaler_status_current_replicas{namespace="shop",horizontalpodautoscaler="web"}"#,
                "10x30",
            ),
            (
                r#"kube_horizontalpodautoscaler_spec_max_replicas{namespace="shop",horizontalpodautoscaler="web"}"#,
                "10x30",
            ),
            (
                r#"kube_horizontalpodautoscaler_spec_min_replicas{namespace="shop",horizontalpodautoscaler="web"}"#,
                "2x30",
            ),
        ],
        eval: "20m",
        expect: &[exp(
            "warning",
            &[("horizontalpodautoscaler", "web"), ("namespace", "shop")],
        )],
    },
    Case {
        name: "fixed-size HPA (min == max) at max is not reported",
        alert: "KubeHpaMaxedOut",
        series: &[
            (
                r#"kube_horizontalpodautoscaler_status_current_replicas{namespace="shop",horizontalpodautoscaler="web"}"#,
                "10x30",
            ),
            (
                r#"kube_horizontalpodautoscaler_spec_max_replicas{namespace="shop",horizontalpodautoscaler="web"}"#,
                "10x30",
            ),
            (
                r#"kube_horizontalpodautoscaler_spec_min_replicas{namespace="shop",horizontalpodautoscaler="web"}"#,
                "10x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "HPA AbleToScale=false",
        alert: "KubeHpaUnableToScale",
        series: &[
            (
                r#"kube_horizontalpodautoscaler_status_condition{namespace="shop",horizontalpodautoscaler="web",condition="AbleToScale",status="false"}"#,
                "1x10",
            ),
            (
                r#"kube_horizontalpodautoscaler_status_condition{namespace="shop",horizontalpodautoscaler="web",condition="AbleToScale",status="true"}"#,
                "0x10",
            ),
        ],
        eval: "8m",
        expect: &[exp(
            "warning",
            &[
                ("condition", "AbleToScale"),
                ("horizontalpodautoscaler", "web"),
                ("namespace", "shop"),
                ("status", "false"),
            ],
        )],
    },
    Case {
        name: "HPA able to scale",
        alert: "KubeHpaUnableToScale",
        series: &[
            (
                r#"kube_horizontalpodautoscaler_status_condition{namespace="shop",horizontalpodautoscaler="web",condition="AbleToScale",status="false"}"#,
                "0x10",
            ),
            (
                r#"kube_horizontalpodautoscaler_status_condition{namespace="shop",horizontalpodautoscaler="web",condition="AbleToScale",status="true"}"#,
                "1x10",
            ),
        ],
        eval: "8m",
        expect: NONE,
    },
    // Storage.
    Case {
        name: "volume 2% free: critical (steady, so no warning)",
        alert: "KubePersistentVolumeFillingUp",
        series: &[
            (
                r#"kubelet_volume_stats_available_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "2x20",
            ),
            (
                r#"kubelet_volume_stats_capacity_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "100x20",
            ),
            (
                r#"kubelet_volume_stats_used_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "98x20",
            ),
        ],
        eval: "10m",
        expect: &[Expect {
            severity: "critical",
            labels: &[("namespace", "db"), ("persistentvolumeclaim", "data-pg-0")],
            value: Some("2%"),
        }],
    },
    Case {
        name: "volume 13.1% free and shrinking: warning",
        alert: "KubePersistentVolumeFillingUp",
        series: &[
            (
                r#"kubelet_volume_stats_available_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "14-0.01x120",
            ),
            (
                r#"kubelet_volume_stats_capacity_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "100x120",
            ),
            (
                r#"kubelet_volume_stats_used_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "86+0.01x120",
            ),
        ],
        eval: "90m",
        expect: &[Expect {
            severity: "warning",
            labels: &[("namespace", "db"), ("persistentvolumeclaim", "data-pg-0")],
            value: Some("13.1%"),
        }],
    },
    Case {
        name: "volume half free",
        alert: "KubePersistentVolumeFillingUp",
        series: &[
            (
                r#"kubelet_volume_stats_available_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "50-0.01x120",
            ),
            (
                r#"kubelet_volume_stats_capacity_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "100x120",
            ),
            (
                r#"kubelet_volume_stats_used_bytes{namespace="db",persistentvolumeclaim="data-pg-0"}"#,
                "50+0.01x120",
            ),
        ],
        eval: "90m",
        expect: NONE,
    },
    Case {
        name: "PVC pending",
        alert: "KubePersistentVolumeClaimPending",
        series: &[(
            r#"kube_persistentvolumeclaim_status_phase{namespace="db",persistentvolumeclaim="data-pg-1",phase="Pending"}"#,
            "1x10",
        )],
        eval: "8m",
        expect: &[exp(
            "warning",
            &[
                ("namespace", "db"),
                ("persistentvolumeclaim", "data-pg-1"),
                ("phase", "Pending"),
            ],
        )],
    },
    Case {
        name: "PVC bound",
        alert: "KubePersistentVolumeClaimPending",
        series: &[
            (
                r#"kube_persistentvolumeclaim_status_phase{namespace="db",persistentvolumeclaim="data-pg-1",phase="Pending"}"#,
                "0x10",
            ),
            (
                r#"kube_persistentvolumeclaim_status_phase{namespace="db",persistentvolumeclaim="data-pg-1",phase="Bound"}"#,
                "1x10",
            ),
        ],
        eval: "8m",
        expect: NONE,
    },
    // API server.
    Case {
        name: "10% of API requests fail with 5xx",
        alert: "KubeAPIServerErrorsHigh",
        series: &[
            (
                r#"apiserver_request_total{verb="GET",code="200"}"#,
                "0+540x30",
            ),
            (
                r#"apiserver_request_total{verb="GET",code="500"}"#,
                "0+60x30",
            ),
        ],
        eval: "20m",
        expect: &[exp("critical", &[])],
    },
    Case {
        name: "about 1% of API requests fail",
        alert: "KubeAPIServerErrorsHigh",
        series: &[
            (
                r#"apiserver_request_total{verb="GET",code="200"}"#,
                "0+594x30",
            ),
            (
                r#"apiserver_request_total{verb="GET",code="500"}"#,
                "0+6x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "slow GETs",
        alert: "KubeAPIServerLatencyHigh",
        series: &[
            (
                r#"apiserver_request_duration_seconds_bucket{verb="GET",le="0.5"}"#,
                "0+10x30",
            ),
            (
                r#"apiserver_request_duration_seconds_bucket{verb="GET",le="1"}"#,
                "0+10x30",
            ),
            (
                r#"apiserver_request_duration_seconds_bucket{verb="GET",le="5"}"#,
                "0+100x30",
            ),
            (
                r#"apiserver_request_duration_seconds_bucket{verb="GET",le="+Inf"}"#,
                "0+100x30",
            ),
        ],
        eval: "20m",
        expect: &[exp("warning", &[("verb", "GET")])],
    },
    Case {
        name: "fast GETs; long WATCHes are ignored",
        alert: "KubeAPIServerLatencyHigh",
        series: &[
            (
                r#"apiserver_request_duration_seconds_bucket{verb="GET",le="0.5"}"#,
                "0+100x30",
            ),
            (
                r#"apiserver_request_duration_seconds_bucket{verb="GET",le="+Inf"}"#,
                "0+100x30",
            ),
            (
                r#"apiserver_request_duration_seconds_bucket{verb="WATCH",le="5"}"#,
                "0x30",
            ),
            (
                r#"apiserver_request_duration_seconds_bucket{verb="WATCH",le="+Inf"}"#,
                "0+100x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    // Istio.
    Case {
        name: "10% of requests answered 503",
        alert: "IstioHigh5xxRate",
        series: &[
            (
                r#"istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web",response_code="200"}"#,
                "0+540x20",
            ),
            (
                r#"istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web",response_code="503"}"#,
                "0+60x20",
            ),
        ],
        eval: "10m",
        expect: &[exp("critical", SHOP_WEB_ISTIO)],
    },
    Case {
        name: "10% of requests answered 404 (client errors do not count)",
        alert: "IstioHigh5xxRate",
        series: &[
            (
                r#"istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web",response_code="200"}"#,
                "0+540x20",
            ),
            (
                r#"istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web",response_code="404"}"#,
                "0+60x20",
            ),
        ],
        eval: "10m",
        expect: NONE,
    },
    Case {
        name: "p99 latency above 1s",
        alert: "IstioHighRequestLatency",
        series: &[
            (
                r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web",le="100"}"#,
                "0+10x20",
            ),
            (
                r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web",le="1000"}"#,
                "0+10x20",
            ),
            (
                r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web",le="5000"}"#,
                "0+100x20",
            ),
            (
                r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web",le="+Inf"}"#,
                "0+100x20",
            ),
        ],
        eval: "10m",
        expect: &[exp("warning", SHOP_WEB_ISTIO)],
    },
    Case {
        name: "all requests under 100ms",
        alert: "IstioHighRequestLatency",
        series: &[
            (
                r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web",le="100"}"#,
                "0+100x20",
            ),
            (
                r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web",le="5000"}"#,
                "0+100x20",
            ),
            (
                r#"istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="shop",destination_service_name="web",le="+Inf"}"#,
                "0+100x20",
            ),
        ],
        eval: "10m",
        expect: NONE,
    },
    Case {
        name: "plaintext requests",
        alert: "IstioMTLSDisabled",
        series: &[(
            r#"istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web",response_code="200",connection_security_policy="none"}"#,
            "0+60x20",
        )],
        eval: "10m",
        expect: &[exp("warning", SHOP_WEB_ISTIO)],
    },
    Case {
        name: "mutual TLS only",
        alert: "IstioMTLSDisabled",
        series: &[(
            r#"istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web",response_code="200",connection_security_policy="mutual_tls"}"#,
            "0+60x20",
        )],
        eval: "10m",
        expect: NONE,
    },
    // Certificates: time() is 7200 at eval_time 2h.
    Case {
        name: "certificate expires in ~10 days: warning",
        alert: "CertManagerCertExpirySoon",
        series: &[(
            r#"certmanager_certificate_expiration_timestamp_seconds{namespace="shop",name="web-tls"}"#,
            "864000x180",
        )],
        eval: "2h",
        expect: &[exp(
            "warning",
            &[("name", "web-tls"), ("namespace", "shop")],
        )],
    },
    Case {
        name: "certificate expires in ~3 days: critical and warning",
        alert: "CertManagerCertExpirySoon",
        series: &[(
            r#"certmanager_certificate_expiration_timestamp_seconds{namespace="shop",name="web-tls"}"#,
            "259200x180",
        )],
        eval: "2h",
        expect: &[
            exp("critical", &[("name", "web-tls"), ("namespace", "shop")]),
            exp("warning", &[("name", "web-tls"), ("namespace", "shop")]),
        ],
    },
    Case {
        name: "certificate valid for 60 days",
        alert: "CertManagerCertExpirySoon",
        series: &[(
            r#"certmanager_certificate_expiration_timestamp_seconds{namespace="shop",name="web-tls"}"#,
            "5184000x180",
        )],
        eval: "2h",
        expect: NONE,
    },
    // plinth's own components.
    Case {
        name: "pods unschedulable for 20 minutes",
        alert: "PlinthSchedulerPodsUnschedulable",
        series: &[
            (
                r#"plinth_scheduler_pending_pods{queue="unschedulable",pod="s-1"}"#,
                "3x30",
            ),
            (
                r#"plinth_scheduler_pending_pods{queue="active",pod="s-1"}"#,
                "0x30",
            ),
        ],
        eval: "20m",
        expect: &[exp("warning", &[])],
    },
    Case {
        name: "pods only briefly unschedulable",
        alert: "PlinthSchedulerPodsUnschedulable",
        series: &[(
            r#"plinth_scheduler_pending_pods{queue="unschedulable",pod="s-1"}"#,
            "3x5 0x25",
        )],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "slow scheduling attempts",
        alert: "PlinthSchedulerAttemptLatencyHigh",
        series: &[
            (
                r#"plinth_scheduler_scheduling_attempt_duration_seconds_bucket{result="scheduled",le="0.01"}"#,
                "0+10x30",
            ),
            (
                r#"plinth_scheduler_scheduling_attempt_duration_seconds_bucket{result="scheduled",le="1"}"#,
                "0+100x30",
            ),
            (
                r#"plinth_scheduler_scheduling_attempt_duration_seconds_bucket{result="scheduled",le="+Inf"}"#,
                "0+100x30",
            ),
        ],
        eval: "20m",
        expect: &[exp("warning", &[])],
    },
    Case {
        name: "fast scheduling attempts",
        alert: "PlinthSchedulerAttemptLatencyHigh",
        series: &[
            (
                r#"plinth_scheduler_scheduling_attempt_duration_seconds_bucket{result="scheduled",le="0.001"}"#,
                "0+100x30",
            ),
            (
                r#"plinth_scheduler_scheduling_attempt_duration_seconds_bucket{result="scheduled",le="+Inf"}"#,
                "0+100x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "bindings keep failing",
        alert: "PlinthSchedulerBindErrors",
        series: &[(
            r#"plinth_scheduler_bind_errors_total{reason="other"}"#,
            "0+2x30",
        )],
        eval: "20m",
        expect: &[exp("warning", &[])],
    },
    Case {
        name: "only conflicts (another scheduler bound first)",
        alert: "PlinthSchedulerBindErrors",
        series: &[
            (
                r#"plinth_scheduler_bind_errors_total{reason="conflict"}"#,
                "0+2x30",
            ),
            (
                r#"plinth_scheduler_bind_errors_total{reason="other"}"#,
                "0x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "two instances, neither leads",
        alert: "PlinthSchedulerNoLeader",
        series: &[
            (r#"plinth_scheduler_leader{pod="s-1"}"#, "0x20"),
            (r#"plinth_scheduler_leader{pod="s-2"}"#, "0x20"),
        ],
        eval: "10m",
        expect: &[exp("critical", &[])],
    },
    Case {
        name: "leadership moves from one instance to the other",
        alert: "PlinthSchedulerNoLeader",
        series: &[
            (r#"plinth_scheduler_leader{pod="s-1"}"#, "1x5 0x15"),
            (r#"plinth_scheduler_leader{pod="s-2"}"#, "0x6 1x14"),
        ],
        eval: "10m",
        expect: NONE,
    },
    Case {
        name: "the profiles watch keeps failing",
        alert: "PlinthSchedulerProfilesUnreadable",
        series: &[(
            r#"plinth_scheduler_profile_watch_errors_total{pod="s-1"}"#,
            "0+2x30",
        )],
        eval: "20m",
        expect: &[exp("warning", &[])],
    },
    Case {
        name: "one watch failure, then the profiles are read",
        alert: "PlinthSchedulerProfilesUnreadable",
        series: &[(
            r#"plinth_scheduler_profile_watch_errors_total{pod="s-1"}"#,
            "0 1x30",
        )],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "slow admission",
        alert: "PlinthGuardLatencyHigh",
        series: &[
            (
                r#"plinth_guard_request_duration_seconds_bucket{resource="pods",decision="allowed",le="0.005"}"#,
                "0+10x30",
            ),
            (
                r#"plinth_guard_request_duration_seconds_bucket{resource="pods",decision="allowed",le="0.5"}"#,
                "0+100x30",
            ),
            (
                r#"plinth_guard_request_duration_seconds_bucket{resource="pods",decision="allowed",le="+Inf"}"#,
                "0+100x30",
            ),
        ],
        eval: "20m",
        expect: &[exp("warning", &[])],
    },
    Case {
        name: "fast admission",
        alert: "PlinthGuardLatencyHigh",
        series: &[
            (
                r#"plinth_guard_request_duration_seconds_bucket{resource="pods",decision="allowed",le="0.001"}"#,
                "0+100x30",
            ),
            (
                r#"plinth_guard_request_duration_seconds_bucket{resource="pods",decision="allowed",le="+Inf"}"#,
                "0+100x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "5% of admission requests cannot be decided",
        alert: "PlinthGuardRequestsRejected",
        series: &[
            (
                r#"plinth_guard_request_duration_seconds_count{resource="pods",decision="allowed"}"#,
                "0+100x30",
            ),
            (
                r#"plinth_guard_rejected_requests_total{reason="deadline"}"#,
                "0+5x30",
            ),
        ],
        eval: "20m",
        expect: &[exp("warning", &[])],
    },
    Case {
        name: "a rare malformed request",
        alert: "PlinthGuardRequestsRejected",
        series: &[
            (
                r#"plinth_guard_request_duration_seconds_count{resource="pods",decision="allowed"}"#,
                "0+1000x30",
            ),
            (
                r#"plinth_guard_rejected_requests_total{reason="bad_request"}"#,
                "0+1x30",
            ),
        ],
        eval: "20m",
        expect: NONE,
    },
    Case {
        name: "reconciliations keep failing",
        alert: "PlinthZeroTrustReconcileErrors",
        series: &[
            (r#"plinth_zt_reconciles_total{result="error"}"#, "0+1x40"),
            (r#"plinth_zt_reconciles_total{result="success"}"#, "0x40"),
        ],
        eval: "30m",
        expect: &[exp("warning", &[])],
    },
    Case {
        name: "one failure, then success",
        alert: "PlinthZeroTrustReconcileErrors",
        series: &[
            (r#"plinth_zt_reconciles_total{result="error"}"#, "0 1x40"),
            (r#"plinth_zt_reconciles_total{result="success"}"#, "0+1x40"),
        ],
        eval: "30m",
        expect: NONE,
    },
    Case {
        name: "a model stays APIUnavailable",
        alert: "PlinthZeroTrustModelNotReady",
        series: &[
            (
                r#"plinth_zt_model_outcomes_total{reason="APIUnavailable"}"#,
                "0+1x60",
            ),
            (
                r#"plinth_zt_model_outcomes_total{reason="Reconciled"}"#,
                "0+1x60",
            ),
        ],
        eval: "45m",
        expect: &[exp("warning", &[("reason", "APIUnavailable")])],
    },
    Case {
        name: "every model reconciled",
        alert: "PlinthZeroTrustModelNotReady",
        series: &[
            (
                r#"plinth_zt_model_outcomes_total{reason="InvalidModel"}"#,
                "0x60",
            ),
            (
                r#"plinth_zt_model_outcomes_total{reason="Reconciled"}"#,
                "0+1x60",
            ),
        ],
        eval: "45m",
        expect: NONE,
    },
];

/// Every alerting rule of the rule file: (alertname, severity) -> rule.
fn rules_by_name_and_severity(settings: &MonitoringSettings) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for group in rule_groups(settings).unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            if let Some(alert) = rule["alert"].as_str() {
                let severity = rule["labels"]["severity"].as_str().unwrap().to_string();
                let prev = out.insert((alert.to_string(), severity), rule.clone());
                assert!(prev.is_none(), "duplicate rule {alert}");
            }
        }
    }
    out
}

/// Expands the annotation templates the rules use: `{{ $labels.NAME }}` and
/// `{{ $value | humanizePercentage }}`. Anything else is a test failure, so a new template
/// construct needs a deliberate extension here.
fn expand(template: &str, labels: &BTreeMap<&str, &str>, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed template in {template:?}"))
            + start;
        let inner = rest[start + 2..end].trim();
        if let Some(name) = inner.strip_prefix("$labels.") {
            out.push_str(labels.get(name).unwrap_or_else(|| {
                panic!("template {template:?} uses label {name} absent from the case")
            }));
        } else if inner == "$value | humanizePercentage" {
            out.push_str(value.unwrap_or_else(|| panic!("case needs a value for {template:?}")));
        } else {
            panic!("template construct {inner:?} not understood by the test");
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn test_file(rule_file: &str, case: &Case, rules: &BTreeMap<(String, String), Value>) -> Value {
    let input_series: Vec<Value> = case
        .series
        .iter()
        .map(|(series, values)| json!({"series": series, "values": values}))
        .collect();
    let exp_alerts: Vec<Value> = case
        .expect
        .iter()
        .map(|e| {
            let rule = rules
                .get(&(case.alert.to_string(), e.severity.to_string()))
                .unwrap_or_else(|| panic!("no rule {} with severity {}", case.alert, e.severity));
            let mut labels: BTreeMap<&str, &str> = e.labels.iter().copied().collect();
            labels.insert("severity", e.severity);
            let annotations: BTreeMap<String, String> = rule["annotations"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), expand(v.as_str().unwrap(), &labels, e.value)))
                .collect();
            json!({"exp_labels": labels, "exp_annotations": annotations})
        })
        .collect();
    json!({
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input_series,
            "alert_rule_test": [{
                "eval_time": case.eval,
                "alertname": case.alert,
                "exp_alerts": exp_alerts,
            }],
        }],
    })
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn promtool_check_rules_accepts_the_rule_file_and_every_prometheus_rule() {
    let promtool = tool("promtool");
    let settings = MonitoringSettings::default();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "rules.yaml",
        &rule_file_yaml(&settings).unwrap(),
    );
    let (ok, out) = run(Command::new(&promtool).arg("check").arg("rules").arg(&file));
    assert!(ok, "promtool check rules failed:\n{out}");
    let total = rules_by_name_and_severity(&settings).len();
    assert!(
        out.contains(&format!("SUCCESS: {total} rules found")),
        "unexpected promtool output:\n{out}"
    );

    // The PrometheusRule objects carry the same groups; check their specs too.
    for (i, object) in prometheus_rules(&settings).unwrap().iter().enumerate() {
        let file = write(
            dir.path(),
            &format!("object-{i}.yaml"),
            &yaml(&object["spec"]),
        );
        let (ok, out) = run(Command::new(&promtool).arg("check").arg("rules").arg(&file));
        assert!(
            ok,
            "promtool check rules on {}:\n{out}",
            object["metadata"]["name"]
        );
    }
}

#[test]
fn promtool_unit_tests_fire_and_do_not_fire_every_alert() {
    let promtool = tool("promtool");
    let settings = MonitoringSettings::default();
    let rules = rules_by_name_and_severity(&settings);

    // Coverage: every alert has a firing and a non-firing case, and every (alert, severity)
    // rule fires in some case.
    let firing: BTreeSet<&str> = CASES
        .iter()
        .filter(|c| !c.expect.is_empty())
        .map(|c| c.alert)
        .collect();
    let silent: BTreeSet<&str> = CASES
        .iter()
        .filter(|c| c.expect.is_empty())
        .map(|c| c.alert)
        .collect();
    let fired_rules: BTreeSet<(String, String)> = CASES
        .iter()
        .flat_map(|c| {
            c.expect
                .iter()
                .map(|e| (c.alert.to_string(), e.severity.to_string()))
        })
        .collect();
    for name in alert_names(&settings).unwrap() {
        assert!(firing.contains(name.as_str()), "{name} has no firing case");
        assert!(
            silent.contains(name.as_str()),
            "{name} has no non-firing case"
        );
    }
    for key in rules.keys() {
        assert!(
            fired_rules.contains(key),
            "rule {key:?} is never fired by a case"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rules.yaml",
        &rule_file_yaml(&settings).unwrap(),
    );
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let file = write(
            dir.path(),
            &format!("test-{i:02}.yaml"),
            &yaml(&test_file("rules.yaml", case, &rules)),
        );
        let (ok, out) = run(Command::new(&promtool)
            .current_dir(dir.path())
            .arg("test")
            .arg("rules")
            .arg(&file));
        if !ok {
            failures.push(format!("{} / {}:\n{out}", case.alert, case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} promtool cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn a_wrong_expectation_makes_promtool_fail() {
    // Guards the harness itself: promtool must notice a missing alert.
    let promtool = tool("promtool");
    let settings = MonitoringSettings::default();
    let rules = rules_by_name_and_severity(&settings);
    let silent = CASES
        .iter()
        .find(|c| c.alert == "KubeNodeNotReady" && c.expect.is_empty())
        .unwrap();
    const WRONG: &[Expect] = &[exp(
        "critical",
        &[
            ("condition", "Ready"),
            ("node", "worker-1"),
            ("status", "true"),
        ],
    )];
    let wrong = Case {
        expect: WRONG,
        ..*silent
    };
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rules.yaml",
        &rule_file_yaml(&settings).unwrap(),
    );
    let file = write(
        dir.path(),
        "test.yaml",
        &yaml(&test_file("rules.yaml", &wrong, &rules)),
    );
    let (ok, out) = run(Command::new(&promtool)
        .current_dir(dir.path())
        .arg("test")
        .arg("rules")
        .arg(&file));
    assert!(!ok, "promtool accepted a wrong expectation:\n{out}");
}

#[test]
fn amtool_accepts_the_config_and_routes_by_severity_and_namespace() {
    let amtool = tool("amtool");
    let settings = MonitoringSettings::default();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "alertmanager.yaml",
        &alertmanager_yaml(&settings).unwrap(),
    );
    let (ok, out) = run(Command::new(&amtool).arg("check-config").arg(&file));
    assert!(ok, "amtool check-config failed:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");
    assert!(out.contains("2 inhibit rules"), "{out}");

    let config = format!("--config.file={}", file.display());
    for (labels, receiver) in [
        (
            &["severity=critical", "namespace=kube-system"][..],
            receivers::PLATFORM_CRITICAL,
        ),
        (
            &["severity=critical", "namespace=monitoring"][..],
            receivers::PLATFORM_CRITICAL,
        ),
        (
            &["severity=critical", "alertname=KubeNodeNotReady"][..],
            receivers::PLATFORM_CRITICAL,
        ),
        (
            &["severity=critical", "namespace=shop"][..],
            receivers::WORKLOAD_CRITICAL,
        ),
        (
            &["severity=warning", "namespace=shop"][..],
            receivers::DEFAULT,
        ),
        (
            &["severity=warning", "namespace=kube-system"][..],
            receivers::DEFAULT,
        ),
        (&["severity=info", "namespace=shop"][..], receivers::NULL),
        (&["alertname=Unlabelled"][..], receivers::DEFAULT),
    ] {
        let (ok, out) = run(Command::new(&amtool)
            .args(["config", "routes", "test", &config])
            .args(labels));
        assert!(ok, "amtool config routes test {labels:?}:\n{out}");
        let got: Vec<&str> = out
            .lines()
            .filter(|l| !l.starts_with("Warning:") && !l.trim().is_empty())
            .collect();
        assert_eq!(got, vec![receiver], "labels {labels:?}:\n{out}");
    }
}

/// Every key that looks like a secret must be a `*_file` reference.
fn assert_no_inline_secrets(path: &str, v: &Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let lower = k.to_ascii_lowercase();
                let secretish = [
                    "password",
                    "secret",
                    "token",
                    "api_key",
                    "routing_key",
                    "credentials",
                ]
                .iter()
                .any(|s| lower.contains(s));
                if secretish {
                    assert!(lower.ends_with("_file"), "{path}.{k} is an inline secret");
                    assert!(
                        v.as_str().is_some_and(|p| p.starts_with('/')),
                        "{path}.{k}: {v}"
                    );
                }
                assert_no_inline_secrets(&format!("{path}.{k}"), v);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                assert_no_inline_secrets(&format!("{path}[{i}]"), v);
            }
        }
        _ => {}
    }
}

#[test]
fn alertmanager_config_references_secrets_and_inhibits_warnings() {
    let settings = MonitoringSettings::default();
    let config = alertmanager_config(&settings).unwrap();
    assert_no_inline_secrets("", &config);
    let text = alertmanager_yaml(&settings).unwrap();
    for placeholder in ["YOUR_", "hooks.slack.com/services/...", "changeme"] {
        assert!(
            !text.contains(placeholder),
            "placeholder {placeholder} in:\n{text}"
        );
    }
    assert_eq!(
        config["inhibit_rules"][0],
        json!({
            "source_matchers": ["severity=\"critical\""],
            "target_matchers": ["severity=\"warning\""],
            "equal": ["alertname", "namespace"],
        })
    );
    assert_eq!(
        config["route"]["group_by"],
        json!(["alertname", "namespace", "severity"])
    );
}

#[test]
fn rules_use_existing_metric_names_and_carry_severity_and_runbook() {
    let settings = MonitoringSettings::default();
    let objects = serde_json::to_string(&prometheus_rules(&settings).unwrap()).unwrap();
    let file = rule_file_yaml(&settings).unwrap();
    for wrong in ["kube_hpa_", "istio_request_total", "OutOfDisk"] {
        assert!(!objects.contains(wrong), "PrometheusRules use {wrong}");
        assert!(!file.contains(wrong), "the rule file uses {wrong}");
    }
    for needed in [
        "kube_horizontalpodautoscaler_status_condition",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "istio_requests_total",
        "istio_request_duration_milliseconds_bucket",
        "kube_pod_container_status_waiting_reason",
        "kubelet_volume_stats_available_bytes",
        "apiserver_request_total",
        "apiserver_request_duration_seconds_bucket",
        "certmanager_certificate_expiration_timestamp_seconds",
    ] {
        assert!(file.contains(needed), "no rule uses {needed}");
    }
    for ((name, severity), rule) in rules_by_name_and_severity(&settings) {
        assert!(
            ["critical", "warning", "info"].contains(&severity.as_str()),
            "{name}: severity {severity}"
        );
        let runbook = rule["annotations"]["runbook_url"].as_str().unwrap();
        assert!(
            runbook.starts_with("https://runbooks.prometheus-operator.dev/runbooks/")
                || runbook
                    == format!(
                        "https://plinth-dev.github.io/plinth/runbooks/{}",
                        name.to_ascii_lowercase()
                    ),
            "{name}: runbook_url {runbook}"
        );
        for key in ["summary", "description"] {
            let text = rule["annotations"][key].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "{name}: no {key}");
        }
        assert!(rule["for"].as_str().is_some(), "{name}: no `for`");
    }
}

#[test]
fn prometheus_rule_objects_are_selected_by_the_operator() {
    let settings = MonitoringSettings::default();
    let objects = prometheus_rules(&settings).unwrap();
    assert!(!objects.is_empty());
    let mut names = BTreeSet::new();
    for o in &objects {
        assert_eq!(o["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(o["kind"], "PrometheusRule");
        assert_eq!(o["metadata"]["namespace"], "monitoring");
        assert_eq!(o["metadata"]["labels"]["prometheus"], "enterprise");
        assert!(names.insert(o["metadata"]["name"].as_str().unwrap().to_string()));
        assert_eq!(o["spec"]["groups"].as_array().unwrap().len(), 1);
    }
    let groups: Vec<Value> = objects
        .iter()
        .map(|o| o["spec"]["groups"][0].clone())
        .collect();
    assert_eq!(groups, rule_groups(&settings).unwrap());
}

#[test]
fn output_is_deterministic() {
    let settings = MonitoringSettings::default();
    assert_eq!(
        rule_file_yaml(&settings).unwrap(),
        rule_file_yaml(&settings.clone()).unwrap()
    );
    assert_eq!(
        alertmanager_yaml(&settings).unwrap(),
        alertmanager_yaml(&settings.clone()).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&prometheus_rules(&settings).unwrap()).unwrap(),
        serde_json::to_string(&prometheus_rules(&settings).unwrap()).unwrap()
    );
}

#[test]
fn thresholds_flow_into_rules_and_bad_settings_are_rejected() {
    let mut settings = MonitoringSettings::default();
    settings.thresholds.istio_p99_latency_ms = 250.0;
    let file = rule_file_yaml(&settings).unwrap();
    assert!(file.contains("> 250"), "{file}");
    assert!(file.contains("above 250ms"), "{file}");

    let mut bad = MonitoringSettings::default();
    bad.thresholds.pvc_free_critical_ratio = 0.5;
    assert!(matches!(
        rule_groups(&bad),
        Err(MonitoringError::InvalidSetting {
            field: "thresholds.pvc_free_critical_ratio",
            ..
        })
    ));
    let mut bad = MonitoringSettings::default();
    bad.alertmanager.smtp_auth_password_file = "hunter2".to_string();
    let err = alertmanager_config(&bad).unwrap_err();
    assert!(err.to_string().contains("smtp_auth_password_file"), "{err}");
    let bad = MonitoringSettings {
        namespace: "Monitoring".to_string(),
        ..MonitoringSettings::default()
    };
    assert!(prometheus_rules(&bad).is_err());
}
