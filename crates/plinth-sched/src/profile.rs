//! Workload profiles: the seed's `advanced-scheduling-policies` ConfigMap (key
//! `workload-profiles`), its six built-in profiles, and how a pod picks one.
//!
//! The file format is the seed's, nested as YAML:
//!
//! ```yaml
//! profiles:
//!   web-application:
//!     resource_profile: {cpu_weight: 1.0, memory_weight: 1.0, network_weight: 0.8, storage_weight: 0.3, gpu_weight: 0.0}
//!     sla_requirements: {max_latency_ms: 200, availability_pct: 99.9, throughput_reqs: 5000, isolation_level: shared}
//!     node_affinity:
//!       required_labels: {workload-type: web}
//!       preferred_labels:
//!         instance-generation: "current" # weight: 100
//!         network-performance: {value: high, weight: 80}
//!       anti_affinity_rules: ["spot-instance=true"]
//! ```
//!
//! A preferred label's weight is read from a `# weight: N` comment, as the seed writes
//! it, or from the explicit `{value, weight}` form; without either it is 100.
//! Anti-affinity rules are `key=value` (key *and* value must match) or `key` (presence).
//!
//! A pod gets a profile from the label `workload.enterprise.io/type` and/or the JSON
//! annotation `scheduler.enterprise.io/workload-metadata` (its `type` wins over the
//! label; its `sla`, `resource_profile` and `affinity` override the profile's fields).
//! A pod with neither has no profile. An unknown type or malformed metadata is an error
//! that makes the pod unschedulable with a message — never a silent default.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Commented;

/// The pod label naming a workload type.
pub const WORKLOAD_TYPE_LABEL: &str = "workload.enterprise.io/type";
/// The pod annotation carrying workload metadata as JSON.
pub const WORKLOAD_METADATA_ANNOTATION: &str = "scheduler.enterprise.io/workload-metadata";
/// The ConfigMap the profiles live in, and its key.
pub const PROFILES_CONFIGMAP: &str = "advanced-scheduling-policies";
/// The ConfigMap key holding the profiles document.
pub const PROFILES_KEY: &str = "workload-profiles";
/// Weight of a preferred label that states none.
pub const DEFAULT_PREFERRED_WEIGHT: u32 = 100;

/// How much each resource matters to a workload (relative weights, not fractions).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceProfile {
    /// CPU.
    #[serde(alias = "CPUWeight", alias = "cpuWeight")]
    pub cpu_weight: f64,
    /// Memory.
    #[serde(alias = "MemoryWeight", alias = "memoryWeight")]
    pub memory_weight: f64,
    /// Network (recorded; node network capacity is not a schedulable resource).
    #[serde(default, alias = "NetworkWeight", alias = "networkWeight")]
    pub network_weight: f64,
    /// Storage (recorded; weighs ephemeral storage when the pod requests it).
    #[serde(default, alias = "StorageWeight", alias = "storageWeight")]
    pub storage_weight: f64,
    /// GPU.
    #[serde(default, alias = "GPUWeight", alias = "gpuWeight")]
    pub gpu_weight: f64,
}

/// Isolation a workload needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Any node.
    Shared,
    /// Only nodes labelled `node-type=dedicated`.
    Dedicated,
}

/// A workload's service-level requirements.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRequirements {
    /// Latency the workload tolerates, in milliseconds.
    #[serde(alias = "MaxLatencyMs", alias = "maxLatencyMs")]
    pub max_latency_ms: u32,
    /// Availability target in percent (99.99 keeps the workload off spot capacity).
    #[serde(alias = "AvailabilityPct", alias = "availabilityPct")]
    pub availability_pct: f64,
    /// Requests per second (recorded).
    #[serde(default, alias = "ThroughputReqs", alias = "throughputReqs")]
    pub throughput_reqs: u32,
    /// Isolation level.
    #[serde(alias = "IsolationLevel", alias = "isolationLevel")]
    pub isolation_level: Isolation,
}

/// A preferred node label and its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferredLabel {
    /// Label key.
    pub key: String,
    /// Required value; `None` means the key's presence is enough.
    pub value: Option<String>,
    /// Weight (1–100).
    pub weight: u32,
}

