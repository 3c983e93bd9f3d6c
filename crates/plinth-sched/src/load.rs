//! Turning manifests (what `kubectl get -o yaml` prints) into a [`Snapshot`], the pods to
//! place and the scheduler configuration — with `file:line` errors for bad input.
//!
//! Read: Nodes, Pods (bound ones are the current state, unbound ones are placed in
//! queue order; finished ones are ignored), PriorityClasses (on top of the seed's five),
//! PodDisruptionBudgets, Namespaces, and the `advanced-scheduling-policies` ConfigMap:
//! `workload-profiles` (the profiles), and optionally `score-weights`
//! (`{resource, affinity, sla, load_balance}`), `zone-latency` (`{ZONE: ms}`) and
//! `spot-labels` (`["key=value", ...]`, replacing the built-in list). Other kinds are
//! counted and left alone.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use plinth_core::manifest::{Document, ManifestError};
use serde::Deserialize;

use crate::config::{SchedulerConfig, ScoreWeights};
use crate::model::{ModelError, Node, Pod};
use crate::priority::PriorityClasses;
use crate::profile::{PROFILES_CONFIGMAP, PROFILES_KEY, Profiles};
use crate::snapshot::{Pdb, Snapshot};

/// ConfigMap key for score weights.
pub const WEIGHTS_KEY: &str = "score-weights";
/// ConfigMap key for zone latencies.
pub const ZONE_LATENCY_KEY: &str = "zone-latency";
/// ConfigMap key for the labels that mark spot capacity (a list of `key=value`).
pub const SPOT_LABELS_KEY: &str = "spot-labels";

/// What a snapshot holds.
#[derive(Debug)]
pub struct Loaded {
    /// The current state.
    pub snapshot: Snapshot,
    /// Pods to place, in arrival order (creation time, then input order).
    pub pending: Vec<Arc<Pod>>,
    /// The configuration read from the policies ConfigMap (or the defaults).
    pub config: SchedulerConfig,
    /// Objects of other kinds, by kind.
    pub ignored: BTreeMap<String, usize>,
    /// Things worth telling the user that are not errors.
    pub warnings: Vec<String>,
}

