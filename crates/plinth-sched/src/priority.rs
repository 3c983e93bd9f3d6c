//! Priority classes: the seed's five, and how a pod's priority is resolved.
//!
//! As the API server's Priority admission plugin does: `spec.priority` when set (it is,
//! on every admitted pod), else the value of the class named by
//! `spec.priorityClassName`, else the global-default class, else 0. The preemption policy
//! comes from the pod, else from its class, else `PreemptLowerPriority`.

use std::collections::BTreeMap;

use k8s_openapi::api::scheduling::v1::PriorityClass;

/// Whether a pod may preempt lower-priority pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreemptionPolicy {
    /// It may.
    PreemptLowerPriority,
    /// It waits instead.
    Never,
}

impl PreemptionPolicy {
    fn parse(s: &str) -> Option<PreemptionPolicy> {
        match s {
            "PreemptLowerPriority" => Some(PreemptionPolicy::PreemptLowerPriority),
            "Never" => Some(PreemptionPolicy::Never),
            _ => None,
        }
    }
}

/// One class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// Name.
    pub name: String,
    /// Priority value.
    pub value: i32,
    /// Whether pods without a class get it.
    pub global_default: bool,
    /// Preemption policy of its pods.
    pub preemption_policy: PreemptionPolicy,
    /// Description.
    pub description: String,
}

/// The known classes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriorityClasses {
    by_name: BTreeMap<String, Class>,
}

/// Why a class set or a pod's class is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PriorityError(pub String);

impl PriorityClasses {
    /// The seed's classes: critical 1000000, high 100000, medium 10000 (global default),
    /// low 1000 and best-effort 0 (both `preemptionPolicy: Never`).
    pub fn seed() -> PriorityClasses {
        let c = |name: &str, value, global_default, never: bool, description: &str| Class {
            name: name.to_owned(),
            value,
            global_default,
            preemption_policy: if never {
                PreemptionPolicy::Never
            } else {
                PreemptionPolicy::PreemptLowerPriority
            },
            description: description.to_owned(),
        };
        let classes = [
            c(
                "critical",
                1_000_000,
                false,
                false,
                "Critical system workloads",
            ),
            c(
                "high",
                100_000,
                false,
                false,
                "High priority application workloads",
            ),
            c(
                "medium",
                10_000,
                true,
                false,
                "Default priority for application workloads",
            ),
            c("low", 1_000, false, true, "Low priority batch workloads"),
            c(
                "best-effort",
                0,
                false,
                true,
                "Best effort workloads, can be preempted anytime",
            ),
        ];
        PriorityClasses {
            by_name: classes.into_iter().map(|c| (c.name.clone(), c)).collect(),
        }
    }

    /// Adds or replaces a class from its Kubernetes object.
    pub fn insert(&mut self, pc: &PriorityClass) -> Result<(), PriorityError> {
        let name = pc
            .metadata
            .name
            .clone()
            .ok_or_else(|| PriorityError("a PriorityClass needs a name".into()))?;
        let preemption_policy = match pc.preemption_policy.as_deref() {
            None => PreemptionPolicy::PreemptLowerPriority,
            Some(p) => PreemptionPolicy::parse(p).ok_or_else(|| {
                PriorityError(format!(
                    "PriorityClass {name}: preemptionPolicy {p:?} is not PreemptLowerPriority or Never"
                ))
            })?,
        };
        let value = pc
            .value
            .ok_or_else(|| PriorityError(format!("PriorityClass {name} has no value")))?;
        let class = Class {
            name: name.clone(),
            value,
            global_default: pc.global_default.unwrap_or(false),
            preemption_policy,
            description: pc.description.clone().unwrap_or_default(),
        };
        // The API server allows one global default; a class that claims it replaces it.
        if class.global_default {
            for c in self.by_name.values_mut() {
                if c.name != name {
                    c.global_default = false;
                }
            }
        }
        self.by_name.insert(name, class);
        Ok(())
    }

