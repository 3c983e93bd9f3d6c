//! The cluster autoscaler: flags from node pools, the priority expander, RBAC, Deployment.

use super::*;

// ---------------------------------------------------------------------------------------
// cluster-autoscaler
// ---------------------------------------------------------------------------------------

/// The cloud provider the autoscaler drives (`--cloud-provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    /// AWS Auto Scaling groups.
    #[default]
    Aws,
}

impl CloudProvider {
    /// The flag's value.
    pub fn as_str(self) -> &'static str {
        match self {
            CloudProvider::Aws => "aws",
        }
    }
}

/// One node pool as the autoscaler sees it: an AWS Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NodePool {
    /// Pool name (a DNS label), e.g. `application`.
    pub name: String,
    /// Minimum node count.
    pub min_nodes: u32,
    /// Maximum node count.
    pub max_nodes: u32,
    /// Priority for the priority expander: when several pools could fit pending pods, the
    /// autoscaler grows the one with the highest priority.
    pub priority: u32,
    /// Whether the pool runs on spot capacity. On AWS this is the Auto Scaling group's
    /// (mixed instances) configuration; it does not change the autoscaler's flags.
    pub spot: bool,
    /// The Auto Scaling group's name. Given: the pool is registered explicitly with
    /// `--nodes=MIN:MAX:ASG` and its priority regex is `^ASG$`. Absent: the group is found
    /// by auto-discovery (tags `k8s.io/cluster-autoscaler/enabled` and
    /// `k8s.io/cluster-autoscaler/<clusterName>` on the group, whose own min/max sizes then
    /// apply) and the priority regex is `.*<name>.*` unless `nodeGroupRegex` is set.
    pub asg_name: Option<String>,
    /// Regular expression (Go RE2) matching this pool's Auto Scaling group names in the
    /// priority expander, overriding the default described at `asgName`.
    pub node_group_regex: Option<String>,
}

impl Default for NodePool {
    fn default() -> Self {
        Self {
            name: String::new(),
            min_nodes: 0,
            max_nodes: 1,
            priority: 0,
            spot: false,
            asg_name: None,
            node_group_regex: None,
        }
    }
}

impl NodePool {
    fn seed(name: &str, min: u32, max: u32, priority: u32, spot: bool) -> Self {
        Self {
            name: name.to_owned(),
            min_nodes: min,
            max_nodes: max,
            priority,
            spot,
            ..Self::default()
        }
    }

    /// The regular expression the priority expander matches this pool's node groups with.
    pub fn priority_regex(&self) -> String {
        if let Some(r) = &self.node_group_regex {
            return r.clone();
        }
        match &self.asg_name {
            Some(asg) => format!("^{}$", regex_escape(asg)),
            None => format!(".*{}.*", regex_escape(&self.name)),
        }
    }
}

pub(super) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Scale-down behaviour (`--scale-down-*`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ScaleDown {
    /// `--scale-down-enabled`.
    pub enabled: bool,
    /// `--scale-down-delay-after-add`: how long after a scale-up scale-down resumes.
    pub delay_after_add: String,
    /// `--scale-down-unneeded-time`: how long a node must be unneeded before removal.
    pub unneeded_time: String,
    /// `--scale-down-utilization-threshold`: requested/allocatable below which a node is a
    /// candidate for removal, in (0, 1].
    pub utilization_threshold: f64,
}

impl Default for ScaleDown {
    fn default() -> Self {
        Self {
            enabled: true,
            delay_after_add: "10m".into(),
            unneeded_time: "10m".into(),
            utilization_threshold: 0.5,
        }
    }
}

/// Container resources (requests and limits) as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Resources {
    /// CPU request.
    pub cpu_request: String,
    /// Memory request.
    pub memory_request: String,
    /// CPU limit (none when absent: throttling the autoscaler slows scale-ups).
    pub cpu_limit: Option<String>,
    /// Memory limit.
    pub memory_limit: String,
}