/// A label that makes a node less attractive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AntiAffinityRule {
    /// Label key.
    pub key: String,
    /// Value that must match too; `None` for a presence rule.
    pub value: Option<String>,
}

impl AntiAffinityRule {
    fn parse(rule: &str) -> AntiAffinityRule {
        match rule.split_once('=') {
            Some((k, v)) => AntiAffinityRule {
                key: k.trim().to_owned(),
                value: Some(v.trim().to_owned()),
            },
            None => AntiAffinityRule {
                key: rule.trim().to_owned(),
                value: None,
            },
        }
    }

    /// Whether a node's labels match the rule (key and, if given, value).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match (labels.get(&self.key), &self.value) {
            (Some(_), None) => true,
            (Some(v), Some(want)) => v == want,
            (None, _) => false,
        }
    }
}

impl std::fmt::Display for AntiAffinityRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={v}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// Node label rules of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeAffinityRules {
    /// Labels a node must carry with exactly these values.
    pub required_labels: BTreeMap<String, String>,
    /// Labels that raise a node's affinity score.
    pub preferred_labels: Vec<PreferredLabel>,
    /// Labels that halve a node's affinity score, each.
    pub anti_affinity_rules: Vec<AntiAffinityRule>,
}

/// One workload profile.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadProfile {
    /// The workload type it is named after.
    pub name: String,
    /// Resource weights.
    pub resources: ResourceProfile,
    /// Service levels.
    pub sla: SlaRequirements,
    /// Node label rules.
    pub affinity: NodeAffinityRules,
}

/// Why a profiles document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ProfilesError {
    /// 1-based line inside the profiles document.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesDoc {
    profiles: BTreeMap<String, ProfileDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileDoc {
    resource_profile: ResourceProfile,
    sla_requirements: SlaRequirements,
    #[serde(default)]
    node_affinity: AffinityDoc,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AffinityDoc {
    #[serde(default)]
    required_labels: BTreeMap<String, String>,
    #[serde(default)]
    preferred_labels: BTreeMap<String, Commented<PreferredDoc>>,
    #[serde(default)]
    anti_affinity_rules: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PreferredDoc {
    Explicit {
        value: String,
        weight: u32,
    },
    /// A bare value; unquoted `true`, `yes` or `3` are read as the label strings they
    /// stand for, since label values are always strings.
    Value(serde_json::Value),
}

fn scalar_string(key: &str, v: serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "preferred label {key:?} must have a value or {{value, weight}}, not {other}"
        )),
    }
}

fn weight_from_comment(comment: &str) -> Option<Result<u32, String>> {
    let rest = comment.trim().strip_prefix("weight:")?;
    let digits: String = rest
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some(
        digits
            .parse::<u32>()
            .map_err(|_| format!("comment {comment:?} does not give a whole-number weight")),
    )
}

fn check_weight(key: &str, weight: u32) -> Result<u32, String> {
    if (1..=100).contains(&weight) {
        Ok(weight)
    } else {
        Err(format!(
            "preferred label {key:?} has weight {weight}; weights are 1 to 100"
        ))
    }
}

impl AffinityDoc {
    fn build(self) -> Result<NodeAffinityRules, String> {
        let mut preferred = Vec::new();
        for (key, Commented(doc, comment)) in self.preferred_labels {
            let (value, weight) = match doc {
                PreferredDoc::Explicit { value, weight } => (value, weight),
                PreferredDoc::Value(value) => {
                    let value = scalar_string(&key, value)?;
                    let weight = weight_from_comment(&comment)
                        .transpose()?
                        .unwrap_or(DEFAULT_PREFERRED_WEIGHT);
                    (value, weight)
                }
            };
            preferred.push(PreferredLabel {
                weight: check_weight(&key, weight)?,
                key,
                value: Some(value),
            });
        }
        Ok(NodeAffinityRules {
            required_labels: self.required_labels,
            preferred_labels: preferred,
            anti_affinity_rules: self
                .anti_affinity_rules
                .iter()
                .map(|r| AntiAffinityRule::parse(r))
                .collect(),
        })
    }
}

