//! Scheduler configuration: the score weights, what counts as spot capacity, zone
//! latencies, and the workload profiles.

use std::collections::BTreeMap;

use crate::profile::Profiles;

/// The scheduler's name (`spec.schedulerName` of the pods it schedules).
pub const DEFAULT_SCHEDULER_NAME: &str = "enterprise-scheduler";

/// Weights of the composite score's parts (normalised to sum to 1 when used).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreWeights {
    /// Resource fit after placement (seed: 40%).
    pub resource: f64,
    /// Label and node-affinity preferences (seed: 25%).
    pub affinity: f64,
    /// Service-level fit (seed: 20%).
    pub sla: f64,
    /// Load balance across nodes and zones (seed: 15%).
    pub load_balance: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            resource: 0.40,
            affinity: 0.25,
            sla: 0.20,
            load_balance: 0.15,
        }
    }
}

impl ScoreWeights {
    /// The weights scaled to sum to 1; `None` if they are negative, not finite or all 0.
    pub fn normalised(&self) -> Option<ScoreWeights> {
        let all = [self.resource, self.affinity, self.sla, self.load_balance];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return None;
        }
        let sum: f64 = all.iter().sum();
        (sum > 0.0).then(|| ScoreWeights {
            resource: self.resource / sum,
            affinity: self.affinity / sum,
            sla: self.sla / sum,
            load_balance: self.load_balance / sum,
        })
    }
}

/// Everything configurable about the engine.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Which pods are ours.
    pub scheduler_name: String,
    /// Composite score weights.
    pub weights: ScoreWeights,
    /// Node labels (`key`, `value`) that mark spot/preemptible capacity.
    pub spot_labels: Vec<(String, String)>,
    /// Measured network latency from the workloads' clients to each zone, in ms. Zones
    /// without a figure are scored neutrally: plinth does not invent latencies.
    pub zone_latency_ms: BTreeMap<String, u32>,
    /// Workload profiles.
    pub profiles: Profiles,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_owned(),
            weights: ScoreWeights::default(),
            spot_labels: default_spot_labels(),
            zone_latency_ms: BTreeMap::new(),
            profiles: Profiles::builtin(),
        }
    }
}

/// The labels by which the common provisioners mark spot capacity.
pub fn default_spot_labels() -> Vec<(String, String)> {
    [
        ("spot-instance", "true"),
        ("karpenter.sh/capacity-type", "spot"),
        ("eks.amazonaws.com/capacityType", "SPOT"),
        ("cloud.google.com/gke-spot", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

impl SchedulerConfig {
    /// Whether a node's labels mark it as spot capacity.
    pub fn is_spot(&self, labels: &BTreeMap<String, String>) -> bool {
        self.spot_labels
            .iter()
            .any(|(k, v)| labels.get(k).is_some_and(|have| have == v))
    }
}
