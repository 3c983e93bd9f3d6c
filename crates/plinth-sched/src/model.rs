//! The engine's own view of nodes and pods: compiled once from the Kubernetes objects
//! (selectors validated, quantities parsed, priority resolved, profile chosen) so the
//! scheduling cycle never re-parses anything.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;
use plinth_core::selector::{Selector, SelectorError};

use crate::priority::{PreemptionPolicy, PriorityClasses};
use crate::profile::{Profiles, WorkloadProfile};
use crate::resources::{PodRequests, ResourceError, Resources, pod_requests};

/// `topology.kubernetes.io/zone`.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The deprecated zone label, read when the current one is missing.
pub const BETA_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";
/// `kubernetes.io/hostname`.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// A taint's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    /// New pods that do not tolerate it are not scheduled.
    NoSchedule,
    /// The scheduler avoids the node when it can.
    PreferNoSchedule,
    /// Like `NoSchedule`, and running pods are evicted.
    NoExecute,
}

impl TaintEffect {
    fn parse(s: &str) -> Option<TaintEffect> {
        match s {
            "NoSchedule" => Some(TaintEffect::NoSchedule),
            "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
            "NoExecute" => Some(TaintEffect::NoExecute),
            _ => None,
        }
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// A pod toleration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Toleration {
    /// Key; empty with `Exists` tolerates every taint.
    pub key: String,
    /// `Exists` (any value) rather than `Equal`.
    pub exists: bool,
    /// Value for `Equal`.
    pub value: String,
    /// Effect; `None` matches every effect.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// Upstream `Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        self.exists || self.value == taint.value
    }
}

/// Whether some toleration tolerates the taint.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// A host port a pod binds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP; `0.0.0.0` for all.
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two bindings collide (same protocol and port, and the same IP or either on
    /// all addresses).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A node as the engine sees it.
#[derive(Debug, Clone)]
pub struct Node {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// `status.allocatable`.
    pub allocatable: Resources,
}

impl Node {
    /// The node's zone (`topology.kubernetes.io/zone`, else the deprecated beta label).
    pub fn zone(&self) -> Option<&str> {
        self.labels
            .get(ZONE_LABEL)
            .or_else(|| self.labels.get(BETA_ZONE_LABEL))
            .map(String::as_str)
    }
}

/// Why an object could not be compiled, with the JSON path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    /// Path segments inside the object (`["spec", "taints", "0", "effect"]`).
    pub path: Vec<String>,
    /// What is wrong.
    pub message: String,
}

fn model_err(path: &[&str], message: impl Into<String>) -> ModelError {
    ModelError {
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        message: message.into(),
    }
}

impl Node {
    /// Compiles a Kubernetes Node.
    pub fn from_k8s(node: &core::Node) -> Result<Node, ModelError> {
        let name = node
            .metadata
            .name
            .clone()
            .ok_or_else(|| model_err(&["metadata", "name"], "a node needs a name"))?;
        let spec = node.spec.clone().unwrap_or_default();
        let mut taints = Vec::new();
        for (i, t) in spec.taints.iter().flatten().enumerate() {
            let effect = TaintEffect::parse(&t.effect).ok_or_else(|| {
                let idx = i.to_string();
                model_err(
                    &["spec", "taints", &idx, "effect"],
                    format!(
                        "taint effect {:?} is not NoSchedule, PreferNoSchedule or NoExecute",
                        t.effect
                    ),
                )
            })?;
            taints.push(Taint {
                key: t.key.clone(),
                value: t.value.clone().unwrap_or_default(),
                effect,
            });
        }
        let allocatable = match node.status.as_ref().and_then(|s| s.allocatable.as_ref()) {
            Some(list) => Resources::from_list(list)
                .map_err(|e| model_err(&["status", "allocatable", &e.resource], e.to_string()))?,
            None => Resources::default(),
        };
        Ok(Node {
            name,
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints,
            unschedulable: spec.unschedulable.unwrap_or(false),
            allocatable,
        })
    }
}

/// One required node-affinity term: expressions ANDed with `metadata.name` fields.
#[derive(Debug, Clone)]
pub struct NodeTerm {
    /// `matchExpressions`.
    pub expressions: Selector,
    /// `matchFields` on `metadata.name`: (`In` rather than `NotIn`, names).
    pub names: Vec<(bool, Vec<String>)>,
    /// A term with neither expressions nor fields matches no node.
    pub empty: bool,
}

