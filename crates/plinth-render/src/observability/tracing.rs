//! Tracing: Jaeger v2 and the OpenTelemetry Collector, with their configurations.

use super::*;

/// Jaeger v2's configuration: OTLP in, bounded in-memory storage, the query UI on 16686.
pub fn jaeger_config(s: &ObservabilitySettings) -> Value {
    json!({
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"],
                "exporters": ["jaeger_storage_exporter"]}},
        },
        "extensions": {
            "healthcheckv2": {"use_v2": true, "http": {"endpoint": "0.0.0.0:13133"}},
            // In-memory storage, bounded: production needs a real backend
            // (Elasticsearch/OpenSearch/Cassandra); this loses traces on restart.
            "jaeger_storage": {"backends": {"memstore": {"memory": {
                "max_traces": s.tracing.jaeger_max_traces}}}},
            "jaeger_query": {"storage": {"traces": "memstore"},
                "http": {"endpoint": "0.0.0.0:16686"}, "grpc": {"endpoint": "0.0.0.0:16685"}},
        },
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}}},
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memstore"}},
    })
}

pub(super) fn jaeger(s: &ObservabilitySettings) -> Result<Vec<Value>, ObservabilityError> {
    let name = "jaeger";
    let config = to_yaml("the Jaeger configuration", &jaeger_config(s))?;
    let container = json!({
        "name": "jaeger",
        "image": s.images.jaeger,
        "args": ["--config", "/etc/jaeger/config.yaml"],
        "ports": [
            {"name": "grpc-otlp", "containerPort": 4317},
            {"name": "http-otlp", "containerPort": 4318},
            {"name": "http-query", "containerPort": 16686},
            {"name": "grpc-query", "containerPort": 16685},
            {"name": "http-health", "containerPort": 13133},
        ],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/jaeger", "readOnly": true},
            {"name": "tmp", "mountPath": "/tmp"}],
        "livenessProbe": http_probe("/status", "http-health"),
        "readinessProbe": http_probe("/status", "http-health"),
        // The memory limit bounds the in-memory trace store (see jaegerMaxTraces).
        "resources": Resources::new("250m", "1Gi", "1", "2Gi").to_json(),
    });
    Ok(vec![
        service_account(s, name),
        config_map(
            s,
            "jaeger-config",
            "tracing",
            BTreeMap::from([("config.yaml", config)]),
        ),
        deployment(
            s,
            Workload {
                name,
                component: "tracing",
                // One replica: the in-memory store is per pod.
                replicas: 1,
                uid: 10001,
                container,
                volumes: json!([{"name": "config", "configMap": {"name": "jaeger-config"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "100Mi"}}]),
            },
        ),
        service(
            s,
            name,
            "tracing",
            json!([
                {"name": "grpc-otlp", "port": 4317, "targetPort": "grpc-otlp"},
                {"name": "http-otlp", "port": 4318, "targetPort": "http-otlp"},
                {"name": "http-query", "port": 16686, "targetPort": "http-query"},
                {"name": "grpc-query", "port": 16685, "targetPort": "grpc-query"},
            ]),
        ),
    ])
}

/// The OpenTelemetry Collector's configuration: OTLP in; memory limiter, sampling (traces)
/// and batching; traces to Jaeger over OTLP, metrics on a Prometheus endpoint.
pub fn otel_collector_config(s: &ObservabilitySettings) -> Value {
    json!({
        "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}}},
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80,
                "spike_limit_percentage": 25},
            "probabilistic_sampler": {"sampling_percentage": s.tracing.sampling_ratio * 100.0},
            "resource": {"attributes": [{"key": "k8s.cluster.name", "value": s.cluster_name,
                "action": "upsert"}]},
            "batch": {"timeout": "5s", "send_batch_size": 1024},
        },
        "exporters": {
            "otlp/jaeger": {"endpoint": format!("jaeger.{}.svc:4317", s.namespace),
                "tls": {"insecure": true}},
            "prometheus": {"endpoint": "0.0.0.0:8889", "resource_to_telemetry_conversion":
                {"enabled": true}},
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {"receivers": ["otlp"],
                    "processors": ["memory_limiter", "probabilistic_sampler", "resource", "batch"],
                    "exporters": ["otlp/jaeger"]},
                "metrics": {"receivers": ["otlp"],
                    "processors": ["memory_limiter", "resource", "batch"],
                    "exporters": ["prometheus"]},
            },
        },
    })
}

pub(super) fn otel_collector(s: &ObservabilitySettings) -> Result<Vec<Value>, ObservabilityError> {
    let name = "otel-collector";
    let config = to_yaml(
        "the OpenTelemetry Collector configuration",
        &otel_collector_config(s),
    )?;
    let container = json!({
        "name": "otel-collector",
        "image": s.images.otel_collector,
        "args": ["--config=/etc/otelcol/config.yaml"],
        "ports": [
            {"name": "grpc-otlp", "containerPort": 4317},
            {"name": "http-otlp", "containerPort": 4318},
            {"name": "http-prom", "containerPort": 8889},
            {"name": "http-health", "containerPort": 13133},
        ],
        "env": [{"name": "GOMEMLIMIT", "value": "400MiB"}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/otelcol", "readOnly": true}],
        "livenessProbe": http_probe("/", "http-health"),
        "readinessProbe": http_probe("/", "http-health"),
        "resources": Resources::new("200m", "256Mi", "1", "512Mi").to_json(),
    });
    Ok(vec![
        service_account(s, name),
        config_map(
            s,
            "otel-collector-config",
            "telemetry",
            BTreeMap::from([("config.yaml", config)]),
        ),
        deployment(
            s,
            Workload {
                name,
                component: "telemetry",
                replicas: 2,
                uid: 10001,
                container,
                volumes: json!([{"name": "config", "configMap": {"name": "otel-collector-config"}}]),
            },
        ),
        service(
            s,
            name,
            "telemetry",
            json!([
                {"name": "grpc-otlp", "port": 4317, "targetPort": "grpc-otlp"},
                {"name": "http-otlp", "port": 4318, "targetPort": "http-otlp"},
                {"name": "http-prom", "port": 8889, "targetPort": "http-prom"},
            ]),
        ),
    ])
}
