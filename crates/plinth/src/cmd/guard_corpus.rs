//! The admission requests the guard benchmark sends: a deterministic mix shaped like a
//! busy platform's traffic — mostly compliant pods, pods with one typical defect, workload
//! creates and updates (checked on their pod templates), and other objects the shipped
//! constraints look at. Bodies are realistic in size (labels, annotations, env, probes).

use plinth_core::rng::SplitMix64;
use serde_json::{Value, json};

/// Namespaces the requests land in, with the Pod Security labels each carries.
pub const NAMESPACES: &[(&str, &[(&str, &str)])] = &[
    (
        "production-workloads",
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    ),
    (
        "critical-workloads",
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    ),
    (
        "shop",
        &[
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/enforce-version", "v1.30"),
        ],
    ),
    (
        "monitoring",
        &[
            ("pod-security.kubernetes.io/enforce", "baseline"),
            ("pod-security.kubernetes.io/warn", "restricted"),
        ],
    ),
    (
        "kube-system",
        &[("pod-security.kubernetes.io/enforce", "privileged")],
    ),
];

const APP_NAMESPACES: &[&str] = &["production-workloads", "critical-workloads", "shop"];
const APPS: &[&str] = &[
    "checkout", "cart", "catalog", "search", "payments", "ledger", "auth", "gateway",
];
const DEFECTS: &[&str] = &[
    "privileged",
    "host-network",
    "docker-hub",
    "latest-tag",
    "sys-admin",
    "host-path",
    "root-user",
    "no-seccomp",
    "escalation",
    "no-limits",
];

fn compliant_container(rng: &mut SplitMix64, name: &str, app: &str) -> Value {
    let version = format!("v1.{}.{}", rng.below(20), rng.below(10));
    json!({
        "name": name,
        "image": format!("company-registry.example.com/{app}/{name}:{version}"),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "APP_NAME", "value": app},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{app}-db"), "key": "password"}}},
        ],
        "resources": {
            "requests": {"cpu": format!("{}m", 100 + 50 * rng.below(8)), "memory": format!("{}Mi", 128 * (1 + rng.below(4)))},
            "limits": {"cpu": "1", "memory": format!("{}Mi", 512 * (1 + rng.below(2)))},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 10},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        },
    })
}

fn pod_spec(rng: &mut SplitMix64, app: &str, defect: Option<&str>) -> Value {
    let mut containers = vec![compliant_container(rng, "app", app)];
    if rng.below(3) == 0 {
        containers.push(compliant_container(rng, "proxy", app));
    }
    let mut spec = json!({
        "serviceAccountName": app,
        "automountServiceAccountToken": false,
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 1000 + rng.below(1000),
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        "priorityClassName": "medium",
        "terminationGracePeriodSeconds": 30,
    });
    if rng.below(4) == 0 {
        spec["initContainers"] = json!([compliant_container(rng, "migrate", app)]);
    }
    let first = &mut spec["containers"][0];
    match defect {
        Some("privileged") => first["securityContext"]["privileged"] = json!(true),
        Some("host-network") => {
            spec["hostNetwork"] = json!(true);
            spec["containers"][0]["ports"][0]["hostPort"] = json!(8080);
        }
        Some("docker-hub") => {
            first["image"] = json!(format!("docker.io/library/nginx:1.{}", 20 + rng.below(8)))
        }
        Some("latest-tag") => {
            first["image"] = json!(format!("company-registry.example.com/{app}/app:latest"))
        }
        Some("sys-admin") => {
            first["securityContext"]["capabilities"]["add"] = json!(["SYS_ADMIN", "NET_ADMIN"])
        }
        Some("host-path") => {
            if let Some(v) = spec["volumes"].as_array_mut() {
                v.push(json!({"name": "host", "hostPath": {"path": "/var/run"}}));
            }
        }
        Some("root-user") => spec["securityContext"]["runAsUser"] = json!(0),
        Some("no-seccomp") => {
            if let Some(sc) = spec["securityContext"].as_object_mut() {
                sc.remove("seccompProfile");
            }
        }
        Some("escalation") => first["securityContext"]["allowPrivilegeEscalation"] = json!(true),
        Some("no-limits") => {
            if let Some(r) = first.get_mut("resources").and_then(Value::as_object_mut) {
                r.remove("limits");
            }
        }
        _ => {}
    }
    spec
}

fn metadata(rng: &mut SplitMix64, name: &str, namespace: &str, app: &str) -> Value {
    json!({
        "name": name,
        "namespace": namespace,
        "uid": format!("00000000-0000-4000-8000-{:012x}", rng.next_u64() & 0xffff_ffff_ffff),
        "labels": {
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/part-of": "shop",
            "app.kubernetes.io/version": format!("1.{}", rng.below(20)),
            "owner": "team-commerce",
        },
        "annotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "9090",
            "kubectl.kubernetes.io/default-container": "app",
        },
    })
}

