//! kube-scheduler's scheduling queue: an active queue (highest priority first, then the
//! earliest arrival), a backoff queue (1 s doubling to 10 s per failed attempt) and the
//! unschedulable pods, which wait for a change in the cluster (or 5 minutes) before they
//! are tried again.
//!
//! The queue reads no clock: every call takes `now`, a [`Duration`] since any fixed
//! epoch the caller chooses. The live scheduler passes real time; the simulator and the
//! tests pass whatever they like.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Initial backoff after a failed attempt.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Backoff ceiling.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long an unschedulable pod waits without any cluster change before it is retried.
pub const MAX_UNSCHEDULABLE_WAIT: Duration = Duration::from_secs(300);

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Ready to be tried.
    Active,
    /// Waiting out its backoff.
    Backoff,
    /// Waiting for the cluster to change.
    Unschedulable,
    /// Popped, being scheduled.
    InFlight,
}

/// A pod in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPod {
    /// `namespace/name`.
    pub key: String,
    /// Priority.
    pub priority: i32,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When it (re-)entered the queue; orders pods of equal priority.
    pub timestamp: Duration,
    /// When it last failed.
    pub failed_at: Duration,
}

impl QueuedPod {
    /// When its backoff ends.
    pub fn backoff_until(&self) -> Duration {
        if self.attempts == 0 {
            return self.failed_at;
        }
        let shift = (self.attempts - 1).min(16);
        let backoff = INITIAL_BACKOFF.saturating_mul(1 << shift).min(MAX_BACKOFF);
        self.failed_at + backoff
    }
}

type ActiveKey = (Reverse<i32>, Duration, u64, String);
type BackoffKey = (Duration, u64, String);

/// The queue.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    pods: HashMap<String, (QueuedPod, Stage, u64)>,
    active: BTreeSet<ActiveKey>,
    backoff: BTreeSet<BackoffKey>,
    unschedulable: BTreeSet<String>,
    seq: u64,
}