impl NodeTerm {
    fn compile(term: &core::NodeSelectorTerm, path: &[&str]) -> Result<NodeTerm, ModelError> {
        let exprs = term.match_expressions.clone().unwrap_or_default();
        let expressions = Selector::from_node_selector_requirements(&exprs)
            .map_err(|e| model_err(&[path, &["matchExpressions"]].concat(), e.to_string()))?;
        let mut names = Vec::new();
        for (i, f) in term.match_fields.iter().flatten().enumerate() {
            let idx = i.to_string();
            let at = [path, &["matchFields", &idx]].concat();
            if f.key != "metadata.name" {
                return Err(model_err(
                    &at,
                    format!("matchFields supports only metadata.name, not {:?}", f.key),
                ));
            }
            let values = f.values.clone().unwrap_or_default();
            let is_in = match f.operator.as_str() {
                "In" => true,
                "NotIn" => false,
                other => {
                    return Err(model_err(
                        &at,
                        format!("matchFields operator {other:?} is not In or NotIn"),
                    ));
                }
            };
            if values.len() != 1 {
                return Err(model_err(
                    &at,
                    "matchFields on metadata.name needs exactly one value",
                ));
            }
            names.push((is_in, values));
        }
        Ok(NodeTerm {
            empty: exprs.is_empty() && names.is_empty(),
            expressions,
            names,
        })
    }

    /// Whether the node satisfies the term.
    pub fn matches(&self, node: &Node) -> bool {
        !self.empty
            && self.expressions.matches(&node.labels)
            && self
                .names
                .iter()
                .all(|(is_in, values)| values.contains(&node.name) == *is_in)
    }
}

/// Which namespaces a pod-affinity term looks at.
#[derive(Debug, Clone)]
pub enum NamespaceScope {
    /// These namespaces, plus those matched by the selector if any.
    Listed(Vec<String>, Option<Selector>),
}

/// A required pod (anti-)affinity term, compiled.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    /// Which pods it is about (`None`: a null selector, which matches no pod).
    pub selector: Option<Selector>,
    /// Where those pods may live.
    pub namespaces: NamespaceScope,
    /// The topology domain key.
    pub topology_key: String,
}

impl AffinityTerm {
    fn compile(
        term: &core::PodAffinityTerm,
        pod_ns: &str,
        pod_labels: &BTreeMap<String, String>,
        path: &[&str],
    ) -> Result<AffinityTerm, ModelError> {
        if term.topology_key.is_empty() {
            return Err(model_err(
                &[path, &["topologyKey"]].concat(),
                "topologyKey must not be empty",
            ));
        }
        let selector =
            match &term.label_selector {
                Some(ls) => {
                    let mut ls = ls.clone();
                    let exprs = ls.match_expressions.get_or_insert_with(Vec::new);
                    for key in term.match_label_keys.iter().flatten() {
                        if let Some(v) = pod_labels.get(key) {
                            exprs.push(label_req(key, "In", v));
                        }
                    }
                    for key in term.mismatch_label_keys.iter().flatten() {
                        if let Some(v) = pod_labels.get(key) {
                            exprs.push(label_req(key, "NotIn", v));
                        }
                    }
                    Some(Selector::from_label_selector(&ls).map_err(|e| {
                        model_err(&[path, &["labelSelector"]].concat(), e.to_string())
                    })?)
                }
                None => None,
            };
        let ns_selector =
            match &term.namespace_selector {
                Some(s) => Some(Selector::from_label_selector(s).map_err(|e| {
                    model_err(&[path, &["namespaceSelector"]].concat(), e.to_string())
                })?),
                None => None,
            };
        let mut listed = term.namespaces.clone().unwrap_or_default();
        if listed.is_empty() && ns_selector.is_none() {
            listed.push(pod_ns.to_owned());
        }
        Ok(AffinityTerm {
            selector,
            namespaces: NamespaceScope::Listed(listed, ns_selector),
            topology_key: term.topology_key.clone(),
        })
    }

    /// Whether `pod` (in a namespace with `ns_labels`) is one the term is about.
    pub fn matches_pod(&self, pod: &Pod, ns_labels: Option<&BTreeMap<String, String>>) -> bool {
        let Some(sel) = &self.selector else {
            return false;
        };
        let NamespaceScope::Listed(names, ns_sel) = &self.namespaces;
        let ns_ok = names.contains(&pod.namespace)
            || ns_sel.as_ref().is_some_and(|s| {
                let empty = BTreeMap::new();
                s.matches(ns_labels.unwrap_or(&empty))
            });
        ns_ok && sel.matches(&pod.labels)
    }
}

