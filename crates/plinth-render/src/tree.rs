//! The platform as a GitOps tree: one folder per concern, each with a kustomization, a
//! root kustomization over the folders, and the API server's configuration files (audit
//! policy, encryption) kept apart from what is applied.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::platform::{Access, Platform};

/// Label on every rendered object: the platform it belongs to.
pub const PART_OF: &str = "app.kubernetes.io/part-of";
/// Label on every rendered object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Why a tree could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A shipped policy file did not read.
    #[error("shipped policies: {0}")]
    Policies(String),
    /// A component's settings are invalid.
    #[error("{0}")]
    Settings(String),
    /// YAML serialisation failed.
    #[error("serialising {file}: {message}")]
    Yaml {
        /// The file being written.
        file: String,
        /// The serialiser's message.
        message: String,
    },
}

/// What a render produces: files by path relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// Path → contents.
    pub files: BTreeMap<String, String>,
}

/// Other capabilities' objects to include, already produced by their engines.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Zero-trust objects by file (from `plinth_netpol::intent::compile`), placed under
    /// `zero-trust/`.
    pub zero_trust: BTreeMap<String, String>,
}

struct Builder {
    platform: String,
    folders: BTreeMap<String, Vec<(String, Value)>>,
}

impl Builder {
    fn add(&mut self, folder: &str, file: &str, mut object: Value) {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert(PART_OF.into(), Value::String(self.platform.clone()));
                l.insert(MANAGED_BY.into(), "plinth".into());
            }
        }
        self.folders
            .entry(folder.to_owned())
            .or_default()
            .push((file.to_owned(), object));
    }
}

fn yaml(file: &str, v: &Value) -> Result<String, RenderError> {
    serde_saphyr::to_string(v).map_err(|e| RenderError::Yaml {
        file: file.to_owned(),
        message: e.to_string(),
    })
}

fn kustomization(resources: &[String]) -> Value {
    json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    })
}