    /// The global-default class, if any.
    pub fn global_default(&self) -> Option<&Class> {
        self.by_name.values().find(|c| c.global_default)
    }

    /// A class by name.
    pub fn get(&self, name: &str) -> Option<&Class> {
        self.by_name.get(name)
    }

    /// All classes, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Class> {
        self.by_name.values()
    }

    /// Resolves a pod's priority and preemption policy.
    pub fn resolve(
        &self,
        priority: Option<i32>,
        class_name: Option<&str>,
        policy: Option<&str>,
    ) -> Result<(i32, PreemptionPolicy), String> {
        let class = match class_name.filter(|n| !n.is_empty()) {
            // An admitted pod carries its priority; the class is only a fallback.
            Some(name) if priority.is_some() => self.get(name),
            Some(name) => Some(self.get(name).ok_or_else(|| {
                format!(
                    "priority class {name:?} does not exist (known: {})",
                    self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?),
            None => self.global_default(),
        };
        let value = priority.or(class.map(|c| c.value)).unwrap_or(0);
        let policy = match policy {
            Some(p) => PreemptionPolicy::parse(p).ok_or_else(|| {
                format!("preemptionPolicy {p:?} is not PreemptLowerPriority or Never")
            })?,
            None => class.map_or(PreemptionPolicy::PreemptLowerPriority, |c| {
                c.preemption_policy
            }),
        };
        Ok((value, policy))
    }

    /// The classes as Kubernetes objects (for rendering and for applying).
    pub fn to_k8s(&self) -> Vec<PriorityClass> {
        self.by_name
            .values()
            .map(|c| PriorityClass {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(c.name.clone()),
                    ..Default::default()
                },
                value: Some(c.value),
                global_default: Some(c.global_default),
                description: Some(c.description.clone()),
                preemption_policy: Some(
                    match c.preemption_policy {
                        PreemptionPolicy::PreemptLowerPriority => "PreemptLowerPriority",
                        PreemptionPolicy::Never => "Never",
                    }
                    .to_owned(),
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_classes() {
        let pc = PriorityClasses::seed();
        let values: Vec<(String, i32)> = pc.iter().map(|c| (c.name.clone(), c.value)).collect();
        assert_eq!(
            values,
            [
                ("best-effort".into(), 0),
                ("critical".into(), 1_000_000),
                ("high".into(), 100_000),
                ("low".into(), 1_000),
                ("medium".into(), 10_000)
            ]
        );
        assert_eq!(pc.global_default().map(|c| c.name.as_str()), Some("medium"));
        assert_eq!(
            pc.get("low").unwrap().preemption_policy,
            PreemptionPolicy::Never
        );
        assert_eq!(
            pc.get("best-effort").unwrap().preemption_policy,
            PreemptionPolicy::Never
        );
        assert_eq!(pc.to_k8s().len(), 5);
    }

    #[test]
    fn resolution_order() {
        let pc = PriorityClasses::seed();
        assert_eq!(
            pc.resolve(Some(7), Some("high"), None).unwrap().0,
            7,
            "spec.priority wins"
        );
        assert_eq!(pc.resolve(None, Some("high"), None).unwrap().0, 100_000);
        assert_eq!(
            pc.resolve(None, None, None).unwrap().0,
            10_000,
            "global default"
        );
        assert_eq!(
            PriorityClasses::default()
                .resolve(None, None, None)
                .unwrap()
                .0,
            0
        );
        assert_eq!(
            pc.resolve(None, Some("low"), None).unwrap().1,
            PreemptionPolicy::Never
        );
        assert_eq!(
            pc.resolve(None, Some("low"), Some("PreemptLowerPriority"))
                .unwrap()
                .1,
            PreemptionPolicy::PreemptLowerPriority
        );
        assert!(
            pc.resolve(None, Some("urgent"), None)
                .unwrap_err()
                .contains("urgent")
        );
    }
}
