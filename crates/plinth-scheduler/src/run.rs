//! The scheduling loop: apply watch changes, pop the queue, decide with the engine,
//! assume, bind in parallel (bounded), preempt, report — while leading.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1 as core;
use kube::Client;
use plinth_sched::Scheduler;
use plinth_sched::config::SchedulerConfig;
use plinth_sched::preemption::preempt;
use plinth_sched::queue::{QueuedPod, SchedulingQueue};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::api::{BindOutcome, Limits, Writer};
use crate::changes::{Change, watch_all};
use crate::leader::{ElectionConfig, Elector};
use crate::metrics::{Metrics, QueueLabel, ReasonLabel, ResultLabel, TypeLabel};
use crate::profiles::{self, Reload};
use crate::server::{self, Health, ServerError, Tls};
use crate::state::{Assumption, ClusterState};

/// Pods scheduled per loop turn before changes are applied again.
const BATCH: usize = 64;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `spec.schedulerName` of the pods to schedule.
    pub scheduler_name: String,
    /// The policies ConfigMap to watch (`namespace`, `name`), if any.
    pub profiles_configmap: Option<(String, String)>,
    /// Configuration before (or without) the ConfigMap.
    pub base_config: SchedulerConfig,
    /// Client-side request limits.
    pub limits: Limits,
    /// Where to serve `/metrics`, `/healthz`, `/readyz` (HTTPS); `None` for nowhere.
    pub metrics_addr: Option<SocketAddr>,
    /// The serving certificate.
    pub tls: Tls,
    /// Leader election, if enabled.
    pub election: Option<ElectionConfig>,
    /// Bindings in flight at most.
    pub bind_parallelism: usize,
    /// This instance's name (events' reporting instance).
    pub instance: String,
}

/// Why the scheduler stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The metrics server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The lease was lost; binding stopped at once.
    #[error("lost the leader lease; stopped binding (a replica that holds the lease takes over)")]
    LostLeadership,
    /// The loop task failed.
    #[error("the scheduling loop stopped unexpectedly: {0}")]
    Crashed(String),
}

/// A running scheduler.
pub struct Running {
    /// Where metrics are served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    stop: Arc<watch::Sender<bool>>,
    task: JoinHandle<Result<(), RunError>>,
}

/// Asks a running scheduler to stop (usable after [`Running::join`] took the handle).
#[derive(Clone)]
pub struct StopHandle(Arc<watch::Sender<bool>>);

impl StopHandle {
    /// Asks for a graceful stop.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Running {
    /// Asks for a graceful stop: no new decisions, in-flight bindings finish, the lease
    /// is released.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// A handle that can stop the scheduler later.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop.clone())
    }

    /// Waits until the scheduler has stopped.
    pub async fn join(self) -> Result<(), RunError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(RunError::Crashed(e.to_string())),
        }
    }
}

/// Starts the scheduler.
pub async fn start(client: Client, options: Options) -> Result<Running, RunError> {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::new(&mut registry));
    let health = Arc::new(Health::default());
    let server = match options.metrics_addr {
        Some(addr) => {
            Some(server::start(addr, &options.tls, Arc::new(registry), health.clone()).await?)
        }
        None => None,
    };
    let metrics_addr = server.as_ref().map(|s| s.addr);
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let result = Loop::new(client, options, metrics, health.clone())
            .run(stop_rx)
            .await;
        if result.is_err() {
            health.broken.store(true, Ordering::Relaxed);
        }
        if let Some(s) = server {
            s.shutdown();
        }
        result
    });
    Ok(Running {
        metrics_addr,
        stop: Arc::new(stop_tx),
        task,
    })
}

struct BindDone {
    key: String,
    raw: Arc<core::Pod>,
    node: String,
    first_seen: Instant,
    outcome: BindOutcome,
}

struct Loop {
    client: Client,
    options: Options,
    state: ClusterState,
    queue: SchedulingQueue,
    engine: Scheduler,
    writer: Writer,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    epoch: Instant,
    binds: JoinSet<BindDone>,
    aux: JoinSet<()>,
    /// The profiles ConfigMap (when one is named) has been read once.
    profiles_synced: bool,
    /// The profiles watch's last error while it has not been read yet.
    profiles_error: Option<String>,
}