/// Renders `platform` (plus `extras`) into a tree.
pub fn render(platform: &Platform, extras: &Extras) -> Result<Tree, RenderError> {
    let mut b = Builder {
        platform: platform.name.clone(),
        folders: BTreeMap::new(),
    };
    let spec = &platform.spec;
    for ns in &spec.namespaces {
        let mut labels = ns.labels.clone();
        labels.insert(
            "pod-security.kubernetes.io/enforce".into(),
            ns.pod_security.as_str().into(),
        );
        labels.insert(
            "pod-security.kubernetes.io/enforce-version".into(),
            "latest".into(),
        );
        labels.insert(
            "pod-security.kubernetes.io/audit".into(),
            "restricted".into(),
        );
        labels.insert(
            "pod-security.kubernetes.io/warn".into(),
            "restricted".into(),
        );
        for f in &ns.compliance {
            labels.insert(
                format!("compliance.plinth.io/{}", f.to_ascii_lowercase()),
                "true".into(),
            );
        }
        b.add(
            "namespaces",
            &format!("{}.yaml", ns.name),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns.name, "labels": labels}}),
        );
        if let Some(q) = &ns.quota {
            // A PriorityClass scope applies to pods only: the API server refuses a scoped
            // quota that also counts services, claims or object counts (the seed's quotas
            // do). Those go into a second, unscoped quota.
            let (pod, other): (BTreeMap<_, _>, BTreeMap<_, _>) = q
                .hard
                .iter()
                .partition(|(k, _)| q.priority_classes.is_empty() || is_pod_resource(k));
            if !pod.is_empty() {
                let mut spec_q = json!({"hard": pod});
                if !q.priority_classes.is_empty() {
                    spec_q["scopeSelector"] = json!({"matchExpressions": [
                        {"scopeName": "PriorityClass", "operator": "In", "values": q.priority_classes}
                    ]});
                }
                b.add(
                    "quotas",
                    &format!("{}.yaml", ns.name),
                    json!({"apiVersion": "v1", "kind": "ResourceQuota",
                        "metadata": {"name": "compute", "namespace": ns.name}, "spec": spec_q}),
                );
            }
            if !other.is_empty() {
                b.add(
                    "quotas",
                    &format!("{}.yaml", ns.name),
                    json!({"apiVersion": "v1", "kind": "ResourceQuota",
                        "metadata": {"name": "objects", "namespace": ns.name},
                        "spec": {"hard": other}}),
                );
            }
        }
        if let Some(l) = &ns.limits {
            let mut item = json!({"type": "Container"});
            for (key, map) in [
                ("defaultRequest", &l.default_request),
                ("default", &l.default_limit),
                ("max", &l.max),
            ] {
                if !map.is_empty() {
                    item[key] = json!(map);
                }
            }
            b.add(
                "quotas",
                &format!("{}.yaml", ns.name),
                json!({"apiVersion": "v1", "kind": "LimitRange",
                    "metadata": {"name": "container-defaults", "namespace": ns.name},
                    "spec": {"limits": [item]}}),
            );
        }
    }
    if spec.priority_classes {
        for pc in plinth_sched::priority::PriorityClasses::seed().to_k8s() {
            let mut v =
                serde_json::to_value(&pc).map_err(|e| RenderError::Policies(e.to_string()))?;
            v["apiVersion"] = json!("scheduling.k8s.io/v1");
            v["kind"] = json!("PriorityClass");
            b.add("priority-classes", "priority-classes.yaml", v);
        }
    }
    for pdb in &spec.disruption_budgets {
        let mut s = json!({"selector": {"matchLabels": pdb.selector}});
        for (key, value) in [
            ("minAvailable", &pdb.min_available),
            ("maxUnavailable", &pdb.max_unavailable),
        ] {
            if let Some(v) = value {
                s[key] = int_or_string(v);
            }
        }
        b.add(
            "disruption-budgets",
            &format!("{}.yaml", pdb.namespace),
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": pdb.name, "namespace": pdb.namespace}, "spec": s}),
        );
    }
    for a in &spec.autoscalers {
        let mut metrics = Vec::new();
        for (name, target) in [("cpu", a.cpu_utilization), ("memory", a.memory_utilization)] {
            if let Some(t) = target {
                metrics.push(json!({"type": "Resource", "resource": {"name": name,
                    "target": {"type": "Utilization", "averageUtilization": t}}}));
            }
        }
        // The seed's behaviour: scale down slowly (at most 50% or 2 pods a minute, the
        // smaller, after 5 minutes of stability), scale up fast (100% or 4 pods per 15 s,
        // the larger).
        b.add(
            "autoscaling",
            &format!("{}.yaml", a.namespace),
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": a.name, "namespace": a.namespace},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": a.deployment},
                    "minReplicas": a.min_replicas, "maxReplicas": a.max_replicas,
                    "metrics": metrics,
                    "behavior": {
                        "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Min", "policies": [
                            {"type": "Percent", "value": 50, "periodSeconds": 60},
                            {"type": "Pods", "value": 2, "periodSeconds": 60}]},
                        "scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                            {"type": "Percent", "value": 100, "periodSeconds": 15},
                            {"type": "Pods", "value": 4, "periodSeconds": 15}]},
                    }}}),
        );
    }
    for v in &spec.vertical_autoscalers {
        let mut policy = json!({"containerName": "*", "controlledResources": ["cpu", "memory"],
            "controlledValues": "RequestsAndLimits"});
        if !v.min_allowed.is_empty() {
            policy["minAllowed"] = json!(v.min_allowed);
        }
        if !v.max_allowed.is_empty() {
            policy["maxAllowed"] = json!(v.max_allowed);
        }
        b.add(
            "autoscaling",
            &format!("{}.yaml", v.namespace),
            json!({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                "metadata": {"name": v.name, "namespace": v.namespace},
                "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": v.deployment},
                    "updatePolicy": {"updateMode": v.update_mode},
                    "resourcePolicy": {"containerPolicies": [policy]}}}),
        );
    }
    rbac(&mut b, &spec.access);
    policies(&mut b, &spec.allowed_registries)?;
    let named = |o: &Value| {
        o["metadata"]["name"]
            .as_str()
            .unwrap_or("object")
            .to_owned()
    };
    for o in crate::observability::observability(&spec.observability)
        .map_err(|e| RenderError::Settings(format!("spec.observability: {e}")))?
    {
        let kind = o["kind"].as_str().unwrap_or("object").to_ascii_lowercase();
        b.add("observability", &format!("{kind}-{}.yaml", named(&o)), o);
    }
    for o in crate::operations::cluster_autoscaler(&spec.cluster_autoscaler)
        .map_err(|e| RenderError::Settings(format!("spec.clusterAutoscaler: {e}")))?
    {
        b.add("cluster-autoscaler", "cluster-autoscaler.yaml", o);
    }
    // Falco and trivy-operator run in namespaces of their own; Falco's sensors need
    // host access, so its namespace is privileged. The platform owns them (the `owner`
    // label the shipped required-labels constraint asks every namespace for).
    for (ns, level) in [
        (&spec.falco.namespace, "privileged"),
        (&spec.trivy.namespace, "restricted"),
    ] {
        b.add(
            "namespaces",
            &format!("{ns}.yaml"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
                "owner": platform.name,
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted"}}}),
        );
    }
    for o in crate::operations::falco(&spec.falco)
        .map_err(|e| RenderError::Settings(format!("spec.falco: {e}")))?
    {
        b.add("security", "falco.yaml", o);
    }
    for o in crate::operations::trivy(&spec.trivy)
        .map_err(|e| RenderError::Settings(format!("spec.trivy: {e}")))?
    {
        b.add("security", "trivy-operator.yaml", o);
    }
    let monitoring = &spec.monitoring;
    let settings_err = |e: crate::monitoring::MonitoringError| {
        RenderError::Settings(format!("spec.monitoring: {e}"))
    };
    for o in crate::monitoring::prometheus_rules(monitoring).map_err(settings_err)? {
        let name = o["metadata"]["name"].as_str().unwrap_or("rules").to_owned();
        b.add("monitoring", &format!("{name}.yaml"), o);
    }
    // Alertmanager reads its configuration from this Secret (the Prometheus Operator's
    // convention); the configuration refers to credentials only by file.
    b.add(
        "monitoring",
        "alertmanager-main.yaml",
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": spec.observability.alertmanager.config_secret, "namespace": monitoring.namespace},
            "stringData": {"alertmanager.yaml": crate::monitoring::alertmanager_yaml(monitoring).map_err(settings_err)?}}),
    );

    let mut tree = Tree::default();
    let mut folders: Vec<String> = Vec::new();
    for (folder, objects) in b.folders {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for (file, object) in &objects {
            let path = format!("{folder}/{file}");
            let text = files.entry(file.clone()).or_default();
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(&yaml(&path, object)?);
        }
        let names: Vec<String> = files.keys().cloned().collect();
        for (file, text) in files {
            tree.files.insert(format!("{folder}/{file}"), text);
        }
        let k = format!("{folder}/kustomization.yaml");
        tree.files
            .insert(k.clone(), yaml(&k, &kustomization(&names))?);
        folders.push(folder);
    }
    if !extras.zero_trust.is_empty() {
        for (file, text) in &extras.zero_trust {
            tree.files
                .insert(format!("zero-trust/{file}"), text.clone());
        }
        folders.push("zero-trust".to_owned());
    }
    folders.sort();
    tree.files.insert(
        "kustomization.yaml".into(),
        yaml("kustomization.yaml", &kustomization(&folders))?,
    );
    tree.files.insert(
        "control-plane/audit-policy.yaml".into(),
        yaml("control-plane/audit-policy.yaml", &audit_policy(platform))?,
    );
    Ok(tree)
}

