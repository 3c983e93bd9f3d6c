//! Safe, ordered, resumable Kubernetes upgrades of a Cluster API cluster.
//!
//! The plan is computed from the live objects only (a KubeadmControlPlane and the
//! cluster's MachineDeployments, Cluster API v1beta2, as `serde_json::Value`), so running
//! it again after an interruption continues from where the objects are:
//!
//! 1. refuse downgrades, skips of a minor version (one minor at a time), pools ahead of
//!    the control plane, and targets that would leave a pool more than
//!    [`KUBELET_MAX_MINOR_SKEW`] minors behind the API server;
//! 2. the control plane first (unless it is at the target and rolled out);
//! 3. then each MachineDeployment in name order (those not yet at the target and rolled
//!    out).
//!
//! Every step carries the JSON merge patch to send (none when the object already asks
//! for the target and only the rollout is awaited) and [`UpgradeStep::is_done`], which
//! decides from a fresh copy of the object whether its rollout finished: desired ==
//! replicas == up-to-date == ready, every machine at the target version
//! (`status.versions`), and the controller has observed the latest generation.

use std::fmt;

use serde_json::{Value, json};

use crate::version::{KubeVersion, VersionError};

/// How many minor versions a kubelet may lag behind the API server (Kubernetes'
/// version skew policy since 1.28).
pub const KUBELET_MAX_MINOR_SKEW: u32 = 3;

/// Label Cluster API puts on control plane machines (value: the control plane's name).
pub const CONTROL_PLANE_NAME_LABEL: &str = "cluster.x-k8s.io/control-plane-name";
/// Label Cluster API puts on a MachineDeployment's machines (value: its name).
pub const DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";

/// Why an upgrade was refused or the objects could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// An object lacks a field the plan needs, or has it in the wrong shape.
    #[error("{object}: {field}: {message}")]
    Malformed {
        /// `Kind/name` of the object.
        object: String,
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A version field does not parse.
    #[error("{object}: {field}: {source}")]
    Version {
        /// `Kind/name` of the object.
        object: String,
        /// Dotted path of the field.
        field: String,
        /// The parse error.
        #[source]
        source: VersionError,
    },
    /// The target is older than what already runs.
    #[error("downgrade refused: {object} is at {current}, the target {target} is older")]
    Downgrade {
        /// `Kind/name` of the object that is newer than the target.
        object: String,
        /// Its version.
        current: KubeVersion,
        /// The requested version.
        target: KubeVersion,
    },
    /// The target skips a minor version (or changes the major version).
    #[error(
        "upgrade from {current} to {target} refused: upgrade one minor version at a time \
         (next: v{}.{}.x)", current.major, current.minor + 1
    )]
    SkipsMinor {
        /// The control plane's oldest version.
        current: KubeVersion,
        /// The requested version.
        target: KubeVersion,
    },
    /// A pool runs (or asks for) a newer version than the control plane.
    #[error(
        "{object} is at {pool}, ahead of the control plane at {control_plane}: \
         workers must never be newer than the control plane"
    )]
    WorkersAhead {
        /// `Kind/name` of the pool.
        object: String,
        /// The pool's version.
        pool: KubeVersion,
        /// The control plane's oldest version.
        control_plane: KubeVersion,
    },
    /// Upgrading the control plane would leave a pool too far behind.
    #[error(
        "{object} is at {pool}: with the control plane at {target} it would be more than \
         {KUBELET_MAX_MINOR_SKEW} minor versions behind; upgrade it first"
    )]
    TooFarBehind {
        /// `Kind/name` of the pool.
        object: String,
        /// The pool's version.
        pool: KubeVersion,
        /// The requested version.
        target: KubeVersion,
    },
}

/// Identifies one Cluster API object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// `KubeadmControlPlane`, `MachineDeployment` or `Machine`.
    pub kind: String,
    /// Namespace (empty when the object had none).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// A status condition (v1beta2 `metav1.Condition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Condition type, e.g. `Available`.
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Programmatic reason (may be empty).
    pub reason: String,
    /// Human-readable message (may be empty).
    pub message: String,
}

/// The rollout-relevant part of a KubeadmControlPlane's or MachineDeployment's status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollout {
    /// `spec.replicas` (desired machines); absent counts as 1 as the API defaults it.
    pub desired: u32,
    /// `status.replicas`: non-terminated machines.
    pub replicas: u32,
    /// `status.upToDateReplicas`.
    pub up_to_date: u32,
    /// `status.readyReplicas`.
    pub ready: u32,
    /// `status.versions`: machines per Kubernetes version (empty when not reported).
    pub versions: Vec<(KubeVersion, u32)>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `status.observedGeneration`.
    pub observed_generation: Option<i64>,
}

