//! The scheduler's Prometheus metrics. Labels are bounded (results, queues, reasons) —
//! never pod or node names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `result` label of scheduling attempts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `scheduled`, `unschedulable` or `error`.
    pub result: &'static str,
}

/// `queue` label of pending pods.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    /// `active`, `backoff`, `unschedulable` or `binding`.
    pub queue: &'static str,
}

/// `reason` label of bind errors.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `conflict`, `gone` or `other`.
    pub reason: &'static str,
}

/// `type` label of cache sizes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    /// `nodes`, `pods`, `pending` or `assumed`.
    pub r#type: &'static str,
}

/// All metrics.
pub struct Metrics {
    /// Duration of one scheduling attempt (engine cycle), by result.
    pub attempt_duration: Family<ResultLabel, Histogram>,
    /// From first seeing a pod pending to its successful binding.
    pub e2e_duration: Histogram,
    /// Pending pods by queue.
    pub pending: Family<QueueLabel, Gauge>,
    /// Failed bindings by reason.
    pub bind_errors: Family<ReasonLabel, Counter>,
    /// Pods deleted by preemption.
    pub preemption_victims: Counter,
    /// Preemption attempts that nominated a node.
    pub preemptions: Counter,
    /// Objects in the cache.
    pub cache_size: Family<TypeLabel, Gauge>,
    /// 1 while this instance leads.
    pub leader: Gauge,
    /// Profile reloads that were rejected (the last good profiles stay).
    pub profile_reload_errors: Counter,
    /// Failures of the profiles ConfigMap's watch (list/watch errors, retried).
    pub profile_watch_errors: Counter,
}

impl Metrics {
    /// Creates the metrics and registers them under `plinth_scheduler_`.
    pub fn new(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            attempt_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_01, 2.0, 20))
            }),
            e2e_duration: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
            pending: Family::default(),
            bind_errors: Family::default(),
            preemption_victims: Counter::default(),
            preemptions: Counter::default(),
            cache_size: Family::default(),
            leader: Gauge::default(),
            profile_reload_errors: Counter::default(),
            profile_watch_errors: Counter::default(),
        };
        // Every bounded label value exists from the start, so rates and alerts see 0
        // instead of an absent series.
        for reason in ["conflict", "gone", "other"] {
            drop(m.bind_errors.get_or_create(&ReasonLabel { reason }));
        }
        for result in ["scheduled", "unschedulable", "error"] {
            drop(m.attempt_duration.get_or_create(&ResultLabel { result }));
        }
        for queue in ["active", "backoff", "unschedulable", "binding"] {
            drop(m.pending.get_or_create(&QueueLabel { queue }));
        }
        let r = registry.sub_registry_with_prefix("plinth_scheduler");
        r.register(
            "scheduling_attempt_duration_seconds",
            "Duration of one scheduling attempt, by result",
            m.attempt_duration.clone(),
        );
        r.register(
            "pod_scheduling_duration_seconds",
            "End-to-end latency from a pod first seen pending to its binding",
            m.e2e_duration.clone(),
        );
        r.register("pending_pods", "Pending pods by queue", m.pending.clone());
        r.register(
            "bind_errors",
            "Failed bindings by reason",
            m.bind_errors.clone(),
        );
        r.register(
            "preemption_victims",
            "Pods deleted to make room for higher-priority pods",
            m.preemption_victims.clone(),
        );
        r.register(
            "preemption_attempts",
            "Preemptions that nominated a node",
            m.preemptions.clone(),
        );
        r.register(
            "cache_size",
            "Objects in the scheduler cache",
            m.cache_size.clone(),
        );
        r.register(
            "leader",
            "1 while this instance holds the leader lease",
            m.leader.clone(),
        );
        r.register(
            "profile_reload_errors",
            "Profile ConfigMap edits rejected (the last good profiles stay in force)",
            m.profile_reload_errors.clone(),
        );
        r.register(
            "profile_watch_errors",
            "Failed lists/watches of the profiles ConfigMap (retried with backoff; until the \
             first read succeeds nothing is scheduled)",
            m.profile_watch_errors.clone(),
        );
        m
    }
}