/// Whether a quota resource is counted on pods (the only kind a scoped quota may hold).
fn is_pod_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "pods" | "ephemeral-storage")
        || name.starts_with("requests.")
        || name.starts_with("limits.")
        || name.starts_with("hugepages-")
}

fn int_or_string(v: &str) -> Value {
    v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n))
}

fn rbac(b: &mut Builder, access: &[Access]) {
    let mut operator_needed = false;
    for a in access {
        let role = if a.role == "platform-operator" {
            operator_needed = true;
            "plinth:platform-operator".to_owned()
        } else {
            a.role.clone()
        };
        let slug = a
            .group
            .to_ascii_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let subject =
            json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": a.group}]);
        if a.namespaces.is_empty() {
            b.add(
                "rbac",
                "cluster.yaml",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": format!("{slug}-{}", a.role)},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": subject}),
            );
        } else {
            for ns in &a.namespaces {
                b.add(
                    "rbac",
                    &format!("{ns}.yaml"),
                    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                        "metadata": {"name": format!("{slug}-{}", a.role), "namespace": ns},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                        "subjects": subject}),
                );
            }
        }
    }
    if operator_needed {
        // Operators run the platform: read everything but Secrets' contents, manage the
        // platform's own policy objects; no exec, no impersonation, no RBAC writes.
        b.add(
            "rbac",
            "cluster.yaml",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "plinth:platform-operator"},
            "rules": [
                {"apiGroups": ["", "apps", "batch", "policy", "autoscaling", "networking.k8s.io",
                    "scheduling.k8s.io", "storage.k8s.io", "autoscaling.k8s.io"],
                 "resources": ["configmaps", "endpoints", "events", "limitranges", "namespaces",
                    "nodes", "persistentvolumeclaims", "persistentvolumes", "pods", "pods/log",
                    "replicationcontrollers", "resourcequotas", "serviceaccounts", "services",
                    "daemonsets", "deployments", "replicasets", "statefulsets", "cronjobs", "jobs",
                    "poddisruptionbudgets", "horizontalpodautoscalers", "networkpolicies",
                    "ingresses", "priorityclasses", "storageclasses", "verticalpodautoscalers"],
                 "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["templates.gatekeeper.sh", "constraints.gatekeeper.sh", "plinth.dev",
                    "monitoring.coreos.com"],
                 "resources": ["*"],
                 "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]},
            ]}),
        );
    }
}