fn validate_resources(r: &ResourceProfile) -> Result<(), String> {
    let all = [
        r.cpu_weight,
        r.memory_weight,
        r.network_weight,
        r.storage_weight,
        r.gpu_weight,
    ];
    if all.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err("resource weights must be finite and not negative".to_owned());
    }
    if r.cpu_weight + r.memory_weight + r.gpu_weight <= 0.0 {
        return Err(
            "at least one of cpu_weight, memory_weight, gpu_weight must be above 0".to_owned(),
        );
    }
    Ok(())
}

fn validate_sla(s: &SlaRequirements) -> Result<(), String> {
    if !(0.0..=100.0).contains(&s.availability_pct) {
        return Err(format!(
            "availability_pct {} is not a percentage (0 to 100)",
            s.availability_pct
        ));
    }
    Ok(())
}

/// A set of workload profiles by type name.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    by_name: BTreeMap<String, Arc<WorkloadProfile>>,
}

impl Profiles {
    /// Parses a `workload-profiles` document.
    pub fn parse(text: &str) -> Result<Profiles, ProfilesError> {
        let doc: ProfilesDoc =
            serde_saphyr::from_str_with_options(text, plinth_core::manifest::yaml_options())
                .map_err(|e| ProfilesError {
                    line: e.location().map_or(1, |l| l.line()),
                    message: plain_message(&e),
                })?;
        let mut by_name = BTreeMap::new();
        for (name, p) in doc.profiles {
            let line_of = |needle: &str| {
                text.lines()
                    .position(|l| l.trim_start().starts_with(needle))
                    .map_or(1, |i| i as u64 + 1)
            };
            let err = |message: String| ProfilesError {
                line: line_of(&format!("{name}:")),
                message: format!("profile {name:?}: {message}"),
            };
            validate_resources(&p.resource_profile).map_err(err)?;
            validate_sla(&p.sla_requirements).map_err(err)?;
            let affinity = p.node_affinity.build().map_err(err)?;
            by_name.insert(
                name.clone(),
                Arc::new(WorkloadProfile {
                    name,
                    resources: p.resource_profile,
                    sla: p.sla_requirements,
                    affinity,
                }),
            );
        }
        Ok(Profiles { by_name })
    }

    /// The seed's six profiles.
    pub fn builtin() -> Profiles {
        // The document is part of the binary and covered by a test; it always parses.
        Profiles::parse(BUILTIN).unwrap_or(Profiles {
            by_name: BTreeMap::new(),
        })
    }

    /// A profile by workload type.
    pub fn get(&self, name: &str) -> Option<&Arc<WorkloadProfile>> {
        self.by_name.get(name)
    }

    /// All type names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }

    /// The profile a pod asks for through its label and annotation (see the module
    /// documentation); `Ok(None)` for a pod that asks for none.
    pub fn resolve(
        &self,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Option<Arc<WorkloadProfile>>, String> {
        let label_type = labels.get(WORKLOAD_TYPE_LABEL);
        let meta = match annotations.get(WORKLOAD_METADATA_ANNOTATION) {
            Some(json) => Some(serde_json::from_str::<MetadataDoc>(json).map_err(|e| {
                format!(
                    "annotation {WORKLOAD_METADATA_ANNOTATION} is not valid workload metadata: {e}"
                )
            })?),
            None => None,
        };
        let type_name = meta.as_ref().and_then(|m| m.r#type.as_ref()).or(label_type);
        let base = match type_name {
            Some(t) => Some(self.get(t).cloned().ok_or_else(|| {
                format!(
                    "unknown workload type {t:?}; known types: {}",
                    self.names().join(", ")
                )
            })?),
            None => None,
        };
        let Some(meta) = meta else {
            return Ok(base);
        };
        let mut profile = match base {
            Some(p) => (*p).clone(),
            None => {
                // Metadata without a type must say everything itself.
                let (Some(resources), Some(sla)) =
                    (meta.resource_profile.clone(), meta.sla.clone())
                else {
                    return Err(format!(
                        "annotation {WORKLOAD_METADATA_ANNOTATION} names no type, so it must give both resource_profile and sla"
                    ));
                };
                WorkloadProfile {
                    name: "custom".to_owned(),
                    resources,
                    sla,
                    affinity: NodeAffinityRules::default(),
                }
            }
        };
        if let Some(r) = meta.resource_profile {
            profile.resources = r;
        }
        if let Some(s) = meta.sla {
            profile.sla = s;
        }
        if let Some(a) = meta.affinity {
            if let Some(req) = a.required_labels {
                profile.affinity.required_labels = req;
            }
            if let Some(pref) = a.preferred_labels {
                profile.affinity.preferred_labels = pref
                    .into_iter()
                    .map(|(k, w)| {
                        let (key, value) = match k.split_once('=') {
                            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                            None => (k, None),
                        };
                        check_weight(&key, w).map(|weight| PreferredLabel { key, value, weight })
                    })
                    .collect::<Result<_, _>>()?;
            }
            if let Some(rules) = a.anti_affinity_rules {
                profile.affinity.anti_affinity_rules =
                    rules.iter().map(|r| AntiAffinityRule::parse(r)).collect();
            }
        }
        validate_resources(&profile.resources)?;
        validate_sla(&profile.sla)?;
        Ok(Some(Arc::new(profile)))
    }
}

/// The annotation's JSON, as the seed's `WorkloadMetadata` (json tags `type`, `priority`,
/// `sla`, `resource_profile`, `affinity`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataDoc {
    r#type: Option<String>,
    /// Accepted for compatibility and ignored: a pod's priority is `spec.priority`, which
    /// admission resolves from its PriorityClass.
    #[serde(default)]
    #[allow(dead_code)]
    priority: Option<serde_json::Value>,
    sla: Option<SlaRequirements>,
    resource_profile: Option<ResourceProfile>,
    affinity: Option<MetadataAffinity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataAffinity {
    #[serde(default, alias = "WorkloadType", alias = "workload_type")]
    #[allow(dead_code)]
    workload_type: Option<String>,
    #[serde(alias = "RequiredLabels", alias = "requiredLabels")]
    required_labels: Option<BTreeMap<String, String>>,
    /// `"key=value": weight`, or `"key": weight` for presence.
    #[serde(alias = "PreferredLabels", alias = "preferredLabels")]
    preferred_labels: Option<BTreeMap<String, u32>>,
    #[serde(alias = "AntiAffinityRules", alias = "antiAffinityRules")]
    anti_affinity_rules: Option<Vec<String>>,
}

/// A YAML error's message on one line, without the parser's own (document-relative)
/// position, which the caller reports in file terms.
pub(crate) fn plain_message(e: &serde_saphyr::Error) -> String {
    let s = e.without_snippet().to_string();
    let s = s.strip_prefix("error: ").unwrap_or(&s);
    let s = s.lines().next().unwrap_or_default();
    let s = match s.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest,
        _ => s,
    };
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// The seed's six profiles, in its ConfigMap format.
pub const BUILTIN: &str = r#"profiles:
  web-application:
    resource_profile: {cpu_weight: 1.0, memory_weight: 1.0, network_weight: 0.8, storage_weight: 0.3, gpu_weight: 0.0}
    sla_requirements: {max_latency_ms: 200, availability_pct: 99.9, throughput_reqs: 5000, isolation_level: shared}
    node_affinity:
      required_labels:
        workload-type: "web"
      preferred_labels:
        instance-generation: "current" # weight: 100
        network-performance: "high" # weight: 80
      anti_affinity_rules:
        - "spot-instance=true"
  batch-job:
    resource_profile: {cpu_weight: 1.5, memory_weight: 1.2, network_weight: 0.3, storage_weight: 0.7, gpu_weight: 0.0}
    sla_requirements: {max_latency_ms: 5000, availability_pct: 99.0, throughput_reqs: 1000, isolation_level: shared}
    node_affinity:
      preferred_labels:
        instance-generation: "previous" # weight: 90
        spot-instance: "true" # weight: 100
  ml-training:
    resource_profile: {cpu_weight: 1.2, memory_weight: 1.5, network_weight: 0.9, storage_weight: 1.0, gpu_weight: 2.0}
    sla_requirements: {max_latency_ms: 10000, availability_pct: 99.5, throughput_reqs: 2000, isolation_level: dedicated}
    node_affinity:
      required_labels:
        accelerator: "gpu"
        gpu-type: "v100"
      preferred_labels:
        nvme-storage: "available" # weight: 90
        infiniband: "available" # weight: 100
  ml-inference:
    resource_profile: {cpu_weight: 0.8, memory_weight: 1.0, network_weight: 1.2, storage_weight: 0.5, gpu_weight: 1.5}
    sla_requirements: {max_latency_ms: 50, availability_pct: 99.99, throughput_reqs: 10000, isolation_level: shared}
    node_affinity:
      required_labels:
        accelerator: "gpu"
      preferred_labels:
        gpu-type: "t4" # weight: 100
        network-performance: "high" # weight: 90
  database:
    resource_profile: {cpu_weight: 1.0, memory_weight: 2.0, network_weight: 0.8, storage_weight: 2.0, gpu_weight: 0.0}
    sla_requirements: {max_latency_ms: 10, availability_pct: 99.99, throughput_reqs: 15000, isolation_level: dedicated}
    node_affinity:
      required_labels:
        storage-type: "nvme"
        workload-type: "stateful"
      preferred_labels:
        memory-optimized: "true" # weight: 100
        local-ssd: "available" # weight: 90
      anti_affinity_rules:
        - "spot-instance=true"
  cache:
    resource_profile: {cpu_weight: 0.7, memory_weight: 2.5, network_weight: 1.2, storage_weight: 0.2, gpu_weight: 0.0}
    sla_requirements: {max_latency_ms: 1, availability_pct: 99.9, throughput_reqs: 50000, isolation_level: shared}
    node_affinity:
      preferred_labels:
        memory-optimized: "true" # weight: 100
        network-performance: "high" # weight: 90
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn builtin_has_the_seeds_six_profiles_with_comment_weights() {
        let p = Profiles::parse(BUILTIN).unwrap();
        assert_eq!(
            p.names(),
            [
                "batch-job",
                "cache",
                "database",
                "ml-inference",
                "ml-training",
                "web-application"
            ]
        );
        let web = p.get("web-application").unwrap();
        assert_eq!(
            web.affinity.required_labels,
            labels(&[("workload-type", "web")])
        );
        let pref: Vec<(String, u32)> = web
            .affinity
            .preferred_labels
            .iter()
            .map(|l| (l.key.clone(), l.weight))
            .collect();
        assert_eq!(
            pref,
            [
                ("instance-generation".into(), 100),
                ("network-performance".into(), 80)
            ]
        );
        assert_eq!(
            web.affinity.anti_affinity_rules,
            [AntiAffinityRule {
                key: "spot-instance".into(),
                value: Some("true".into())
            }]
        );
        let db = p.get("database").unwrap();
        assert_eq!(db.sla.isolation_level, Isolation::Dedicated);
        assert!((db.sla.availability_pct - 99.99).abs() < 1e-9);
        assert_eq!(Profiles::builtin(), p);
    }

    #[test]
    fn anti_affinity_rules_need_key_and_value() {
        let rule = AntiAffinityRule::parse("spot-instance=true");
        assert!(rule.matches(&labels(&[("spot-instance", "true")])));
        assert!(!rule.matches(&labels(&[("spot-instance", "false")])));
        assert!(!rule.matches(&labels(&[])));
        let presence = AntiAffinityRule::parse("legacy");
        assert!(presence.matches(&labels(&[("legacy", "")])));
    }

    #[test]
    fn explicit_weights_and_errors_with_lines() {
        let doc = "profiles:\n  p:\n    resource_profile: {cpu_weight: 1, memory_weight: 1}\n    sla_requirements: {max_latency_ms: 5, availability_pct: 99.9, isolation_level: shared}\n    node_affinity:\n      preferred_labels:\n        a: {value: x, weight: 7}\n        b: y\n";
        let p = Profiles::parse(doc).unwrap_or_else(|e| panic!("{e}"));
        let w: Vec<u32> = p
            .get("p")
            .unwrap()
            .affinity
            .preferred_labels
            .iter()
            .map(|l| l.weight)
            .collect();
        assert_eq!(w, [7, DEFAULT_PREFERRED_WEIGHT]);

        let bad = "profiles:\n  p:\n    resource_profile: {cpu_weight: 1, memory_weight: 1}\n    sla_requirements: {max_latency_ms: 5, availability_pct: 99.9, isolation_level: sometimes}\n";
        let err = Profiles::parse(bad).unwrap_err();
        assert_eq!(err.line, 4, "{err}");

        let heavy = "profiles:\n  p:\n    resource_profile: {cpu_weight: 1, memory_weight: 1}\n    sla_requirements: {max_latency_ms: 5, availability_pct: 99.9, isolation_level: shared}\n    node_affinity:\n      preferred_labels:\n        a: x # weight: 500\n";
        let err = Profiles::parse(heavy).unwrap_err();
        assert!(err.message.contains("weight 500"), "{err}");
        assert_eq!(err.line, 2);

        let typo = "profiles:\n  p:\n    resource_profile: {cpu_weight: 1, memory_weight: 1}\n    sla_requirement: {}\n";
        assert!(Profiles::parse(typo).is_err());
    }

    #[test]
    fn pods_choose_profiles_by_label_and_annotation() {
        let p = Profiles::builtin();
        let none = p.resolve(&labels(&[]), &labels(&[])).unwrap();
        assert!(none.is_none());

        let web = p
            .resolve(
                &labels(&[(WORKLOAD_TYPE_LABEL, "web-application")]),
                &labels(&[]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(web.name, "web-application");

        let meta = r#"{"type": "cache", "sla": {"max_latency_ms": 3, "availability_pct": 99.99, "isolation_level": "dedicated"}, "affinity": {"preferred_labels": {"zone-tier=gold": 60}}}"#;
        let custom = p
            .resolve(
                &labels(&[(WORKLOAD_TYPE_LABEL, "web-application")]),
                &labels(&[(WORKLOAD_METADATA_ANNOTATION, meta)]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(custom.name, "cache", "the annotation's type wins");
        assert_eq!(custom.sla.isolation_level, Isolation::Dedicated);
        assert_eq!(
            custom.affinity.preferred_labels,
            [PreferredLabel {
                key: "zone-tier".into(),
                value: Some("gold".into()),
                weight: 60
            }]
        );
        assert_eq!(custom.resources, p.get("cache").unwrap().resources);

        let go_names = r#"{"sla": {"MaxLatencyMs": 3, "AvailabilityPct": 99.9, "IsolationLevel": "shared"}, "resource_profile": {"CPUWeight": 1, "MemoryWeight": 2}}"#;
        let from_go = p
            .resolve(
                &labels(&[]),
                &labels(&[(WORKLOAD_METADATA_ANNOTATION, go_names)]),
            )
            .unwrap()
            .unwrap();
        assert_eq!(from_go.sla.max_latency_ms, 3);
    }

    #[test]
    fn unknown_types_and_bad_metadata_are_errors() {
        let p = Profiles::builtin();
        let err = p
            .resolve(&labels(&[(WORKLOAD_TYPE_LABEL, "quantum")]), &labels(&[]))
            .unwrap_err();
        assert!(err.contains("unknown workload type \"quantum\""), "{err}");
        assert!(err.contains("web-application"), "{err}");
        for bad in [
            "{not json",
            r#"{"type": 3}"#,
            r#"{"colour": "red"}"#,
            r#"{"sla": {"max_latency_ms": 1}}"#,
        ] {
            let err = p
                .resolve(
                    &labels(&[]),
                    &labels(&[(WORKLOAD_METADATA_ANNOTATION, bad)]),
                )
                .unwrap_err();
            assert!(
                err.contains(WORKLOAD_METADATA_ANNOTATION) || err.contains("must give"),
                "{bad}: {err}"
            );
        }
    }
}