fn label_req(
    key: &str,
    op: &str,
    value: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
        key: key.to_owned(),
        operator: op.to_owned(),
        values: Some(vec![value.to_owned()]),
    }
}

/// A topology spread constraint, compiled.
#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    /// Allowed skew.
    pub max_skew: i32,
    /// Domain key.
    pub topology_key: String,
    /// `DoNotSchedule` (a filter) rather than `ScheduleAnyway` (a preference).
    pub hard: bool,
    /// Which pods count (`None`: null selector, counts nothing).
    pub selector: Option<Selector>,
    /// Minimum number of eligible domains before the global minimum counts.
    pub min_domains: Option<i32>,
    /// Count only nodes that match the pod's node affinity/selector (`Honor`, default).
    pub honor_node_affinity: bool,
    /// Count only nodes whose taints the pod tolerates (`Honor`; default `Ignore`).
    pub honor_node_taints: bool,
}

/// A pod as the engine sees it.
#[derive(Debug, Clone)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `spec.nodeName`, when set.
    pub node_name: Option<String>,
    /// `spec.schedulerName` (default `default-scheduler`).
    pub scheduler_name: String,
    /// Resolved priority.
    pub priority: i32,
    /// Resolved preemption policy.
    pub preemption_policy: PreemptionPolicy,
    /// What the pod asks of a node.
    pub requests: PodRequests,
    /// `spec.nodeSelector`.
    pub node_selector: Option<Selector>,
    /// Required node affinity terms (ORed); `None` when there is no requirement.
    pub required_node_affinity: Option<Vec<NodeTerm>>,
    /// Preferred node affinity terms with their weights.
    pub preferred_node_affinity: Vec<(i32, NodeTerm)>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Host ports.
    pub host_ports: Vec<HostPort>,
    /// Required pod affinity terms.
    pub pod_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub pod_anti_affinity: Vec<AffinityTerm>,
    /// Topology spread constraints.
    pub spread: Vec<SpreadConstraint>,
    /// `status.startTime` (seconds since the epoch), if started.
    pub start_time: Option<i64>,
    /// Whether the pod is being deleted.
    pub terminating: bool,
    /// Scheduling gates still present (the pod is not scheduled while any remain).
    pub scheduling_gates: Vec<String>,
    /// The workload profile, none, or why the pod's profile request is invalid.
    pub profile: Result<Option<Arc<WorkloadProfile>>, String>,
    /// Identifies pods that pass the same node-static filters (selectors, tolerations,
    /// profile, name pin), so those results are computed once per equivalence class.
    pub static_key: u64,
}