fn policies(b: &mut Builder, registries: &[String]) -> Result<(), RenderError> {
    use plinth_guard::library;
    for (file, yaml) in library::TEMPLATES {
        for doc in
            library::documents(file, yaml).map_err(|e| RenderError::Policies(e.to_string()))?
        {
            b.add("policy/templates", file, doc);
        }
    }
    for (file, yaml) in [
        ("seed.yaml", library::SEED_CONSTRAINTS),
        ("library.yaml", library::LIBRARY_CONSTRAINTS),
    ] {
        for mut doc in
            library::documents(file, yaml).map_err(|e| RenderError::Policies(e.to_string()))?
        {
            if doc["kind"] == "AllowedImageRegistries" && !registries.is_empty() {
                doc["spec"]["parameters"]["registries"] = json!(registries);
            }
            b.add("policy/constraints", file, doc);
        }
    }
    Ok(())
}

/// The API server's audit policy: no bodies for Secrets, ConfigMaps and token reviews
/// (they hold credentials), request and response bodies for writes in sensitive
/// namespaces, metadata for everything else, nothing for health checks and the noisiest
/// system reads.
fn audit_policy(platform: &Platform) -> Value {
    let mut rules = vec![
        json!({"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics"]}),
        json!({"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"],
            "resources": [{"group": "", "resources": ["endpoints", "services", "services/status"]}]}),
        json!({"level": "None", "userGroups": ["system:nodes"], "verbs": ["get"],
            "resources": [{"group": "", "resources": ["nodes", "nodes/status"]}]}),
        json!({"level": "Metadata", "resources": [
            {"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
            {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]}),
    ];
    if !platform.spec.audit.sensitive_namespaces.is_empty() {
        rules.push(json!({"level": "RequestResponse",
            "verbs": ["create", "update", "patch", "delete", "deletecollection"],
            "namespaces": platform.spec.audit.sensitive_namespaces}));
    }
    rules.push(json!({"level": "Metadata", "omitStages": ["RequestReceived"]}));
    json!({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
        "omitStages": ["RequestReceived"], "rules": rules})
}

/// The API server's EncryptionConfiguration: the KMS v2 plugin when configured, else
/// `secretbox` (XSalsa20-Poly1305, the strongest local provider; AES-CBC is not
/// recommended upstream and AES-GCM needs rotation every 200k writes) with `key` (32
/// random bytes the caller generated); `identity` last, so data written before
/// encryption stays readable.
pub fn encryption_config(platform: &Platform, key: &[u8; 32]) -> Value {
    use base64::Engine as _;
    let provider = match &platform.spec.encryption.kms {
        Some(k) => {
            json!({"kms": {"apiVersion": "v2", "name": k.name, "endpoint": k.endpoint, "timeout": "3s"}})
        }
        None => json!({"secretbox": {"keys": [{"name": "key1",
            "secret": base64::engine::general_purpose::STANDARD.encode(key)}]}}),
    };
    json!({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": platform.spec.encryption.resources,
            "providers": [provider, {"identity": {}}]}]})
}