impl Rollout {
    /// Whether every desired machine exists, is up to date and ready at `version`, as
    /// the controller reports it for the latest generation.
    pub fn complete_at(&self, version: &KubeVersion) -> bool {
        let observed = match (self.generation, self.observed_generation) {
            (Some(g), Some(o)) => o >= g,
            (Some(_), None) => false,
            _ => true,
        };
        let counts = self.replicas == self.desired
            && self.up_to_date == self.desired
            && self.ready == self.desired;
        let versions = self.versions.iter().all(|(v, _)| v == version)
            && (self.versions.is_empty()
                || self.versions.iter().map(|(_, n)| *n).sum::<u32>() == self.desired);
        observed && counts && versions
    }

    /// The oldest version a machine runs, when reported.
    pub fn oldest(&self) -> Option<KubeVersion> {
        self.versions.iter().map(|(v, _)| *v).min()
    }

    /// The newest version a machine runs, when reported.
    pub fn newest(&self) -> Option<KubeVersion> {
        self.versions.iter().map(|(v, _)| *v).max()
    }
}

/// A versioned Cluster API object that rolls out machines: the control plane or a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Which object.
    pub key: ObjectKey,
    /// The version the object asks for (`spec.version` or
    /// `spec.template.spec.version`).
    pub spec_version: KubeVersion,
    /// Its rollout.
    pub rollout: Rollout,
    /// Its status conditions.
    pub conditions: Vec<Condition>,
    /// `spec.paused` (MachineDeployments) or the `cluster.x-k8s.io/paused` annotation.
    pub paused: bool,
}

impl Versioned {
    /// The oldest version among what it asks for and what its machines run.
    pub fn oldest(&self) -> KubeVersion {
        self.rollout
            .oldest()
            .map_or(self.spec_version, |v| v.min(self.spec_version))
    }

    /// The newest version among what it asks for and what its machines run.
    pub fn newest(&self) -> KubeVersion {
        self.rollout
            .newest()
            .map_or(self.spec_version, |v| v.max(self.spec_version))
    }

    /// Whether it asks for `version` and has finished rolling it out.
    pub fn done_at(&self, version: &KubeVersion) -> bool {
        self.spec_version == *version && self.rollout.complete_at(version)
    }
}

/// A Machine, for reporting what blocks a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    /// Which machine.
    pub key: ObjectKey,
    /// The control plane or MachineDeployment it belongs to (from its labels).
    pub owner: Option<String>,
    /// `spec.version`, if it parses.
    pub version: Option<KubeVersion>,
    /// `status.phase`.
    pub phase: String,
    /// Its status conditions.
    pub conditions: Vec<Condition>,
}

/// A cluster's upgrade-relevant state, read from live objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterState {
    /// The KubeadmControlPlane.
    pub control_plane: Versioned,
    /// The MachineDeployments, sorted by name.
    pub machine_deployments: Vec<Versioned>,
    /// Machines (optional; see [`ClusterState::with_machines`]).
    pub machines: Vec<MachineState>,
}

