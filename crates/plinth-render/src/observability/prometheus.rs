//! Prometheus (with the Thanos sidecar), Alertmanager, the monitors and Thanos Query.

use super::*;

pub(super) fn prometheus(s: &ObservabilitySettings) -> Value {
    let p = &s.prometheus;
    let mut external = s.external_labels.clone();
    external.insert("cluster".into(), s.cluster_name.clone());
    let mut spec = json!({
        "replicas": p.replicas,
        "image": s.images.prometheus,
        "retention": p.retention,
        "storage": volume_claim(p.storage_class.as_ref(), &p.storage_size),
        "serviceAccountName": PROMETHEUS_SERVICE_ACCOUNT,
        "externalLabels": external,
        // Rules only from this namespace (where plinth renders them), monitors from all.
        "ruleSelector": {"matchLabels": s.rule_selector_labels},
        "serviceMonitorSelector": {"matchLabels": s.monitor_selector_labels},
        "serviceMonitorNamespaceSelector": {},
        "podMonitorSelector": {"matchLabels": s.monitor_selector_labels},
        "podMonitorNamespaceSelector": {},
        "alerting": {"alertmanagers": [{"namespace": s.namespace, "name": "alertmanager-operated",
            "port": "web", "apiVersion": "v2"}]},
        "resources": p.resources.to_json(),
        // The operator's default user (1000) and group (2000).
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 2000,
            "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
        "podMetadata": {"labels": labels("prometheus", "prometheus")},
        "thanos": {
            "image": s.images.thanos,
            // A Secret *reference*: the bucket credentials are never rendered.
            "objectStorageConfig": {"name": s.thanos.objstore_secret_name,
                "key": s.thanos.objstore_secret_key},
            "resources": Resources::new("100m", "256Mi", "1", "1Gi").to_json(),
        },
    });
    if let Some(v) = image_tag(&s.images.prometheus) {
        spec["version"] = json!(v);
    }
    if let Some(v) = image_tag(&s.images.thanos) {
        spec["thanos"]["version"] = json!(v);
    }
    if let Some(rw) = &p.remote_write {
        let mut w = json!({"url": rw.url, "name": "remote"});
        if let Some(secret) = &rw.basic_auth_secret {
            w["basicAuth"] = json!({
                "username": {"name": secret, "key": "username"},
                "password": {"name": secret, "key": "password"},
            });
        }
        spec["remoteWrite"] = json!([w]);
    }
    json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
        "metadata": meta(s, STACK_NAME, "prometheus"), "spec": spec})
}

pub(super) fn alertmanager(s: &ObservabilitySettings) -> Value {
    let a = &s.alertmanager;
    let mut spec = json!({
        "replicas": a.replicas,
        "image": s.images.alertmanager,
        "configSecret": a.config_secret,
        "secrets": a.secrets,
        "serviceAccountName": "alertmanager-main",
        "storage": volume_claim(s.prometheus.storage_class.as_ref(), &a.storage_size),
        "resources": Resources::new("250m", "512Mi", "1", "1Gi").to_json(),
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 2000,
            "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
        "podMetadata": {"labels": labels("alertmanager", "alertmanager")},
    });
    if let Some(v) = image_tag(&s.images.alertmanager) {
        spec["version"] = json!(v);
    }
    json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
        "metadata": meta(s, STACK_NAME, "alertmanager"), "spec": spec})
}

pub(super) fn monitor_meta(s: &ObservabilitySettings, name: &str) -> Value {
    let mut l = labels(name, "monitor");
    for (k, v) in &s.monitor_selector_labels {
        l[k] = json!(v);
    }
    json!({"name": name, "namespace": s.namespace, "labels": l})
}

pub(super) fn service_monitor(s: &ObservabilitySettings, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": monitor_meta(s, name), "spec": spec})
}