impl Pod {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Compiles a Kubernetes Pod; priority comes from `spec.priority`, else from the
    /// class named by `spec.priorityClassName`, else from the global default class.
    pub fn from_k8s(
        pod: &core::Pod,
        classes: &PriorityClasses,
        profiles: &Profiles,
    ) -> Result<Pod, ModelError> {
        let meta = &pod.metadata;
        let name = meta
            .name
            .clone()
            .ok_or_else(|| model_err(&["metadata", "name"], "a pod needs a name"))?;
        let namespace = meta
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let labels = meta.labels.clone().unwrap_or_default();
        let annotations = meta.annotations.clone().unwrap_or_default();
        let spec = pod
            .spec
            .as_ref()
            .ok_or_else(|| model_err(&["spec"], "a pod needs a spec"))?;

        let requests = pod_requests(spec).map_err(|e: ResourceError| {
            model_err(&["spec", "containers"], format!("invalid request: {e}"))
        })?;
        let (priority, preemption_policy) = classes
            .resolve(
                spec.priority,
                spec.priority_class_name.as_deref(),
                spec.preemption_policy.as_deref(),
            )
            .map_err(|e| model_err(&["spec", "priorityClassName"], e))?;

        let node_selector = match &spec.node_selector {
            Some(m) if !m.is_empty() => {
                Some(Selector::from_map(m).map_err(|e: SelectorError| {
                    model_err(&["spec", "nodeSelector"], e.to_string())
                })?)
            }
            _ => None,
        };
        let affinity = spec.affinity.clone().unwrap_or_default();
        let node_aff = affinity.node_affinity.unwrap_or_default();
        let required_node_affinity =
            match &node_aff.required_during_scheduling_ignored_during_execution {
                Some(sel) => Some(
                    sel.node_selector_terms
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            let idx = i.to_string();
                            NodeTerm::compile(
                                t,
                                &[
                                    "spec",
                                    "affinity",
                                    "nodeAffinity",
                                    "requiredDuringSchedulingIgnoredDuringExecution",
                                    "nodeSelectorTerms",
                                    &idx,
                                ],
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                None => None,
            };
        let mut preferred_node_affinity = Vec::new();
        for (i, p) in node_aff
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            let idx = i.to_string();
            let path = [
                "spec",
                "affinity",
                "nodeAffinity",
                "preferredDuringSchedulingIgnoredDuringExecution",
                &idx,
            ];
            if !(1..=100).contains(&p.weight) {
                return Err(model_err(
                    &[&path[..], &["weight"]].concat(),
                    "weight must be 1 to 100",
                ));
            }
            preferred_node_affinity.push((
                p.weight,
                NodeTerm::compile(&p.preference, &[&path[..], &["preference"]].concat())?,
            ));
        }

        let mut tolerations = Vec::new();
        for (i, t) in spec.tolerations.iter().flatten().enumerate() {
            let idx = i.to_string();
            let at = |f: &str| {
                ["spec", "tolerations", idx.as_str(), f]
                    .map(str::to_owned)
                    .to_vec()
            };
            let exists = match t.operator.as_deref() {
                None | Some("") | Some("Equal") => false,
                Some("Exists") => true,
                Some(other) => {
                    return Err(ModelError {
                        path: at("operator"),
                        message: format!("toleration operator {other:?} is not Equal or Exists"),
                    });
                }
            };
            let effect = match t.effect.as_deref() {
                None | Some("") => None,
                Some(e) => Some(TaintEffect::parse(e).ok_or_else(|| ModelError {
                    path: at("effect"),
                    message: format!(
                        "toleration effect {e:?} is not NoSchedule, PreferNoSchedule or NoExecute"
                    ),
                })?),
            };
            let key = t.key.clone().unwrap_or_default();
            if key.is_empty() && !exists {
                return Err(ModelError {
                    path: at("operator"),
                    message: "a toleration without a key must use operator Exists".to_owned(),
                });
            }
            tolerations.push(Toleration {
                key,
                exists,
                value: t.value.clone().unwrap_or_default(),
                effect,
            });
        }

        let mut host_ports = Vec::new();
        for c in spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
        {
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.filter(|hp| *hp > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|ip| !ip.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".to_owned()),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                        port: hp,
                    });
                }
            }
        }

        let compile_terms = |terms: Option<&Vec<core::PodAffinityTerm>>, kind: &str| {
            terms
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, t)| {
                    let idx = i.to_string();
                    AffinityTerm::compile(
                        t,
                        &namespace,
                        &labels,
                        &[
                            "spec",
                            "affinity",
                            kind,
                            "requiredDuringSchedulingIgnoredDuringExecution",
                            &idx,
                        ],
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let pod_affinity = compile_terms(
            affinity.pod_affinity.as_ref().and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "podAffinity",
        )?;
        let pod_anti_affinity = compile_terms(
            affinity.pod_anti_affinity.as_ref().and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "podAntiAffinity",
        )?;

        let mut spread = Vec::new();
        for (i, c) in spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .enumerate()
        {
            let idx = i.to_string();
            let at = |f: &str| {
                ["spec", "topologySpreadConstraints", idx.as_str(), f]
                    .map(str::to_owned)
                    .to_vec()
            };
            if c.max_skew < 1 {
                return Err(ModelError {
                    path: at("maxSkew"),
                    message: "maxSkew must be at least 1".to_owned(),
                });
            }
            let hard = match c.when_unsatisfiable.as_str() {
                "DoNotSchedule" => true,
                "ScheduleAnyway" => false,
                other => {
                    return Err(ModelError {
                        path: at("whenUnsatisfiable"),
                        message: format!(
                            "whenUnsatisfiable {other:?} is not DoNotSchedule or ScheduleAnyway"
                        ),
                    });
                }
            };
            let selector = match &c.label_selector {
                Some(ls) => {
                    let mut ls = ls.clone();
                    let exprs = ls.match_expressions.get_or_insert_with(Vec::new);
                    for key in c.match_label_keys.iter().flatten() {
                        if let Some(v) = labels.get(key) {
                            exprs.push(label_req(key, "In", v));
                        }
                    }
                    Some(Selector::from_label_selector(&ls).map_err(|e| ModelError {
                        path: at("labelSelector"),
                        message: e.to_string(),
                    })?)
                }
                None => None,
            };
            let policy = |v: &Option<String>, default_honor: bool, field: &str| match v.as_deref() {
                None => Ok(default_honor),
                Some("Honor") => Ok(true),
                Some("Ignore") => Ok(false),
                Some(other) => Err(ModelError {
                    path: at(field),
                    message: format!("{other:?} is not Honor or Ignore"),
                }),
            };
            spread.push(SpreadConstraint {
                max_skew: c.max_skew,
                topology_key: c.topology_key.clone(),
                hard,
                selector,
                min_domains: c.min_domains,
                honor_node_affinity: policy(&c.node_affinity_policy, true, "nodeAffinityPolicy")?,
                honor_node_taints: policy(&c.node_taints_policy, false, "nodeTaintsPolicy")?,
            });
        }

        let profile = profiles.resolve(&labels, &annotations);
        let status = pod.status.as_ref();
        let mut pod = Pod {
            namespace,
            name,
            labels,
            node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            scheduler_name: spec
                .scheduler_name
                .clone()
                .unwrap_or_else(|| "default-scheduler".to_owned()),
            priority,
            preemption_policy,
            requests,
            node_selector,
            required_node_affinity,
            preferred_node_affinity,
            tolerations,
            host_ports,
            pod_affinity,
            pod_anti_affinity,
            spread,
            start_time: status
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0.as_second()),
            terminating: meta.deletion_timestamp.is_some(),
            scheduling_gates: spec
                .scheduling_gates
                .iter()
                .flatten()
                .map(|g| g.name.clone())
                .collect(),
            profile,
            static_key: 0,
        };
        pod.static_key = static_key(spec, &pod);
        Ok(pod)
    }

    /// Whether the pod has finished (its resources are free again).
    pub fn is_finished(pod: &core::Pod) -> bool {
        matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    }
}