impl ClusterState {
    /// Reads a KubeadmControlPlane and the cluster's MachineDeployments (Cluster API
    /// v1beta2 objects as the API server returns them).
    pub fn from_objects(
        control_plane: &Value,
        machine_deployments: &[Value],
    ) -> Result<ClusterState, UpgradeError> {
        let cp = read_versioned(control_plane, "KubeadmControlPlane", &["spec", "version"])?;
        let mut mds = machine_deployments
            .iter()
            .map(|md| {
                read_versioned(
                    md,
                    "MachineDeployment",
                    &["spec", "template", "spec", "version"],
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        mds.sort_by(|a, b| a.key.name.cmp(&b.key.name));
        Ok(ClusterState {
            control_plane: cp,
            machine_deployments: mds,
            machines: Vec::new(),
        })
    }

    /// Adds the cluster's Machines, so [`blocking`] can name the machines that hold a
    /// rollout up. Machines whose fields are missing are kept with what is known.
    pub fn with_machines(mut self, machines: &[Value]) -> ClusterState {
        let mut out: Vec<MachineState> = machines.iter().map(read_machine).collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        self.machines = out;
        self
    }
}

/// One step of an upgrade.
#[derive(Debug, Clone, PartialEq)]
pub struct UpgradeStep {
    /// The object to change.
    pub object: ObjectKey,
    /// The version it asks for now.
    pub from: KubeVersion,
    /// The version it is brought to.
    pub to: KubeVersion,
    /// JSON merge patch to apply; `None` when the object already asks for the target
    /// and only its rollout is awaited (an interrupted run).
    pub patch: Option<Value>,
    /// Templates the patch points at, to be created (server-side applied) before it is
    /// sent; see [`with_templates`]. Empty for a version-only patch.
    pub templates: Vec<Value>,
}

impl UpgradeStep {
    /// Whether the step finished, judged from a fresh copy of its object: it asks for
    /// the target version and its rollout is complete at it (desired == replicas ==
    /// up-to-date == ready, all machines at the target, latest generation observed).
    pub fn is_done(&self, object: &Value) -> Result<bool, UpgradeError> {
        let path: &[&str] = if self.object.kind == "KubeadmControlPlane" {
            &["spec", "version"]
        } else {
            &["spec", "template", "spec", "version"]
        };
        let v = read_versioned(object, &self.object.kind, path)?;
        Ok(v.done_at(&self.to))
    }

    /// A one-line description for a printed plan.
    pub fn describe(&self) -> String {
        let templates: Vec<&str> = self
            .templates
            .iter()
            .filter_map(|t| t["metadata"]["name"].as_str())
            .collect();
        let with = if templates.is_empty() {
            String::new()
        } else {
            format!(" (templates {})", templates.join(", "))
        };
        let change = match &self.patch {
            Some(_) => format!("{} -> {}", self.from, self.to),
            None => format!("already asks for {}", self.to),
        };
        format!("{}: {change}{with}, wait for the rollout", self.object)
    }
}

/// An ordered upgrade: control plane first, then pools by name.
#[derive(Debug, Clone, PartialEq)]
pub struct UpgradePlan {
    /// The target version.
    pub target: KubeVersion,
    /// The control plane's oldest version when the plan was made.
    pub control_plane_from: KubeVersion,
    /// Steps in order; empty when everything is at the target and rolled out.
    pub steps: Vec<UpgradeStep>,
}

impl UpgradePlan {
    /// Whether nothing is left to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Plans the upgrade of `current` to `target`, or says why it is refused.
pub fn plan(current: &ClusterState, target: &KubeVersion) -> Result<UpgradePlan, UpgradeError> {
    let cp = &current.control_plane;
    let cp_oldest = cp.oldest();
    // Downgrades: nothing may run or ask for a newer version than the target.
    for obj in std::iter::once(cp).chain(&current.machine_deployments) {
        let newest = obj.newest();
        if newest > *target {
            return Err(UpgradeError::Downgrade {
                object: obj.key.to_string(),
                current: newest,
                target: *target,
            });
        }
    }
    // One minor at a time, counted from the oldest control plane machine.
    if target.major != cp_oldest.major || target.minor > cp_oldest.minor + 1 {
        return Err(UpgradeError::SkipsMinor {
            current: cp_oldest,
            target: *target,
        });
    }
    for md in &current.machine_deployments {
        let newest = md.newest();
        if newest > cp_oldest {
            return Err(UpgradeError::WorkersAhead {
                object: md.key.to_string(),
                pool: newest,
                control_plane: cp_oldest,
            });
        }
        let oldest = md.oldest();
        if oldest.major != target.major || oldest.minor + KUBELET_MAX_MINOR_SKEW < target.minor {
            return Err(UpgradeError::TooFarBehind {
                object: md.key.to_string(),
                pool: oldest,
                target: *target,
            });
        }
    }
    let mut steps = Vec::new();
    if !cp.done_at(target) {
        steps.push(step(
            cp,
            target,
            json!({"spec": {"version": target.to_string()}}),
        ));
    }
    for md in &current.machine_deployments {
        if !md.done_at(target) {
            steps.push(step(
                md,
                target,
                json!({"spec": {"template": {"spec": {"version": target.to_string()}}}}),
            ));
        }
    }
    Ok(UpgradePlan {
        target: *target,
        control_plane_from: cp_oldest,
        steps,
    })
}

fn step(obj: &Versioned, target: &KubeVersion, patch: Value) -> UpgradeStep {
    UpgradeStep {
        object: obj.key.clone(),
        from: obj.spec_version,
        to: *target,
        patch: (obj.spec_version != *target).then_some(patch),
        templates: Vec::new(),
    }
}

/// Moves the machine templates along with the version: `rendered` is the cluster's
/// recorded spec rendered at the plan's target (templates are named by content, so an
/// image pinned for the target in `spec.machineImages` makes new ones). Each step that
/// patches a control plane or MachineDeployment the render holds also points it at the
/// rendered templates, in the same patch as the version, so the rollout replaces every
/// machine once; the step lists those templates, which must exist before the patch.
/// Objects the render does not hold keep a version-only patch. Unchanged template names
/// make the reference part of a patch a no-op.
pub fn with_templates(mut plan: UpgradePlan, rendered: &[Value]) -> UpgradePlan {
    let find = |kind: &str, name: &str| {
        rendered
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    };
    for step in &mut plan.steps {
        let Some(patch) = step.patch.as_mut() else {
            continue;
        };
        let Some(object) = find(&step.object.kind, &step.object.name) else {
            continue;
        };
        let refs: Vec<(&[&str], &Value)> = if step.object.kind == "KubeadmControlPlane" {
            vec![(
                &["spec", "machineTemplate", "spec", "infrastructureRef"][..],
                &object["spec"]["machineTemplate"]["spec"]["infrastructureRef"],
            )]
        } else {
            vec![
                (
                    &["spec", "template", "spec", "infrastructureRef"][..],
                    &object["spec"]["template"]["spec"]["infrastructureRef"],
                ),
                (
                    &["spec", "template", "spec", "bootstrap", "configRef"][..],
                    &object["spec"]["template"]["spec"]["bootstrap"]["configRef"],
                ),
            ]
        };
        for (path, reference) in refs {
            let (Some(kind), Some(name)) = (reference["kind"].as_str(), reference["name"].as_str())
            else {
                continue;
            };
            let Some(template) = find(kind, name) else {
                continue;
            };
            let mut at = &mut *patch;
            for key in path {
                at = &mut at[*key];
            }
            *at = reference.clone();
            step.templates.push(template.clone());
        }
    }
    plan
}

/// Condition types whose `True` status is the noteworthy one (v1beta2 negative
/// polarity): reported when `True`.
const NEGATIVE_POLARITY: &[&str] = &["Paused", "Deleting", "Remediating"];
/// Condition types that describe progress rather than health: never reported.
const PROGRESS: &[&str] = &["RollingOut", "ScalingUp", "ScalingDown"];

fn blocking_conditions(conditions: &[Condition]) -> impl Iterator<Item = &Condition> {
    conditions.iter().filter(|c| {
        if PROGRESS.contains(&c.type_.as_str()) {
            false
        } else if NEGATIVE_POLARITY.contains(&c.type_.as_str()) {
            c.status == "True"
        } else {
            c.status == "False"
        }
    })
}

fn describe_condition(c: &Condition) -> String {
    let mut s = format!("{}={}", c.type_, c.status);
    if !c.reason.is_empty() {
        s.push_str(&format!(" ({})", c.reason));
    }
    if !c.message.is_empty() {
        s.push_str(&format!(": {}", c.message.trim()));
    }
    s
}

/// What holds up unfinished rollouts: for each control plane or pool whose rollout is
/// not complete at the version it asks for, its counts, a pause, its `False`
/// conditions (and `True` Paused/Deleting/Remediating) with reasons and messages, and
/// the same for its machines (when [`ClusterState::with_machines`] supplied them) that
/// are not at the version or report a blocking condition. Empty when nothing rolls out.
pub fn blocking(state: &ClusterState) -> Vec<String> {
    let mut out = Vec::new();
    for obj in std::iter::once(&state.control_plane).chain(&state.machine_deployments) {
        if obj.done_at(&obj.spec_version) {
            continue;
        }
        let r = &obj.rollout;
        out.push(format!(
            "{}: rolling out {}: desired {}, replicas {}, up-to-date {}, ready {}",
            obj.key, obj.spec_version, r.desired, r.replicas, r.up_to_date, r.ready
        ));
        if obj.paused {
            out.push(format!("{}: paused", obj.key));
        }
        for c in blocking_conditions(&obj.conditions) {
            out.push(format!("{}: {}", obj.key, describe_condition(c)));
        }
        for m in state
            .machines
            .iter()
            .filter(|m| m.owner.as_deref() == Some(obj.key.name.as_str()))
        {
            let behind = m.version.is_some_and(|v| v != obj.spec_version);
            let conds: Vec<&Condition> = blocking_conditions(&m.conditions).collect();
            if !behind && conds.is_empty() {
                continue;
            }
            let version = m.version.map_or_else(|| "?".to_owned(), |v| v.to_string());
            out.push(format!("{}: {version}, phase {}", m.key, m.phase));
            for c in conds {
                out.push(format!("{}: {}", m.key, describe_condition(c)));
            }
        }
    }
    out
}

// --- reading objects -------------------------------------------------------------

fn key_of(obj: &Value, default_kind: &str) -> ObjectKey {
    let s = |path: &[&str]| get(obj, path).and_then(Value::as_str).unwrap_or("");
    let kind = s(&["kind"]);
    ObjectKey {
        kind: if kind.is_empty() { default_kind } else { kind }.to_owned(),
        namespace: s(&["metadata", "namespace"]).to_owned(),
        name: s(&["metadata", "name"]).to_owned(),
    }
}

fn get<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

fn malformed(key: &ObjectKey, path: &[&str], message: &str) -> UpgradeError {
    UpgradeError::Malformed {
        object: key.to_string(),
        field: path.join("."),
        message: message.to_owned(),
    }
}

fn version_at(obj: &Value, key: &ObjectKey, path: &[&str]) -> Result<KubeVersion, UpgradeError> {
    let s = get(obj, path)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(key, path, "missing or not a string"))?;
    s.parse().map_err(|source| UpgradeError::Version {
        object: key.to_string(),
        field: path.join("."),
        source,
    })
}

fn count_at(
    obj: &Value,
    key: &ObjectKey,
    path: &[&str],
    default: u32,
) -> Result<u32, UpgradeError> {
    match get(obj, path) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| malformed(key, path, "not a non-negative integer")),
    }
}

fn conditions_of(obj: &Value) -> Vec<Condition> {
    let Some(list) = get(obj, &["status", "conditions"]).and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            Condition {
                type_: s("type"),
                status: s("status"),
                reason: s("reason"),
                message: s("message"),
            }
        })
        .collect()
}