/// Counts per stage (for metrics and reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Ready to be tried.
    pub active: usize,
    /// Backing off.
    pub backoff: usize,
    /// Waiting for a cluster change.
    pub unschedulable: usize,
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new() -> SchedulingQueue {
        SchedulingQueue::default()
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn detach(&mut self, key: &str) -> Option<QueuedPod> {
        let (pod, stage, seq) = self.pods.remove(key)?;
        match stage {
            Stage::Active => {
                self.active
                    .remove(&(Reverse(pod.priority), pod.timestamp, seq, pod.key.clone()));
            }
            Stage::Backoff => {
                self.backoff
                    .remove(&(pod.backoff_until(), seq, pod.key.clone()));
            }
            Stage::Unschedulable => {
                self.unschedulable.remove(&pod.key);
            }
            Stage::InFlight => {}
        }
        Some(pod)
    }

    fn push_active(&mut self, pod: QueuedPod) {
        let seq = self.next_seq();
        self.active
            .insert((Reverse(pod.priority), pod.timestamp, seq, pod.key.clone()));
        self.pods.insert(pod.key.clone(), (pod, Stage::Active, seq));
    }

    fn push_backoff(&mut self, pod: QueuedPod) {
        let seq = self.next_seq();
        self.backoff
            .insert((pod.backoff_until(), seq, pod.key.clone()));
        self.pods
            .insert(pod.key.clone(), (pod, Stage::Backoff, seq));
    }

    /// Adds a new pending pod (or updates the priority of a queued one).
    pub fn add(&mut self, key: impl Into<String>, priority: i32, now: Duration) {
        let key = key.into();
        let pod = match self.detach(&key) {
            Some(mut existing) => {
                existing.priority = priority;
                existing
            }
            None => QueuedPod {
                key,
                priority,
                attempts: 0,
                timestamp: now,
                failed_at: now,
            },
        };
        self.push_active(pod);
    }

    /// Forgets a pod (deleted, or bound by someone else).
    pub fn delete(&mut self, key: &str) {
        self.detach(key);
    }

    /// Moves pods whose backoff has ended to the active queue, and unschedulable pods
    /// that have waited [`MAX_UNSCHEDULABLE_WAIT`].
    pub fn flush(&mut self, now: Duration) {
        while let Some((until, _, key)) = self.backoff.first().cloned() {
            if until > now {
                break;
            }
            if let Some(pod) = self.detach(&key) {
                self.push_active(pod);
            }
        }
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.pods.get(*k).is_some_and(|(p, _, _)| {
                    now.saturating_sub(p.failed_at) >= MAX_UNSCHEDULABLE_WAIT
                })
            })
            .cloned()
            .collect();
        for key in stale {
            self.requeue(&key, now);
        }
    }

    /// The next pod to try: highest priority, then earliest timestamp.
    pub fn pop(&mut self, now: Duration) -> Option<QueuedPod> {
        self.flush(now);
        let (_, _, _, key) = self.active.pop_first()?;
        let (pod, stage, seq) = self.pods.get_mut(&key)?;
        *stage = Stage::InFlight;
        let _ = seq;
        Some(pod.clone())
    }

    /// A popped pod did not fit: it waits for a cluster change.
    pub fn unschedulable(&mut self, key: &str, now: Duration) {
        if let Some(mut pod) = self.detach(key) {
            pod.attempts += 1;
            pod.failed_at = now;
            self.unschedulable.insert(pod.key.clone());
            let seq = self.next_seq();
            self.pods
                .insert(pod.key.clone(), (pod, Stage::Unschedulable, seq));
        }
    }

    /// A popped pod hit an error (a failed bind): it backs off and is retried.
    pub fn error(&mut self, key: &str, now: Duration) {
        if let Some(mut pod) = self.detach(key) {
            pod.attempts += 1;
            pod.failed_at = now;
            self.push_backoff(pod);
        }
    }

    /// A popped pod was placed: it leaves the queue.
    pub fn done(&mut self, key: &str) {
        self.detach(key);
    }

    fn requeue(&mut self, key: &str, now: Duration) {
        if let Some(mut pod) = self.detach(key) {
            pod.timestamp = now;
            if pod.backoff_until() > now {
                self.push_backoff(pod);
            } else {
                self.push_active(pod);
            }
        }
    }

    /// The cluster changed (a node added or freed, a pod deleted): every unschedulable
    /// pod is tried again, after whatever backoff it still owes.
    pub fn cluster_changed(&mut self, now: Duration) {
        let keys: Vec<String> = self.unschedulable.iter().cloned().collect();
        for key in keys {
            self.requeue(&key, now);
        }
    }

    /// When the next backed-off pod becomes ready, if any.
    pub fn next_ready_at(&self) -> Option<Duration> {
        self.backoff.first().map(|(t, _, _)| *t)
    }

    /// The stage of a pod.
    pub fn stage(&self, key: &str) -> Option<Stage> {
        self.pods.get(key).map(|(_, s, _)| *s)
    }

    /// Counts per stage.
    pub fn counts(&self) -> QueueCounts {
        QueueCounts {
            active: self.active.len(),
            backoff: self.backoff.len(),
            unschedulable: self.unschedulable.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn priority_then_arrival() {
        let mut q = SchedulingQueue::new();
        q.add("d/low", 1000, s(0.0));
        q.add("d/high-late", 100_000, s(2.0));
        q.add("d/high-early", 100_000, s(1.0));
        q.add("d/critical", 1_000_000, s(3.0));
        let order: Vec<String> = std::iter::from_fn(|| q.pop(s(4.0)).map(|p| p.key)).collect();
        assert_eq!(
            order,
            ["d/critical", "d/high-early", "d/high-late", "d/low"]
        );
    }

    #[test]
    fn backoff_doubles_from_one_to_ten_seconds() {
        let mut q = SchedulingQueue::new();
        q.add("d/p", 0, s(0.0));
        let mut now = s(0.0);
        let mut waits = Vec::new();
        for _ in 0..6 {
            let p = q.pop(now).expect("ready");
            q.error(&p.key, now);
            assert!(q.pop(now).is_none(), "still backing off");
            let ready = q.next_ready_at().expect("backing off");
            waits.push((ready - now).as_secs());
            now = ready;
        }
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn unschedulable_pods_wait_for_a_cluster_change() {
        let mut q = SchedulingQueue::new();
        q.add("d/p", 0, s(0.0));
        let p = q.pop(s(0.0)).unwrap();
        q.unschedulable(&p.key, s(0.0));
        assert_eq!(q.stage("d/p"), Some(Stage::Unschedulable));
        assert!(q.pop(s(30.0)).is_none(), "no change, no retry");
        q.cluster_changed(s(30.0));
        assert_eq!(q.pop(s(30.0)).map(|p| p.key).as_deref(), Some("d/p"));

        // A change within the backoff window sends it to backoff first.
        q.unschedulable("d/p", s(30.0));
        q.cluster_changed(s(30.5));
        assert_eq!(q.stage("d/p"), Some(Stage::Backoff));
        assert!(q.pop(s(31.0)).is_none(), "second failure: 2 s backoff");
        assert!(q.pop(s(32.0)).is_some());

        // Without any change, retried after 5 minutes.
        q.unschedulable("d/p", s(40.0));
        assert!(q.pop(s(339.0)).is_none());
        assert!(q.pop(s(340.0)).is_some());
    }

    #[test]
    fn delete_and_done_forget_pods() {
        let mut q = SchedulingQueue::new();
        q.add("d/a", 0, s(0.0));
        q.add("d/b", 0, s(0.0));
        q.delete("d/a");
        let b = q.pop(s(0.0)).unwrap();
        q.done(&b.key);
        assert!(q.pop(s(100.0)).is_none());
        assert_eq!(q.counts(), QueueCounts::default());
    }

    proptest! {
        /// Whatever happens, a pod is in exactly one place and pops come out in
        /// priority order among those active at the time.
        #[test]
        fn pops_respect_priority(ops in proptest::collection::vec((0u8..4, 0usize..6, -5i32..5), 1..80)) {
            let mut q = SchedulingQueue::new();
            let mut now = Duration::ZERO;
            for (op, pod, prio) in ops {
                now += Duration::from_millis(700);
                let key = format!("d/p{pod}");
                match op {
                    0 => q.add(key.clone(), prio, now),
                    1 => {
                        if let Some(p) = q.pop(now) {
                            let active_max = q.active.first().map(|(Reverse(p), ..)| *p);
                            prop_assert!(active_max.is_none_or(|m| m <= p.priority));
                            q.unschedulable(&p.key, now);
                        }
                    }
                    2 => q.cluster_changed(now),
                    _ => {
                        if let Some(p) = q.pop(now) {
                            q.error(&p.key, now);
                        }
                    }
                }
                let c = q.counts();
                let in_flight = q.pods.values().filter(|(_, s, _)| *s == Stage::InFlight).count();
                prop_assert_eq!(c.active + c.backoff + c.unschedulable + in_flight, q.pods.len());
            }
        }
    }
}