impl Resources {
    pub(super) fn to_json(&self, field: &str) -> Result<Value, OperationsError> {
        quantity(&format!("{field}.cpuRequest"), &self.cpu_request)?;
        quantity(&format!("{field}.memoryRequest"), &self.memory_request)?;
        quantity(&format!("{field}.memoryLimit"), &self.memory_limit)?;
        let mut limits = json!({"memory": self.memory_limit});
        if let Some(cpu) = &self.cpu_limit {
            quantity(&format!("{field}.cpuLimit"), cpu)?;
            limits["cpu"] = json!(cpu);
        }
        Ok(json!({
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": limits,
        }))
    }
}

/// The default is the upstream autoscaler example's: 100m CPU, 600Mi memory, no CPU limit.
impl Default for Resources {
    fn default() -> Self {
        autoscaler_resources()
    }
}

pub(super) fn autoscaler_resources() -> Resources {
    // The upstream AWS example's figures.
    Resources {
        cpu_request: "100m".into(),
        memory_request: "600Mi".into(),
        cpu_limit: None,
        memory_limit: "600Mi".into(),
    }
}

/// Settings of the cluster-autoscaler. The defaults are the seed's (section 2.2): cluster
/// `production-cluster`, its five pools and priorities, its scale-down timings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AutoscalerSettings {
    /// The cluster's name, used in the auto-discovery tag
    /// `k8s.io/cluster-autoscaler/<clusterName>`.
    pub cluster_name: String,
    /// `--cloud-provider`.
    pub cloud_provider: CloudProvider,
    /// The AWS region (`AWS_REGION` of the container).
    pub aws_region: String,
    /// Tag of `registry.k8s.io/autoscaling/cluster-autoscaler` (never `latest`).
    pub image_tag: String,
    /// Replicas (leader election keeps one active).
    pub replicas: u32,
    /// The node pools.
    pub node_pools: Vec<NodePool>,
    /// Scale-down behaviour.
    pub scale_down: ScaleDown,
    /// `--max-node-provision-time`.
    pub max_node_provision_time: String,
    /// `--skip-nodes-with-local-storage`.
    pub skip_nodes_with_local_storage: bool,
    /// `--skip-nodes-with-system-pods`.
    pub skip_nodes_with_system_pods: bool,
    /// `--balance-similar-node-groups`.
    pub balance_similar_node_groups: bool,
    /// Annotations of the ServiceAccount, e.g. `eks.amazonaws.com/role-arn` for IRSA (an
    /// identifier, not a secret).
    pub service_account_annotations: BTreeMap<String, String>,
    /// Node selector of the autoscaler's pods (e.g. the system pool).
    pub node_selector: BTreeMap<String, String>,
    /// The container's resources.
    pub resources: Resources,
}

impl Default for AutoscalerSettings {
    fn default() -> Self {
        Self {
            cluster_name: "production-cluster".into(),
            cloud_provider: CloudProvider::Aws,
            aws_region: "us-east-1".into(),
            image_tag: AUTOSCALER_DEFAULT_TAG.into(),
            replicas: 1,
            node_pools: seed_node_pools(),
            scale_down: ScaleDown::default(),
            max_node_provision_time: "15m".into(),
            skip_nodes_with_local_storage: false,
            skip_nodes_with_system_pods: false,
            balance_similar_node_groups: true,
            service_account_annotations: BTreeMap::new(),
            node_selector: BTreeMap::new(),
            resources: autoscaler_resources(),
        }
    }
}

/// The seed's node pools (section 2.2, `nodepool-scaling-policies`), found by
/// auto-discovery.
pub fn seed_node_pools() -> Vec<NodePool> {
    vec![
        NodePool::seed("system", 3, 5, 1000, false),
        NodePool::seed("application", 5, 100, 800, false),
        NodePool::seed("memory-optimized", 0, 20, 700, false),
        NodePool::seed("ml-workload", 0, 50, 600, true),
        NodePool::seed("batch-workload", 0, 200, 400, true),
    ]
}