fn read_versioned(
    obj: &Value,
    kind: &str,
    version_path: &[&str],
) -> Result<Versioned, UpgradeError> {
    let key = key_of(obj, kind);
    if key.kind != kind {
        return Err(malformed(&key, &["kind"], &format!("expected {kind}")));
    }
    if key.name.is_empty() {
        return Err(malformed(&key, &["metadata", "name"], "missing"));
    }
    let spec_version = version_at(obj, &key, version_path)?;
    let mut versions = Vec::new();
    if let Some(list) = get(obj, &["status", "versions"]) {
        let list = list
            .as_array()
            .ok_or_else(|| malformed(&key, &["status", "versions"], "not a list"))?;
        for (i, item) in list.iter().enumerate() {
            let idx = i.to_string();
            let v = version_at(item, &key, &["version"]).map_err(|e| match e {
                UpgradeError::Version { object, source, .. } => UpgradeError::Version {
                    object,
                    field: format!("status.versions[{idx}].version"),
                    source,
                },
                other => other,
            })?;
            let n = count_at(item, &key, &["replicas"], 0)?;
            versions.push((v, n));
        }
    } else if kind == "KubeadmControlPlane"
        && let Some(Value::String(s)) = get(obj, &["status", "version"])
    {
        // Deprecated minimum version: better than nothing when `versions` is absent.
        let v = s.parse().map_err(|source| UpgradeError::Version {
            object: key.to_string(),
            field: "status.version".to_owned(),
            source,
        })?;
        let n = count_at(obj, &key, &["status", "replicas"], 0)?;
        versions.push((v, n));
    }
    let generation = get(obj, &["metadata", "generation"]).and_then(Value::as_i64);
    let observed_generation = get(obj, &["status", "observedGeneration"]).and_then(Value::as_i64);
    let rollout = Rollout {
        desired: count_at(obj, &key, &["spec", "replicas"], 1)?,
        replicas: count_at(obj, &key, &["status", "replicas"], 0)?,
        up_to_date: count_at(obj, &key, &["status", "upToDateReplicas"], 0)?,
        ready: count_at(obj, &key, &["status", "readyReplicas"], 0)?,
        versions,
        generation,
        observed_generation,
    };
    let paused = get(obj, &["spec", "paused"]).and_then(Value::as_bool) == Some(true)
        || get(obj, &["metadata", "annotations", "cluster.x-k8s.io/paused"]).is_some();
    Ok(Versioned {
        key,
        spec_version,
        rollout,
        conditions: conditions_of(obj),
        paused,
    })
}

fn read_machine(obj: &Value) -> MachineState {
    let key = key_of(obj, "Machine");
    let label = |l: &str| {
        get(obj, &["metadata", "labels", l])
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    MachineState {
        owner: label(CONTROL_PLANE_NAME_LABEL).or_else(|| label(DEPLOYMENT_NAME_LABEL)),
        version: get(obj, &["spec", "version"])
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        phase: get(obj, &["status", "phase"])
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        conditions: conditions_of(obj),
        key,
    }
}
