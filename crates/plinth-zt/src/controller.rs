//! The zero-trust controller: every `ZeroTrustModel` is compiled and its objects kept in
//! the cluster.
//!
//! - Objects are written with server-side apply (one field manager, forced, strict field
//!   validation), each with a controller owner reference to its model, so deleting the
//!   model lets the garbage collector remove them.
//! - Objects labelled with the model's name that intent no longer produces are deleted
//!   (pruned).
//! - The controller watches the objects it writes: an edit or deletion by anyone else
//!   wakes the model's reconciliation, and the forced apply puts intent back (drift
//!   repair).
//! - The model's status says whether intent is fully in force: `Ready` with reasons
//!   `Reconciled`, `InvalidModel` (the validation problems, no object touched),
//!   `APIUnavailable` (e.g. Istio or cert-manager not installed: the rest is applied) or
//!   `ApplyFailed`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use plinth_kube::{Applier, ApplyOptions};
use plinth_netpol::intent::compile::{self, IDENTITY_LABEL, MANAGED_BY_LABEL, MODEL_LABEL};
use plinth_netpol::intent::{Condition, Model, ZeroTrustModel, ZeroTrustModelStatus};
use serde_json::{Value, json};

use crate::metrics::Metrics;

/// The field manager of everything the controller writes.
pub const FIELD_MANAGER: &str = "plinth-zt-controller";

/// The kinds a model compiles to.
pub const MANAGED_KINDS: &[(&str, &str)] = &[
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("security.istio.io/v1", "PeerAuthentication"),
    ("security.istio.io/v1", "AuthorizationPolicy"),
    ("cert-manager.io/v1", "Certificate"),
];

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reconcile every model at least this often even without events.
    pub resync: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            resync: Duration::from_secs(300),
        }
    }
}

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The `ZeroTrustModel` CRD is not installed.
    #[error(
        "the API server does not serve zerotrustmodels.plinth.dev; install the CRD first (plinth zt crd | kubectl apply -f -)"
    )]
    CrdMissing,
}

/// Why one reconciliation failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A request failed.
    #[error("{0}")]
    Api(String),
}

struct Ctx {
    client: Client,
    metrics: Arc<Metrics>,
    applier: Applier,
    /// The managed kinds the server serves.
    available: Vec<(ApiResource, bool)>,
    options: Options,
}

impl Ctx {
    fn resource(&self, api_version: &str, kind: &str) -> Option<&(ApiResource, bool)> {
        self.available
            .iter()
            .find(|(r, _)| r.api_version == api_version && r.kind == kind)
    }
}

/// Runs until `shutdown` resolves, counting into `metrics`.
pub async fn run(
    client: Client,
    options: Options,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), ControllerError> {
    let applier = Applier::new(client.clone(), FIELD_MANAGER);
    if applier
        .resolve("plinth.dev/v1alpha1", "ZeroTrustModel")
        .await
        .is_none()
    {
        return Err(ControllerError::CrdMissing);
    }
    let mut available = Vec::new();
    for (api_version, kind) in MANAGED_KINDS {
        match applier.resolve(api_version, kind).await {
            Some(found) => available.push(found),
            None => tracing::warn!(
                %api_version, %kind,
                "the API server does not serve this kind; models will report APIUnavailable"
            ),
        }
    }
    let models: Api<ZeroTrustModel> = Api::all(client.clone());
    let mut controller = Controller::new(models, watcher::Config::default());
    let owned =
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}=plinth,{MODEL_LABEL}"));
    for (resource, _) in &available {
        controller = controller.owns_with(
            Api::<DynamicObject>::all_with(client.clone(), resource),
            resource.clone(),
            owned.clone(),
        );
    }
    let ctx = Arc::new(Ctx {
        client,
        metrics,
        applier,
        available,
        options,
    });
    controller
        .graceful_shutdown_on(shutdown)
        .run(timed_reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(model = %object.name, "reconciled"),
                Err(e) => tracing::warn!(error = %e, "reconciliation failed"),
            }
        })
        .await;
    Ok(())
}

fn error_policy(_: Arc<ZeroTrustModel>, error: &ReconcileError, _: Arc<Ctx>) -> Action {
    tracing::warn!(%error, "will retry");
    Action::requeue(Duration::from_secs(5))
}

fn api_err(e: impl std::fmt::Display) -> ReconcileError {
    ReconcileError::Api(e.to_string())
}

/// `(apiVersion, kind, namespace, name)`.
type Key = (String, String, String, String);

/// [`reconcile`], timed and counted.
async fn timed_reconcile(cr: Arc<ZeroTrustModel>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let result = reconcile(cr, ctx.clone()).await;
    let m = &ctx.metrics;
    m.reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    let label = if result.is_ok() { "success" } else { "error" };
    m.reconciles
        .get_or_create(&crate::metrics::ResultLabel { result: label })
        .inc();
    result
}