fn model_error(doc: &Document, e: ModelError) -> ManifestError {
    doc.error_at(&e.path, e.message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightsDoc {
    resource: f64,
    affinity: f64,
    sla: f64,
    load_balance: f64,
}

/// Reads the scheduler configuration from a policies ConfigMap document.
pub fn config_from_configmap(
    doc: &Document,
    base: SchedulerConfig,
) -> Result<SchedulerConfig, ManifestError> {
    let mut config = base;
    let data = doc.value().get("data");
    let text = |key: &str| data.and_then(|d| d.get(key)).and_then(|v| v.as_str());
    // Errors inside the embedded document: its line 1 is where the value starts.
    let inner = |key: &str, line: u64, message: String| {
        let at = doc.location_of(&["data", key]);
        ManifestError::Invalid {
            location: plinth_core::manifest::Location::new(
                at.file(),
                at.line() + line.max(1) - 1,
                None,
            ),
            path: format!("data.{key}"),
            message,
        }
    };
    if let Some(t) = text(PROFILES_KEY) {
        config.profiles = Profiles::parse(t).map_err(|e| inner(PROFILES_KEY, e.line, e.message))?;
    }
    if let Some(t) = text(WEIGHTS_KEY) {
        let w: WeightsDoc =
            serde_saphyr::from_str_with_options(t, plinth_core::manifest::yaml_options()).map_err(
                |e| {
                    inner(
                        WEIGHTS_KEY,
                        e.location().map_or(1, |l| l.line()),
                        crate::profile::plain_message(&e),
                    )
                },
            )?;
        let weights = ScoreWeights {
            resource: w.resource,
            affinity: w.affinity,
            sla: w.sla,
            load_balance: w.load_balance,
        };
        if weights.normalised().is_none() {
            return Err(doc.error_at(
                &["data", WEIGHTS_KEY],
                "weights must be finite, not negative, and not all 0",
            ));
        }
        config.weights = weights;
    }
    if let Some(t) = text(ZONE_LATENCY_KEY) {
        config.zone_latency_ms =
            serde_saphyr::from_str_with_options(t, plinth_core::manifest::yaml_options()).map_err(
                |e| {
                    inner(
                        ZONE_LATENCY_KEY,
                        e.location().map_or(1, |l| l.line()),
                        format!(
                            "expected a map of zone to milliseconds: {}",
                            crate::profile::plain_message(&e)
                        ),
                    )
                },
            )?;
    }
    if let Some(t) = text(SPOT_LABELS_KEY) {
        let list: Vec<String> =
            serde_saphyr::from_str_with_options(t, plinth_core::manifest::yaml_options()).map_err(
                |e| {
                    inner(
                        SPOT_LABELS_KEY,
                        e.location().map_or(1, |l| l.line()),
                        format!(
                            "expected a list of key=value: {}",
                            crate::profile::plain_message(&e)
                        ),
                    )
                },
            )?;
        config.spot_labels = list
            .iter()
            .map(|entry| {
                entry
                    .split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| {
                        doc.error_at(
                            &["data", SPOT_LABELS_KEY],
                            format!(
                                "{entry:?} is not key=value (e.g. karpenter.sh/capacity-type=spot)"
                            ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(config)
}

fn is_policies(doc: &Document) -> bool {
    doc.kind() == Some("ConfigMap")
        && doc
            .value()
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            == Some(PROFILES_CONFIGMAP)
}

/// Builds the snapshot from documents. `config` is the starting configuration; a policies
/// ConfigMap among the documents overrides it unless `config_fixed` (a `--profiles` file
/// was given).
pub fn load(
    docs: &[Document],
    config: SchedulerConfig,
    config_fixed: bool,
) -> Result<Loaded, ManifestError> {
    let mut config = config;
    if !config_fixed && let Some(doc) = docs.iter().find(|d| is_policies(d)) {
        config = config_from_configmap(doc, config)?;
    }
    let mut classes = PriorityClasses::seed();
    for doc in docs.iter().filter(|d| d.kind() == Some("PriorityClass")) {
        let pc: PriorityClass = doc.parse()?;
        classes
            .insert(&pc)
            .map_err(|e| doc.error_at(&["value"], e.to_string()))?;
    }
    let mut snapshot = Snapshot::new(classes.clone());
    let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut pods = Vec::new();
    for doc in docs {
        match doc.kind() {
            Some("Node") => {
                let n: core::Node = doc.parse()?;
                let node = Node::from_k8s(&n).map_err(|e| model_error(doc, e))?;
                if snapshot.node_id(&node.name).is_some() {
                    return Err(doc.error_at(
                        &["metadata", "name"],
                        format!("node {} appears twice", node.name),
                    ));
                }
                snapshot.upsert_node(node);
            }
            Some("Namespace") => {
                let ns: core::Namespace = doc.parse()?;
                if let Some(name) = ns.metadata.name {
                    snapshot.set_namespace(name, ns.metadata.labels.unwrap_or_default());
                }
            }
            Some("PodDisruptionBudget") => {
                let pdb: PodDisruptionBudget = doc.parse()?;
                snapshot.add_pdb(Pdb::from_k8s(&pdb).map_err(|e| model_error(doc, e))?);
            }
            Some("Pod") => pods.push(doc),
            Some("PriorityClass") => {}
            Some("ConfigMap") if is_policies(doc) => {}
            Some(kind) => *ignored.entry(kind.to_owned()).or_insert(0) += 1,
            None => return Err(doc.error_at(&[] as &[&str], "the object has no kind")),
        }
    }
    let mut pending: Vec<(Option<i64>, usize, Arc<Pod>)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, doc) in pods.into_iter().enumerate() {
        let raw: core::Pod = doc.parse()?;
        if Pod::is_finished(&raw) {
            continue;
        }
        let created = raw
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second());
        let pod =
            Pod::from_k8s(&raw, &classes, &config.profiles).map_err(|e| model_error(doc, e))?;
        if !seen.insert(pod.key()) {
            return Err(doc.error_at(
                &["metadata", "name"],
                format!("pod {} appears twice", pod.key()),
            ));
        }
        match &pod.node_name {
            Some(node) => match snapshot.node_id(node) {
                Some(id) => {
                    snapshot.place(Arc::new(pod), id);
                }
                None => warnings.push(format!(
                    "{}: pod {} is bound to node {node}, which is not in the snapshot; it was left out",
                    doc.location(),
                    pod.key()
                )),
            },
            None => pending.push((created, i, Arc::new(pod))),
        }
    }
    pending.sort_by_key(|(created, i, _)| (created.unwrap_or(i64::MIN), *i));
    Ok(Loaded {
        snapshot,
        pending: pending.into_iter().map(|(_, _, p)| p).collect(),
        config,
        ignored,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_core::manifest::parse_str;

    const SNAPSHOT: &str = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n1, labels: {workload-type: web}}
  status: {allocatable: {cpu: "2", memory: 4Gi, pods: "10"}}
- apiVersion: v1
  kind: Pod
  metadata: {name: bound, namespace: shop}
  spec: {nodeName: n1, containers: [{name: c, resources: {requests: {cpu: "1"}}}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: later, namespace: shop, creationTimestamp: "2026-01-02T00:00:00Z"}
  spec: {containers: [{name: c}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: earlier, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z"}
  spec: {containers: [{name: c}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: done, namespace: shop}
  spec: {containers: [{name: c}]}
  status: {phase: Succeeded}
- apiVersion: v1
  kind: Service
  metadata: {name: s}
"#;

    #[test]
    fn snapshot_state_and_pending_order() {
        let docs = parse_str("snap.yaml", SNAPSHOT).unwrap();
        let l = load(&docs, SchedulerConfig::default(), false).unwrap();
        assert_eq!(l.snapshot.node_count(), 1);
        assert_eq!(l.snapshot.pod_count(), 1);
        assert_eq!(l.snapshot.node(0).requested.cpu, 1000);
        let order: Vec<String> = l.pending.iter().map(|p| p.key()).collect();
        assert_eq!(order, ["shop/earlier", "shop/later"]);
        assert_eq!(l.ignored.get("Service"), Some(&1));
    }

    #[test]
    fn bad_input_points_at_the_field() {
        let text = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec:\n  taints:\n  - key: a\n    effect: Sometimes\n";
        let err = load(
            &parse_str("n.yaml", text).unwrap(),
            SchedulerConfig::default(),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("n.yaml:7:"), "{err}");
        assert!(err.to_string().contains("Sometimes"), "{err}");

        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources: {requests: {cpu: lots}}\n";
        let err = load(
            &parse_str("p.yaml", text).unwrap(),
            SchedulerConfig::default(),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:"), "{err}");
        assert!(err.to_string().contains("lots"), "{err}");

        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n  tolerations:\n  - {key: a, operator: Maybe}\n";
        let err = load(
            &parse_str("t.yaml", text).unwrap(),
            SchedulerConfig::default(),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:7:"), "{err}");
    }

    #[test]
    fn policies_configmap_sets_profiles_weights_and_latency() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: advanced-scheduling-policies, namespace: kube-system}\ndata:\n  workload-profiles: |\n    profiles:\n      only:\n        resource_profile: {cpu_weight: 1, memory_weight: 1}\n        sla_requirements: {max_latency_ms: 5, availability_pct: 99.9, isolation_level: shared}\n  score-weights: |\n    {resource: 1, affinity: 1, sla: 1, load_balance: 1}\n  zone-latency: |\n    us-east-1a: 2\n  spot-labels: |\n    - node.example.com/lifecycle=preemptible\n";
        let l = load(
            &parse_str("cm.yaml", text).unwrap(),
            SchedulerConfig::default(),
            false,
        )
        .unwrap();
        assert_eq!(l.config.profiles.names(), ["only"]);
        assert_eq!(l.config.zone_latency_ms.get("us-east-1a"), Some(&2));
        assert_eq!(
            l.config.spot_labels,
            [(
                "node.example.com/lifecycle".to_owned(),
                "preemptible".to_owned()
            )]
        );
        assert!((l.config.weights.normalised().unwrap().sla - 0.25).abs() < 1e-9);

        let bad = text.replace("isolation_level: shared", "isolation_level: private");
        let err = load(
            &parse_str("cm.yaml", &bad).unwrap(),
            SchedulerConfig::default(),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("cm.yaml:9"), "{err}");
    }
}