fn review(
    uid: u64,
    (group, version, kind, resource): (&str, &str, &str, &str),
    operation: &str,
    namespace: &str,
    name: &str,
    object: Value,
    old: Option<Value>,
) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("bench-{uid:08}"),
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {
                "username": "system:serviceaccount:argocd:argocd-application-controller",
                "uid": "7d1e9c0a-5f55-4a53-9f5e-2f1f3c4c8b1a",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"],
            },
            "object": object,
            "oldObject": old,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        }
    })
}

/// `n` AdmissionReview bodies from `seed`: 45% compliant pods, 20% pods with one
/// defect, 25% workloads (half of them updates), 10% services, ingresses and
/// namespaces.
pub fn reviews(n: usize, seed: u64) -> Vec<Value> {
    let mut rng = SplitMix64::new(seed);
    (0..n as u64)
        .map(|i| {
            let roll = rng.below(100);
            let app = rng.pick(APPS);
            let ns = if rng.below(20) == 0 {
                rng.pick(&["monitoring", "kube-system"])
            } else {
                rng.pick(APP_NAMESPACES)
            };
            let suffix = format!("{:05x}", rng.below(1 << 20));
            if roll < 65 {
                let defect = (roll >= 45).then(|| rng.pick(DEFECTS));
                let name = format!("{app}-{suffix}");
                let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": metadata(&mut rng, &name, ns, app),
                    "spec": pod_spec(&mut rng, app, defect)});
                pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": format!("{app}-7d9f8c6b5"), "uid": "3b0c5a1e-0000-4000-8000-000000000001",
                    "controller": true, "blockOwnerDeletion": true}]);
                review(
                    i,
                    ("", "v1", "Pod", "pods"),
                    "CREATE",
                    ns,
                    &name,
                    pod,
                    None,
                )
            } else if roll < 90 {
                let (group, kind, resource) = match rng.below(4) {
                    0 => ("apps", "StatefulSet", "statefulsets"),
                    1 => ("batch", "Job", "jobs"),
                    _ => ("apps", "Deployment", "deployments"),
                };
                let defect = (rng.below(3) == 0).then(|| rng.pick(DEFECTS));
                let labels = json!({"app.kubernetes.io/name": app});
                let mut object = json!({"apiVersion": format!("{group}/v1"), "kind": kind,
                    "metadata": metadata(&mut rng, app, ns, app),
                    "spec": {"template": {"metadata": {"labels": labels}, "spec": pod_spec(&mut rng, app, defect)}}});
                if kind != "Job" {
                    object["spec"]["replicas"] = json!(2 + rng.below(4));
                    object["spec"]["selector"] = json!({"matchLabels": labels});
                }
                let update = rng.below(2) == 0;
                let old = update.then(|| {
                    let mut old = object.clone();
                    old["spec"]["template"]["spec"]["containers"][0]["image"] =
                        json!(format!("company-registry.example.com/{app}/app:v0.9.0"));
                    old
                });
                review(
                    i,
                    (group, "v1", kind, resource),
                    if update { "UPDATE" } else { "CREATE" },
                    ns,
                    app,
                    object,
                    old,
                )
            } else {
                match rng.below(3) {
                    0 => {
                        let kind = rng.pick(&["ClusterIP", "ClusterIP", "NodePort"]);
                        let object = json!({"apiVersion": "v1", "kind": "Service",
                            "metadata": metadata(&mut rng, app, ns, app),
                            "spec": {"type": kind, "selector": {"app.kubernetes.io/name": app},
                                "ports": [{"port": 80, "targetPort": 8080}]}});
                        review(
                            i,
                            ("", "v1", "Service", "services"),
                            "CREATE",
                            ns,
                            app,
                            object,
                            None,
                        )
                    }
                    1 => {
                        let object = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                            "metadata": metadata(&mut rng, app, ns, app),
                            "spec": {"rules": [{"host": format!("{app}-{suffix}.example.com"),
                                "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                    "backend": {"service": {"name": app, "port": {"number": 80}}}}]}}]}});
                        review(
                            i,
                            ("networking.k8s.io", "v1", "Ingress", "ingresses"),
                            "CREATE",
                            ns,
                            app,
                            object,
                            None,
                        )
                    }
                    _ => {
                        let name = format!("team-{suffix}");
                        let mut labels = json!({"pod-security.kubernetes.io/enforce": "restricted"});
                        if rng.below(4) != 0 {
                            labels["owner"] = json!("team-commerce");
                        }
                        let object = json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": name, "labels": labels}});
                        review(
                            i,
                            ("", "v1", "Namespace", "namespaces"),
                            "CREATE",
                            "",
                            &name,
                            object,
                            None,
                        )
                    }
                }
            }
        })
        .collect()
}