/// Hash of everything the node-static filters and scores look at.
fn static_key(spec: &core::PodSpec, pod: &Pod) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    spec.node_name.hash(&mut h);
    format!("{:?}", spec.node_selector).hash(&mut h);
    format!(
        "{:?}",
        spec.affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
    )
    .hash(&mut h);
    pod.tolerations.hash(&mut h);
    for c in pod.spread.iter().filter(|c| c.hard) {
        (&c.topology_key, c.honor_node_affinity, c.honor_node_taints).hash(&mut h);
    }
    match &pod.profile {
        Ok(Some(p)) => format!("{p:?}").hash(&mut h),
        Ok(None) => 0u8.hash(&mut h),
        Err(e) => e.hash(&mut h),
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect,
        }
    }

    #[test]
    fn toleration_matching_follows_upstream() {
        let t = taint("workload-type", "ml", TaintEffect::NoSchedule);
        let eq = |k: &str, v: &str, e: Option<TaintEffect>| Toleration {
            key: k.into(),
            exists: false,
            value: v.into(),
            effect: e,
        };
        let ex = |k: &str, e: Option<TaintEffect>| Toleration {
            key: k.into(),
            exists: true,
            value: String::new(),
            effect: e,
        };
        let cases = [
            (
                eq("workload-type", "ml", Some(TaintEffect::NoSchedule)),
                true,
            ),
            (eq("workload-type", "ml", None), true),
            (eq("workload-type", "web", None), false),
            (
                eq("workload-type", "ml", Some(TaintEffect::NoExecute)),
                false,
            ),
            (ex("workload-type", None), true),
            (ex("", None), true),
            (ex("", Some(TaintEffect::PreferNoSchedule)), false),
            (ex("other", None), false),
        ];
        for (tol, want) in cases {
            assert_eq!(tol.tolerates(&t), want, "{tol:?}");
        }
    }

    #[test]
    fn host_ports_conflict_on_wildcards() {
        let p = |ip: &str, proto: &str, port| HostPort {
            ip: ip.into(),
            protocol: proto.into(),
            port,
        };
        assert!(p("0.0.0.0", "TCP", 80).conflicts(&p("10.0.0.1", "TCP", 80)));
        assert!(p("10.0.0.1", "TCP", 80).conflicts(&p("10.0.0.1", "TCP", 80)));
        assert!(!p("10.0.0.1", "TCP", 80).conflicts(&p("10.0.0.2", "TCP", 80)));
        assert!(!p("0.0.0.0", "TCP", 80).conflicts(&p("0.0.0.0", "UDP", 80)));
        assert!(!p("0.0.0.0", "TCP", 80).conflicts(&p("0.0.0.0", "TCP", 81)));
    }
}
