//! The scheduler's writes to the API server — bindings, pod status, evictions by
//! deletion, events — behind client-side rate limiters with kube-scheduler's QPS/burst:
//! one for the work, one for events (kube-scheduler also records events through a
//! client of its own, so they never hold up bindings).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client};
use serde_json::json;

/// How a binding ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindOutcome {
    /// Bound.
    Bound,
    /// Someone else bound it first (`409 Conflict`).
    AlreadyAssigned,
    /// The pod is gone (`404`).
    Gone,
    /// Anything else; retried with backoff.
    Failed(String),
}

/// Client-side request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sustained requests per second.
    pub qps: u32,
    /// Burst size.
    pub burst: u32,
}

/// Rate-limited writes as the scheduler.
#[derive(Clone)]
pub struct Writer {
    client: Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    event_limiter: Arc<DefaultDirectRateLimiter>,
    recorder: Recorder,
}

impl Writer {
    /// A writer for `client` with `limits`, reporting events as `scheduler_name`.
    pub fn new(client: Client, limits: Limits, scheduler_name: &str, instance: &str) -> Writer {
        let qps = NonZeroU32::new(limits.qps).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.burst.max(limits.qps)).unwrap_or(qps);
        let quota = Quota::per_second(qps).allow_burst(burst);
        let limiter = Arc::new(RateLimiter::direct(quota));
        let event_limiter = Arc::new(RateLimiter::direct(quota));
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: scheduler_name.to_owned(),
                instance: Some(instance.to_owned()),
            },
        );
        Writer {
            client,
            limiter,
            event_limiter,
            recorder,
        }
    }

    async fn throttle(&self) {
        self.limiter.until_ready().await;
    }

    /// Binds a pod through the `pods/binding` subresource.
    pub async fn bind(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<String>,
        node: &str,
    ) -> BindOutcome {
        self.throttle().await;
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                uid,
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.to_owned()),
                ..ObjectReference::default()
            },
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api
            .create_subresource::<Binding, serde_json::Value>(
                "binding",
                name,
                &PostParams::default(),
                &binding,
            )
            .await
        {
            Ok(_) => BindOutcome::Bound,
            Err(kube::Error::Api(s)) if s.code == 409 => BindOutcome::AlreadyAssigned,
            Err(kube::Error::Api(s)) if s.code == 404 => BindOutcome::Gone,
            Err(e) => BindOutcome::Failed(plinth_kube::config::root_cause(&e)),
        }
    }

    /// Sets `PodScheduled=False` with reason `Unschedulable` and the message, and the
    /// nominated node (or clears it).
    pub async fn mark_unschedulable(
        &self,
        namespace: &str,
        name: &str,
        message: &str,
        nominated: Option<&str>,
    ) {
        self.throttle().await;
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        );
        let patch = json!({"status": {
            "conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastTransitionTime": now,
            }],
            "nominatedNodeName": nominated,
        }});
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        if let Err(e) = api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            tracing::warn!(pod = %format!("{namespace}/{name}"), error = %plinth_kube::config::root_cause(&e), "cannot update pod status");
        }
    }

    /// Deletes a preemption victim with its own grace period.
    pub async fn delete_victim(&self, namespace: &str, name: &str) -> bool {
        self.throttle().await;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => true,
            Err(kube::Error::Api(s)) if s.code == 404 => true,
            Err(e) => {
                tracing::warn!(pod = %format!("{namespace}/{name}"), error = %plinth_kube::config::root_cause(&e), "cannot delete preemption victim");
                false
            }
        }
    }

    /// Records an event about a pod.
    pub async fn event(&self, pod: &Pod, warning: bool, reason: &str, note: String) {
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..ObjectReference::default()
        };
        self.event_on(&reference, warning, reason, note).await;
    }

    /// Records an event about any object.
    pub async fn event_on(
        &self,
        reference: &ObjectReference,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        self.event_limiter.until_ready().await;
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(note),
            action: "Scheduling".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, reference).await {
            tracing::debug!(error = %plinth_kube::config::root_cause(&e), "cannot record event");
        }
    }
}
