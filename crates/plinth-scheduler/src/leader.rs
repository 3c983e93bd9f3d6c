//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics.
//!
//! Written here rather than taken from kube-lease-manager because the scheduler must stop
//! binding *the moment* its lease could have expired, even while the API server is
//! unreachable; that crate reports a loss only once it can talk to the server again. So:
//!
//! - another holder's lease counts as expired when the record has not changed for
//!   `duration` of *our* monotonic time since we last saw it change (client-go's rule,
//!   immune to clock skew);
//! - we hold the lease until `last successful renewal + renew_deadline` (monotonic), with
//!   `renew_deadline < duration`, and [`Elector::is_leader`] turns false at that instant
//!   whether or not the server answers;
//! - updates use the Lease's `resourceVersion`, so two candidates can never both win;
//! - on shutdown the lease is released (holder cleared) so a successor need not wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::sync::{Mutex, watch};

/// Leader-election settings.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    /// Lease namespace.
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// This candidate's identity (unique per replica).
    pub identity: String,
    /// How long a lease is valid after its last renewal (kube-scheduler: 15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up (kube-scheduler: 10 s).
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews (kube-scheduler: 2 s).
    pub retry_period: Duration,
}

struct Observed {
    resource_version: Option<String>,
    holder: Option<String>,
    renew: Option<MicroTime>,
    at: Instant,
}

/// A running election.
pub struct Elector {
    config: ElectionConfig,
    api: Api<Lease>,
    valid_until: Mutex<Option<Instant>>,
    observed: Mutex<Option<Observed>>,
    tx: watch::Sender<bool>,
}

fn micro_now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Elector {
    /// An elector for `config` (nothing happens until [`Elector::run`]).
    pub fn new(client: Client, config: ElectionConfig) -> (Arc<Elector>, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let api = Api::namespaced(client, &config.namespace);
        (
            Arc::new(Elector {
                config,
                api,
                valid_until: Mutex::new(None),
                observed: Mutex::new(None),
                tx,
            }),
            rx,
        )
    }

    /// Whether we hold the lease right now (false as soon as it may have lapsed).
    pub async fn is_leader(&self) -> bool {
        self.valid_until
            .lock()
            .await
            .is_some_and(|until| Instant::now() < until)
    }

    /// One attempt to acquire or renew; returns whether we hold the lease afterwards.
    async fn try_acquire_or_renew(&self) -> bool {
        let seconds = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let existing = match self.api.get_opt(&self.config.name).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %plinth_kube::config::root_cause(&e), "cannot read the leader lease");
                return false;
            }
        };
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(micro_now()),
                    renew_time: Some(micro_now()),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return self
                .api
                .create(&PostParams::default(), &lease)
                .await
                .is_ok();
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.config.identity.as_str());
        {
            let mut observed = self.observed.lock().await;
            let changed = observed.as_ref().is_none_or(|o| {
                o.resource_version != lease.metadata.resource_version
                    || o.holder != holder
                    || o.renew != spec.renew_time
            });
            if changed {
                *observed = Some(Observed {
                    resource_version: lease.metadata.resource_version.clone(),
                    holder: holder.clone(),
                    renew: spec.renew_time.clone(),
                    at: Instant::now(),
                });
            }
            let held_by_other = holder.is_some() && !ours;
            let unexpired = observed
                .as_ref()
                .is_some_and(|o| o.at.elapsed() < self.config.lease_duration);
            if held_by_other && unexpired {
                return false;
            }
        }
        let mut new_spec = spec.clone();
        new_spec.holder_identity = Some(self.config.identity.clone());
        new_spec.lease_duration_seconds = Some(seconds);
        new_spec.renew_time = Some(micro_now());
        if !ours {
            new_spec.acquire_time = Some(micro_now());
            new_spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec = Some(new_spec);
        // replace() sends the resourceVersion we read: a concurrent writer makes this fail.
        self.api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
            .is_ok()
    }

    /// Runs the election until `stop` turns true; then releases the lease if held.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut last_success: Option<Instant> = None;
        loop {
            let attempt_started = Instant::now();
            let ok = self.try_acquire_or_renew().await;
            let leading = {
                let mut until = self.valid_until.lock().await;
                if ok {
                    last_success = Some(attempt_started);
                    *until = Some(attempt_started + self.config.renew_deadline);
                } else if last_success.is_none_or(|t| t.elapsed() >= self.config.renew_deadline) {
                    *until = None;
                }
                until.is_some_and(|u| Instant::now() < u)
            };
            if *self.tx.borrow() != leading {
                tracing::info!(identity = %self.config.identity, leading, "leadership changed");
                let _ = self.tx.send(leading);
            }
            // Wake exactly when the lease would lapse, so loss is reported on time.
            let next = {
                let until = *self.valid_until.lock().await;
                let retry = Instant::now() + self.config.retry_period;
                until.map_or(retry, |u| retry.min(u))
            };
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
        self.release().await;
    }

    async fn release(&self) {
        if !self.is_leader().await {
            return;
        }
        *self.valid_until.lock().await = None;
        let _ = self.tx.send(false);
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await {
            let mut spec = lease.spec.clone().unwrap_or_default();
            if spec.holder_identity.as_deref() == Some(self.config.identity.as_str()) {
                spec.holder_identity = None;
                spec.lease_duration_seconds = Some(1);
                spec.renew_time = Some(micro_now());
                lease.spec = Some(spec);
                let _ = self
                    .api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await;
            }
        }
    }
}