pub(super) fn validate_asg_name(field: &str, asg: &str) -> Result<(), OperationsError> {
    // AWS allows 1-255 characters; `--nodes` separates fields with `:` and the flag
    // cannot carry whitespace or control characters safely.
    if asg.is_empty()
        || asg.len() > 255
        || asg
            .chars()
            .any(|c| c == ':' || c == ',' || c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            field,
            format!(
                "{asg:?} is not a usable Auto Scaling group name (1-255 characters, no `:`, `,` or whitespace)"
            ),
        ));
    }
    Ok(())
}

pub(super) fn validate_cluster_name(name: &str) -> Result<(), OperationsError> {
    // EKS: 1-100 characters, [0-9A-Za-z][A-Za-z0-9-_]*.
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "clusterName",
            format!("{name:?} is not a cluster name ([0-9A-Za-z][A-Za-z0-9_-]*, at most 100)"),
        ))
    }
}

impl AutoscalerSettings {
    /// Checks the settings; the first problem is returned.
    pub fn validate(&self) -> Result<(), OperationsError> {
        validate_cluster_name(&self.cluster_name)?;
        if self.aws_region.is_empty()
            || !self
                .aws_region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "awsRegion",
                format!("{:?} is not an AWS region", self.aws_region),
            ));
        }
        image_tag("imageTag", &self.image_tag)?;
        if self.replicas == 0 {
            return Err(invalid("replicas", "must be at least 1"));
        }
        if self.node_pools.is_empty() {
            return Err(invalid("nodePools", "at least one node pool is required"));
        }
        let mut names: BTreeMap<&str, String> = BTreeMap::new();
        let mut asgs: BTreeMap<&str, String> = BTreeMap::new();
        let mut priorities: BTreeMap<u32, String> = BTreeMap::new();
        for (i, p) in self.node_pools.iter().enumerate() {
            let at = format!("nodePools[{i}]");
            dns_label(format!("{at}.name"), &p.name)?;
            if let Some(first) = names.insert(&p.name, format!("{at}.name")) {
                return Err(OperationsError::Duplicate {
                    field: format!("{at}.name"),
                    value: p.name.clone(),
                    first,
                });
            }
            if p.min_nodes > p.max_nodes {
                return Err(OperationsError::MinAboveMax {
                    field: at,
                    min: p.min_nodes,
                    max: p.max_nodes,
                });
            }
            if p.max_nodes == 0 {
                return Err(invalid(format!("{at}.maxNodes"), "must be at least 1"));
            }
            // Equal priorities are legal for the expander (it picks randomly among them),
            // but the seed orders its pools strictly; a tie is almost always a typo.
            if let Some(first) = priorities.insert(p.priority, format!("{at}.priority")) {
                return Err(OperationsError::Duplicate {
                    field: format!("{at}.priority"),
                    value: p.priority.to_string(),
                    first,
                });
            }
            if let Some(asg) = &p.asg_name {
                validate_asg_name(&format!("{at}.asgName"), asg)?;
                if let Some(first) = asgs.insert(asg, format!("{at}.asgName")) {
                    return Err(OperationsError::Duplicate {
                        field: format!("{at}.asgName"),
                        value: asg.clone(),
                        first,
                    });
                }
            }
            if let Some(r) = &p.node_group_regex {
                // RE2 syntax is not checked here (no regex engine in this crate); only
                // what would break the ConfigMap's YAML or match everything.
                if r.trim().is_empty() || r.chars().any(char::is_control) || r == ".*" {
                    return Err(invalid(
                        format!("{at}.nodeGroupRegex"),
                        format!("{r:?} must be a non-empty, single-line, selective regex"),
                    ));
                }
            }
        }
        let sd = &self.scale_down;
        duration("scaleDown.delayAfterAdd", &sd.delay_after_add)?;
        duration("scaleDown.unneededTime", &sd.unneeded_time)?;
        if !(sd.utilization_threshold > 0.0 && sd.utilization_threshold <= 1.0) {
            return Err(invalid(
                "scaleDown.utilizationThreshold",
                format!("{} is not in (0, 1]", sd.utilization_threshold),
            ));
        }
        duration("maxNodeProvisionTime", &self.max_node_provision_time)?;
        for (k, v) in &self.service_account_annotations {
            if k.is_empty() || v.chars().any(char::is_control) {
                return Err(invalid(
                    format!("serviceAccountAnnotations.{k}"),
                    "empty key or control characters",
                ));
            }
        }
        Ok(())
    }

    /// The autoscaler's command-line flags, in a fixed order.
    pub fn flags(&self) -> Vec<String> {
        let sd = &self.scale_down;
        let mut f = vec![
            format!("--cloud-provider={}", self.cloud_provider.as_str()),
            format!("--namespace={AUTOSCALER_NAMESPACE}"),
        ];
        for p in &self.node_pools {
            if let Some(asg) = &p.asg_name {
                f.push(format!("--nodes={}:{}:{}", p.min_nodes, p.max_nodes, asg));
            }
        }
        if self.node_pools.iter().any(|p| p.asg_name.is_none()) {
            f.push(format!(
                "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{}",
                self.cluster_name
            ));
        }
        f.extend([
            "--expander=priority".to_owned(),
            format!("--scale-down-enabled={}", sd.enabled),
            format!("--scale-down-delay-after-add={}", sd.delay_after_add),
            format!("--scale-down-unneeded-time={}", sd.unneeded_time),
            format!(
                "--scale-down-utilization-threshold={}",
                sd.utilization_threshold
            ),
            format!("--max-node-provision-time={}", self.max_node_provision_time),
            format!(
                "--skip-nodes-with-local-storage={}",
                self.skip_nodes_with_local_storage
            ),
            format!(
                "--skip-nodes-with-system-pods={}",
                self.skip_nodes_with_system_pods
            ),
            format!(
                "--balance-similar-node-groups={}",
                self.balance_similar_node_groups
            ),
            "--leader-elect=true".to_owned(),
            "--logtostderr=true".to_owned(),
            "--stderrthreshold=info".to_owned(),
            "--v=4".to_owned(),
        ]);
        f
    }

    /// The priority expander's `priorities` text: a YAML map from priority to the regular
    /// expressions of the node groups that have it (higher wins).
    pub fn priorities_yaml(&self) -> Result<String, OperationsError> {
        let mut map: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for p in &self.node_pools {
            map.entry(p.priority).or_default().push(p.priority_regex());
        }
        yaml_text("priority expander priorities", &map)
    }
}