impl Loop {
    fn new(client: Client, options: Options, metrics: Arc<Metrics>, health: Arc<Health>) -> Loop {
        let config = Arc::new(options.base_config.clone());
        let writer = Writer::new(
            client.clone(),
            options.limits,
            &options.scheduler_name,
            &options.instance,
        );
        Loop {
            state: ClusterState::new(options.scheduler_name.clone(), config.clone()),
            engine: Scheduler::new((*config).clone()),
            queue: SchedulingQueue::new(),
            writer,
            client,
            options,
            metrics,
            health,
            epoch: Instant::now(),
            binds: JoinSet::new(),
            aux: JoinSet::new(),
            profiles_synced: false,
            profiles_error: None,
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), RunError> {
        let (mut changes, watches) = watch_all(&self.client);
        let (mut reloads, reload_task) = match &self.options.profiles_configmap {
            Some((ns, name)) => {
                let (rx, h) = profiles::watch(
                    &self.client,
                    ns,
                    name,
                    Arc::new(self.options.base_config.clone()),
                );
                (Some(rx), Some(h))
            }
            None => (None, None),
        };
        // With a profiles ConfigMap, nothing is scheduled before its first read: a pod
        // placed with the built-in profiles would not be moved when the configured ones
        // arrive a moment later.
        self.profiles_synced = reloads.is_none();
        // The election starts only once this instance could schedule (caches listed,
        // profiles read): a replica that cannot read its profiles — say its RBAC lacks
        // the ConfigMap — must not hold the Lease and keep a working replica idle.
        let (mut elector, mut leader_rx, mut election_stop, mut election_task) =
            (None, None, None, None);
        let mut was_leading = false;
        let result = loop {
            let synced = self.state.synced() && self.profiles_synced;
            if synced
                && elector.is_none()
                && let Some(cfg) = &self.options.election
            {
                let (e, rx) = Elector::new(self.client.clone(), cfg.clone());
                let (stop_tx, stop_rx) = watch::channel(false);
                election_task = Some(tokio::spawn(e.clone().run(stop_rx)));
                elector = Some(e);
                leader_rx = Some(rx);
                election_stop = Some(stop_tx);
            }
            let leading = match &elector {
                Some(e) => e.is_leader().await,
                None => self.options.election.is_none(),
            };
            self.metrics.leader.set(i64::from(leading));
            if was_leading && !leading {
                // Not one more binding: what is in flight is abandoned.
                self.binds.abort_all();
                self.aux.abort_all();
                break Err(RunError::LostLeadership);
            }
            was_leading = leading;
            let now = self.now();
            self.queue.flush(now);
            if !synced {
                self.publish_waiting_for();
            }
            self.health.ready.store(synced, Ordering::Relaxed);
            let can_schedule = leading
                && synced
                && self.queue.counts().active > 0
                && self.binds.len() < self.options.bind_parallelism.max(1);
            let wake_at = self
                .queue
                .next_ready_at()
                .map_or(Duration::from_secs(1), |t| {
                    t.saturating_sub(now).min(Duration::from_secs(1))
                });
            tokio::select! {
                biased;
                _ = stop.changed() => {
                    if *stop.borrow() {
                        break Ok(());
                    }
                }
                change = changes.recv() => {
                    let Some(change) = change else { break Err(RunError::Crashed("watches ended".into())) };
                    self.apply(change);
                    // Apply what else has arrived before deciding anything.
                    for _ in 0..4096 {
                        match changes.try_recv() {
                            Ok(c) => self.apply(c),
                            Err(_) => break,
                        }
                    }
                }
                Some(done) = self.binds.join_next(), if !self.binds.is_empty() => {
                    if let Ok(done) = done {
                        self.bind_done(done);
                    }
                }
                Some(reload) = recv_opt(&mut reloads) => self.reload(reload),
                Some(_) = self.aux.join_next(), if !self.aux.is_empty() => {}
                _ = changed_opt(&mut leader_rx) => {}
                _ = std::future::ready(()), if can_schedule => {
                    for _ in 0..BATCH {
                        if self.binds.len() >= self.options.bind_parallelism.max(1) {
                            break;
                        }
                        let Some(item) = self.queue.pop(self.now()) else { break };
                        self.schedule_one(item);
                    }
                }
                _ = tokio::time::sleep(wake_at) => {}
            }
            self.update_gauges();
        };
        // Graceful: let bindings in flight finish (bounded), then stop watching.
        if result.is_ok() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while !self.binds.is_empty() {
                match tokio::time::timeout_at(deadline, self.binds.join_next()).await {
                    Ok(Some(Ok(done))) => self.bind_done(done),
                    Ok(Some(Err(_))) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            let _ = tokio::time::timeout_at(deadline, async {
                while self.aux.join_next().await.is_some() {}
            })
            .await;
        }
        if let Some(tx) = election_stop {
            let _ = tx.send(true);
        }
        if let Some(t) = election_task {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        for w in watches {
            w.abort();
        }
        if let Some(h) = reload_task {
            h.abort();
        }
        result
    }

    fn apply(&mut self, change: Change) {
        let now = self.now();
        if self.state.apply(change, &mut self.queue, now) {
            self.queue.cluster_changed(now);
        }
    }

    /// Says on `/readyz` what readiness waits for.
    fn publish_waiting_for(&self) {
        let mut parts = Vec::new();
        let unlisted = self.state.unlisted();
        if !unlisted.is_empty() {
            parts.push(format!("caches not listed yet: {}", unlisted.join(", ")));
        }
        if !self.profiles_synced
            && let Some((ns, name)) = &self.options.profiles_configmap
        {
            let mut part = format!("profiles ConfigMap {ns}/{name} not read yet");
            if let Some(e) = &self.profiles_error {
                part.push_str(&format!(" (last error: {e})"));
            }
            parts.push(part);
        }
        if let Ok(mut w) = self.health.waiting_for.lock() {
            *w = parts.join("; ");
        }
    }

    fn reload(&mut self, reload: Reload) {
        match reload {
            Reload::Synced => {
                if !self.profiles_synced {
                    tracing::info!("profiles ConfigMap read; scheduling may start");
                }
                self.profiles_synced = true;
                self.profiles_error = None;
            }
            Reload::WatchFailed(why) => {
                self.metrics.profile_watch_errors.inc();
                if !self.profiles_synced {
                    self.profiles_error = Some(why);
                }
            }
            Reload::Loaded(config) => {
                tracing::info!(profiles = ?config.profiles.names(), "workload profiles reloaded");
                self.engine = Scheduler::new((*config).clone());
                self.state.set_config(config);
                self.queue.cluster_changed(self.now());
            }
            Reload::Rejected(cm, why) => {
                self.metrics.profile_reload_errors.inc();
                tracing::warn!(error = %why, "rejected a profiles edit; the last good profiles stay in force");
                let writer = self.writer.clone();
                let reference = core::ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("ConfigMap".into()),
                    name: cm.metadata.name.clone(),
                    namespace: cm.metadata.namespace.clone(),
                    uid: cm.metadata.uid.clone(),
                    ..Default::default()
                };
                self.aux.spawn(async move {
                    writer
                        .event_on(
                            &reference,
                            true,
                            "InvalidProfiles",
                            format!(
                                "rejected: {why}; the last good workload profiles stay in force"
                            ),
                        )
                        .await;
                });
            }
        }
    }

    fn schedule_one(&mut self, item: QueuedPod) {
        tracing::debug!(pod = %item.key, attempts = item.attempts, "scheduling");
        let key = item.key.clone();
        let now = self.now();
        if matches!(self.state.assumption(&key), Some(Assumption::Nominated(_))) {
            self.state.forget(&key);
        }
        let Some(pending) = self.state.pending(&key).cloned() else {
            self.queue.done(&key);
            return;
        };
        let started = Instant::now();
        let pod = match &pending.compiled {
            Ok(pod) => pod.clone(),
            Err(why) => {
                let message = format!(
                    "0/{} nodes are available: {why}.",
                    self.state.snapshot.node_count()
                );
                self.report_unschedulable(&pending.raw, message, None);
                self.queue.unschedulable(&key, now);
                self.observe_attempt("unschedulable", started);
                return;
            }
        };
        match self.engine.schedule(&self.state.snapshot, &pod) {
            Ok(placement) => {
                let node = self.state.snapshot.node(placement.node).node.name.clone();
                self.state.assume(&key, placement.node, true);
                self.observe_attempt("scheduled", started);
                let writer = self.writer.clone();
                let raw = pending.raw.clone();
                let first_seen = pending.first_seen;
                self.binds.spawn(async move {
                    let ns = raw.metadata.namespace.clone().unwrap_or_default();
                    let name = raw.metadata.name.clone().unwrap_or_default();
                    let outcome = writer
                        .bind(&ns, &name, raw.metadata.uid.clone(), &node)
                        .await;
                    BindDone {
                        key,
                        raw,
                        node,
                        first_seen,
                        outcome,
                    }
                });
            }
            Err(fit) => {
                let message = fit.message();
                match preempt(&self.engine, &self.state.snapshot, &pod, &fit) {
                    Ok(pre) => {
                        let node = self.state.snapshot.node(pre.node).node.name.clone();
                        let victims: Vec<(String, String, String)> = pre
                            .victims
                            .iter()
                            .filter_map(|id| self.state.snapshot.pod(*id))
                            .map(|p| (p.pod.namespace.clone(), p.pod.name.clone(), p.pod.key()))
                            .collect();
                        self.metrics.preemptions.inc();
                        self.metrics.preemption_victims.inc_by(victims.len() as u64);
                        self.state.assume(&key, pre.node, false);
                        let full = format!(
                            "{message} Preempting {} lower-priority pod(s) on node {node}.",
                            victims.len()
                        );
                        self.report_unschedulable(&pending.raw, full, Some(node.clone()));
                        let writer = self.writer.clone();
                        let preemptor = key.clone();
                        self.aux.spawn(async move {
                            for (ns, name, victim) in victims {
                                if writer.delete_victim(&ns, &name).await {
                                    let reference = core::ObjectReference {
                                        api_version: Some("v1".into()),
                                        kind: Some("Pod".into()),
                                        name: Some(name),
                                        namespace: Some(ns),
                                        ..Default::default()
                                    };
                                    writer
                                        .event_on(
                                            &reference,
                                            false,
                                            "Preempted",
                                            format!("Preempted by pod {preemptor} on node {node}"),
                                        )
                                        .await;
                                    tracing::info!(%victim, %preemptor, %node, "preempted");
                                }
                            }
                        });
                        self.queue.unschedulable(&key, now);
                        self.observe_attempt("unschedulable", started);
                    }
                    Err(no) => {
                        self.report_unschedulable(&pending.raw, format!("{message} {no}"), None);
                        self.queue.unschedulable(&key, now);
                        self.observe_attempt("unschedulable", started);
                    }
                }
            }
        }
    }

    fn observe_attempt(&self, result: &'static str, started: Instant) {
        self.metrics
            .attempt_duration
            .get_or_create(&ResultLabel { result })
            .observe(started.elapsed().as_secs_f64());
    }

    fn report_unschedulable(
        &mut self,
        raw: &Arc<core::Pod>,
        message: String,
        nominated: Option<String>,
    ) {
        let writer = self.writer.clone();
        let raw = raw.clone();
        self.aux.spawn(async move {
            let ns = raw.metadata.namespace.clone().unwrap_or_default();
            let name = raw.metadata.name.clone().unwrap_or_default();
            writer
                .mark_unschedulable(&ns, &name, &message, nominated.as_deref())
                .await;
            writer.event(&raw, true, "FailedScheduling", message).await;
        });
    }

    fn bind_done(&mut self, done: BindDone) {
        tracing::debug!(pod = %done.key, node = %done.node, outcome = ?done.outcome, "binding finished");
        let now = self.now();
        match done.outcome {
            BindOutcome::Bound => {
                self.state.bound(&done.key);
                self.queue.done(&done.key);
                self.metrics
                    .e2e_duration
                    .observe(done.first_seen.elapsed().as_secs_f64());
                let writer = self.writer.clone();
                let note = format!("Successfully assigned {} to {}", done.key, done.node);
                self.aux
                    .spawn(async move { writer.event(&done.raw, false, "Scheduled", note).await });
            }
            BindOutcome::AlreadyAssigned => {
                self.metrics
                    .bind_errors
                    .get_or_create(&ReasonLabel { reason: "conflict" })
                    .inc();
                self.state.assigned_elsewhere(&done.key);
                self.queue.done(&done.key);
            }
            BindOutcome::Gone => {
                self.metrics
                    .bind_errors
                    .get_or_create(&ReasonLabel { reason: "gone" })
                    .inc();
                self.state.assigned_elsewhere(&done.key);
                self.queue.done(&done.key);
            }
            BindOutcome::Failed(why) => {
                self.metrics
                    .bind_errors
                    .get_or_create(&ReasonLabel { reason: "other" })
                    .inc();
                tracing::warn!(pod = %done.key, node = %done.node, error = %why, "binding failed; retrying after backoff");
                self.state.forget(&done.key);
                self.queue.error(&done.key, now);
            }
        }
    }

    fn update_gauges(&self) {
        let c = self.queue.counts();
        let set = |q: &'static str, v: usize| {
            self.metrics
                .pending
                .get_or_create(&QueueLabel { queue: q })
                .set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        set("active", c.active);
        set("backoff", c.backoff);
        set("unschedulable", c.unschedulable);
        set("binding", self.binds.len());
        let size = |t: &'static str, v: usize| {
            self.metrics
                .cache_size
                .get_or_create(&TypeLabel { r#type: t })
                .set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        size("nodes", self.state.snapshot.node_count());
        size("pods", self.state.snapshot.pod_count());
        size("pending", self.state.pending_count());
        size("assumed", self.state.assumed_count());
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn changed_opt(rx: &mut Option<watch::Receiver<bool>>) {
    match rx {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}