async fn reconcile(cr: Arc<ZeroTrustModel>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let name = cr.name_any();
    if cr.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let uid = cr.uid().unwrap_or_default();
    let generation = cr.meta().generation;
    let model = match Model::new(name.clone(), cr.spec.clone()) {
        Ok(m) => m,
        Err(problems) => {
            let message = problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            set_status(&ctx, &cr, None, "False", "InvalidModel", &message).await?;
            return Ok(Action::await_change());
        }
    };
    let compiled = compile::compile(&model);
    let owner = json!([{
        "apiVersion": ZeroTrustModel::api_version(&()),
        "kind": ZeroTrustModel::kind(&()),
        "name": name,
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }]);
    let opts = ApplyOptions {
        force: true,
        dry_run: false,
        strict: true,
    };
    let mut desired: BTreeSet<Key> = BTreeSet::new();
    let mut missing: BTreeSet<String> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut applied = 0usize;
    for object in &compiled.objects {
        desired.insert((
            object.api_version().to_owned(),
            object.kind().to_owned(),
            object.namespace().to_owned(),
            object.name().to_owned(),
        ));
        if ctx.resource(object.api_version(), object.kind()).is_none() {
            missing.insert(format!("{} ({})", object.kind(), object.api_version()));
            continue;
        }
        let mut value = object.value.clone();
        value["metadata"]["ownerReferences"] = owner.clone();
        match ctx.applier.apply(&value, &opts).await {
            Ok(_) => applied += 1,
            Err(e) => failures.push(e.to_string()),
        }
    }
    let pruned = prune(&ctx, &name, &desired).await?;
    let (status, reason, message) = if !failures.is_empty() {
        ("False", "ApplyFailed", failures.join("; "))
    } else if !missing.is_empty() {
        (
            "False",
            "APIUnavailable",
            format!(
                "{applied} objects applied, {pruned} pruned; not served by the API server: {}",
                missing.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )
    } else {
        (
            "True",
            "Reconciled",
            format!("{applied} objects applied, {pruned} pruned"),
        )
    };
    let count = i64::try_from(compiled.objects.len()).unwrap_or(i64::MAX);
    set_status(&ctx, &cr, Some(count), status, reason, &message).await?;
    ctx.metrics
        .applied_objects
        .set(i64::try_from(applied).unwrap_or(i64::MAX));
    tracing::info!(model = %name, ?generation, applied, pruned, reason, "reconciled");
    Ok(Action::requeue(ctx.options.resync))
}

/// Deletes the model's objects that intent no longer produces.
async fn prune(ctx: &Ctx, model: &str, desired: &BTreeSet<Key>) -> Result<usize, ReconcileError> {
    let mut pruned = 0;
    let selector = format!("{MANAGED_BY_LABEL}=plinth,{MODEL_LABEL}={model}");
    for (resource, _) in &ctx.available {
        let api: Api<DynamicObject> = Api::all_with(ctx.client.clone(), resource);
        let list = api
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(api_err)?;
        for item in list.items {
            let ns = item.metadata.namespace.clone().unwrap_or_default();
            let name = item.metadata.name.clone().unwrap_or_default();
            let key = (
                resource.api_version.clone(),
                resource.kind.clone(),
                ns.clone(),
                name.clone(),
            );
            if desired.contains(&key) {
                continue;
            }
            let namespaced: Api<DynamicObject> =
                Api::namespaced_with(ctx.client.clone(), &ns, resource);
            match namespaced.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {
                    pruned += 1;
                    tracing::info!(%model, kind = %resource.kind, namespace = %ns, %name,
                        identity = item.metadata.labels.as_ref().and_then(|l| l.get(IDENTITY_LABEL)).map(String::as_str).unwrap_or(""),
                        "pruned");
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(api_err(e)),
            }
        }
    }
    Ok(pruned)
}

async fn set_status(
    ctx: &Ctx,
    cr: &ZeroTrustModel,
    objects: Option<i64>,
    status: &str,
    reason: &str,
    message: &str,
) -> Result<(), ReconcileError> {
    ctx.metrics.outcome(reason);
    let generation = cr.meta().generation;
    let previous = cr
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"));
    // The transition time changes only when the status does, so an unchanged outcome
    // writes an identical status (no event, no loop).
    let last_transition_time = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => k8s_openapi::jiff::Timestamp::now()
            .round(k8s_openapi::jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let new = ZeroTrustModelStatus {
        observed_generation: generation,
        objects,
        conditions: vec![Condition {
            type_: "Ready".to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            last_transition_time,
            observed_generation: generation,
        }],
    };
    if cr.status.as_ref() == Some(&new) {
        return Ok(());
    }
    let api: Api<ZeroTrustModel> = Api::all(ctx.client.clone());
    let patch: Value = json!({"status": new});
    api.patch_status(
        &cr.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(api_err)?;
    Ok(())
}