pub(super) fn autoscaler_labels() -> Value {
    json!({
        "app.kubernetes.io/name": AUTOSCALER_NAME,
        "app.kubernetes.io/component": "autoscaler",
    })
}

pub(super) fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

pub(super) fn named_rule(
    groups: &[&str],
    resources: &[&str],
    names: &[&str],
    verbs: &[&str],
) -> Value {
    json!({"apiGroups": groups, "resources": resources, "resourceNames": names, "verbs": verbs})
}

/// The cluster-autoscaler's objects: ServiceAccount, ClusterRole and ClusterRoleBinding,
/// Role and RoleBinding in `kube-system` (its status and priority ConfigMaps, its
/// leader-election lease), the priority expander's ConfigMap, the Deployment and its
/// PodDisruptionBudget. The `cluster-autoscaler-status` ConfigMap is not rendered: the
/// autoscaler writes it.
pub fn cluster_autoscaler(settings: &AutoscalerSettings) -> Result<Vec<Value>, OperationsError> {
    settings.validate()?;
    let ns = AUTOSCALER_NAMESPACE;
    let name = AUTOSCALER_NAME;
    let labels = autoscaler_labels();

    let mut sa_meta = json!({"name": name, "namespace": ns, "labels": labels});
    if !settings.service_account_annotations.is_empty() {
        sa_meta["annotations"] = json!(settings.service_account_annotations);
    }
    let service_account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": sa_meta});

    // The upstream chart's cluster-scoped rules (charts/cluster-autoscaler clusterrole.yaml),
    // minus the lease rules, which are namespaced below as the chart does when not
    // cluster-scoped: the lease lives in kube-system.
    let cluster_role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels},
        "rules": [
            rule(&[""], &["events", "endpoints"], &["create", "patch"]),
            rule(&[""], &["pods/eviction"], &["create"]),
            rule(&[""], &["pods/status"], &["update"]),
            named_rule(&[""], &["endpoints"], &[name], &["get", "update"]),
            rule(&[""], &["nodes"], &["watch", "list", "get", "update"]),
            rule(&[""], &["namespaces", "pods", "services", "replicationcontrollers",
                "persistentvolumeclaims", "persistentvolumes"], &["watch", "list", "get"]),
            rule(&["batch"], &["jobs", "cronjobs"], &["watch", "list", "get"]),
            rule(&["batch", "extensions"], &["jobs"], &["get", "list", "patch", "watch"]),
            rule(&["extensions"], &["replicasets", "daemonsets"], &["watch", "list", "get"]),
            rule(&["policy"], &["poddisruptionbudgets"], &["watch", "list"]),
            rule(&["apps"], &["daemonsets", "replicasets", "statefulsets"], &["watch", "list", "get"]),
            rule(&["storage.k8s.io"], &["storageclasses", "csinodes", "csidrivers",
                "csistoragecapacities"], &["watch", "list", "get"]),
            // The chart grants configmaps list/watch cluster-wide; the autoscaler's
            // informers for them are not namespace-restricted in every version.
            rule(&[""], &["configmaps"], &["list", "watch"]),
        ],
    });
    let cluster_role_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
    });
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "rules": [
            rule(&[""], &["configmaps"], &["create", "list", "watch"]),
            named_rule(&[""], &["configmaps"],
                &[AUTOSCALER_STATUS_CONFIGMAP, PRIORITY_EXPANDER_CONFIGMAP],
                &["delete", "get", "update", "watch"]),
            rule(&["coordination.k8s.io"], &["leases"], &["create"]),
            named_rule(&["coordination.k8s.io"], &["leases"], &[name], &["get", "update"]),
        ],
    });
    let role_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
    });
    let priorities = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": PRIORITY_EXPANDER_CONFIGMAP, "namespace": ns, "labels": labels},
        "data": {"priorities": settings.priorities_yaml()?},
    });

    let resources = settings.resources.to_json("resources")?;
    let mut pod_spec = json!({
        "serviceAccountName": name,
        "priorityClassName": "system-cluster-critical",
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [{
            "name": name,
            "image": format!("{AUTOSCALER_IMAGE}:{}", settings.image_tag),
            "imagePullPolicy": "IfNotPresent",
            "command": ["/cluster-autoscaler"],
            "args": settings.flags(),
            "env": [{"name": "AWS_REGION", "value": settings.aws_region}],
            "ports": [{"name": "http", "containerPort": 8085, "protocol": "TCP"}],
            "livenessProbe": {
                "httpGet": {"path": "/health-check", "port": "http"},
                "initialDelaySeconds": 30,
                "periodSeconds": 10,
            },
            "resources": resources,
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "capabilities": {"drop": ["ALL"]},
            },
        }],
    });
    if !settings.node_selector.is_empty() {
        pod_spec["nodeSelector"] = json!(settings.node_selector);
    }
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": settings.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {
                    "labels": labels,
                    // The autoscaler must not evict itself when draining its own node.
                    "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
                },
                "spec": pod_spec,
            },
        },
    });
    let pdb = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
        },
    });
    Ok(vec![
        service_account,
        cluster_role,
        cluster_role_binding,
        role,
        role_binding,
        priorities,
        deployment,
        pdb,
    ])
}