pub(super) fn monitors(s: &ObservabilitySettings) -> Vec<Value> {
    let ns = &s.namespace;
    let https_sa = |path: Option<&str>, server_name: Option<&str>, skip_verify: bool| {
        let mut tls = json!({"caFile": SA_CA});
        if let Some(n) = server_name {
            tls["serverName"] = json!(n);
        }
        if skip_verify {
            tls["insecureSkipVerify"] = json!(true);
        }
        let mut e = json!({"port": "https-metrics", "scheme": "https", "interval": "30s",
            "bearerTokenFile": SA_TOKEN, "tlsConfig": tls, "honorLabels": true});
        if let Some(p) = path {
            e["path"] = json!(p);
        }
        e
    };
    let mut kubelet_metrics = https_sa(None, None, true);
    kubelet_metrics["relabelings"] = json!([{"sourceLabels": ["__metrics_path__"],
        "targetLabel": "metrics_path", "action": "replace"}]);
    let mut cadvisor = https_sa(Some("/metrics/cadvisor"), None, true);
    cadvisor["relabelings"] = kubelet_metrics["relabelings"].clone();
    cadvisor["honorTimestamps"] = json!(false);
    let mut apiserver = https_sa(None, Some("kubernetes"), false);
    apiserver["port"] = json!("https");
    apiserver["honorLabels"] = json!(false);
    vec![
        service_monitor(
            s,
            "kube-state-metrics",
            json!({
                "selector": {"matchLabels": {"app.kubernetes.io/name": "kube-state-metrics"}},
                "namespaceSelector": {"matchNames": [ns, "kube-system"]},
                "endpoints": [{"port": "http-metrics", "interval": "30s", "honorLabels": true}],
                "jobLabel": "app.kubernetes.io/name",
            }),
        ),
        service_monitor(
            s,
            "node-exporter",
            json!({
                "selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}},
                "namespaceSelector": {"matchNames": [ns, "kube-system"]},
                "endpoints": [{"port": "http-metrics", "interval": "30s",
                    "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"],
                        "targetLabel": "instance", "action": "replace"}]}],
                "jobLabel": "app.kubernetes.io/name",
            }),
        ),
        // The kubelet Service the operator maintains (`--kubelet-service=kube-system/kubelet`).
        // Kubelet serving certificates are commonly self-signed, hence insecureSkipVerify;
        // drop it where kubelets have CA-signed serving certificates.
        service_monitor(
            s,
            "kubelet",
            json!({
                "selector": {"matchLabels": {"app.kubernetes.io/name": "kubelet"}},
                "namespaceSelector": {"matchNames": ["kube-system"]},
                "endpoints": [kubelet_metrics, cadvisor],
                "jobLabel": "app.kubernetes.io/name",
            }),
        ),
        service_monitor(
            s,
            "kube-apiserver",
            json!({
                "selector": {"matchLabels": {"component": "apiserver", "provider": "kubernetes"}},
                "namespaceSelector": {"matchNames": ["default"]},
                "endpoints": [apiserver],
                "jobLabel": "component",
            }),
        ),
        service_monitor(
            s,
            "cert-manager",
            json!({
                "selector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager",
                    "app.kubernetes.io/component": "controller"}},
                "namespaceSelector": {"matchNames": ["cert-manager"]},
                "endpoints": [{"port": "tcp-prometheus-servicemonitor", "path": "/metrics",
                    "interval": "60s"}],
            }),
        ),
        service_monitor(
            s,
            "istiod",
            json!({
                "selector": {"matchLabels": {"app": "istiod"}},
                "namespaceSelector": {"matchNames": ["istio-system"]},
                "endpoints": [{"port": "http-monitoring", "interval": "30s"}],
            }),
        ),
        service_monitor(
            s,
            "otel-collector",
            json!({
                "selector": {"matchLabels": {"app.kubernetes.io/name": "otel-collector"}},
                "namespaceSelector": {"matchNames": [ns]},
                "endpoints": [{"port": "http-prom", "interval": "30s", "honorLabels": true}],
            }),
        ),
        // Every pod with an Istio sidecar: Envoy's merged stats on 15090.
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": monitor_meta(s, "istio-sidecars"),
        "spec": {
            "selector": {"matchExpressions": [{"key": "security.istio.io/tlsMode",
                "operator": "Exists"}]},
            "namespaceSelector": {"any": true},
            "jobLabel": "envoy-stats",
            "podMetricsEndpoints": [{"portNumber": 15090, "path": "/stats/prometheus",
                "interval": "30s",
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_pod_container_name"],
                     "regex": "istio-proxy", "action": "keep"},
                    {"sourceLabels": ["__meta_kubernetes_namespace"],
                     "targetLabel": "namespace", "action": "replace"},
                    {"sourceLabels": ["__meta_kubernetes_pod_name"],
                     "targetLabel": "pod", "action": "replace"},
                ]}],
        }}),
    ]
}

pub(super) fn thanos_query(s: &ObservabilitySettings) -> Vec<Value> {
    let name = "thanos-query";
    let container = json!({
        "name": "thanos-query",
        "image": s.images.thanos,
        "args": [
            "query",
            "--log.level=info",
            "--http-address=0.0.0.0:10902",
            "--grpc-address=0.0.0.0:10901",
            // The sidecars behind the operator's governing Service, found by SRV records.
            format!("--endpoint=dnssrv+_grpc._tcp.prometheus-operated.{}.svc", s.namespace),
            "--query.replica-label=prometheus_replica",
            "--query.auto-downsampling",
        ],
        "ports": [{"name": "http", "containerPort": 10902}, {"name": "grpc", "containerPort": 10901}],
        "livenessProbe": http_probe("/-/healthy", "http"),
        "readinessProbe": http_probe("/-/ready", "http"),
        "resources": Resources::new("100m", "256Mi", "1", "1Gi").to_json(),
    });
    vec![
        service_account(s, name),
        deployment(
            s,
            Workload {
                name,
                component: "thanos",
                replicas: s.thanos.query_replicas,
                uid: 65534,
                container,
                volumes: json!([]),
            },
        ),
        service(
            s,
            name,
            "thanos",
            json!([{"name": "http", "port": 10902, "targetPort": "http"},
                {"name": "grpc", "port": 10901, "targetPort": "grpc"}]),
        ),
    ]
}
