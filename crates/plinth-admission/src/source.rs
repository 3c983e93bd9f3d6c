//! Where the webhook's policies come from: files (re-read when they change) or the
//! cluster (ConstraintTemplates and constraints watched, Gatekeeper-style).
//!
//! In cluster mode every template is compiled as it changes, its status is written back
//! (`status.created`, `status.byPod[].errors` with Gatekeeper's codes), and — when
//! Gatekeeper itself is not installed — the constraint CRD for its kind is created, so
//! `kubectl apply` of a constraint works as it would with Gatekeeper. A template that
//! stops compiling keeps its last good version active, as Gatekeeper does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use plinth_guard::gatekeeper::{PolicySet, Template, crd::constraint_crd};
use plinth_guard::{library, pss};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::decide::Guard;
use crate::server::Shared;

/// Why policies could not be loaded from files.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Unreadable or invalid files.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Manifests(Vec<plinth_core::manifest::ManifestError>),
    /// The shipped policies failed to load (a build defect).
    #[error(transparent)]
    Library(#[from] library::LibraryError),
}

/// Loads the shipped templates (when `builtin`) and every template and constraint under
/// `paths`.
pub fn load_files(paths: &[PathBuf], builtin: bool) -> Result<PolicySet, SourceError> {
    let mut set = if builtin {
        library::policy_set(&[])?
    } else {
        PolicySet::new()
    };
    if paths.is_empty() {
        return Ok(set);
    }
    let docs =
        plinth_core::manifest::read_paths(paths).map_err(|e| SourceError::Manifests(vec![e]))?;
    library::add_documents(&mut set, &docs).map_err(SourceError::Manifests)?;
    Ok(set)
}

fn newest_mtime(paths: &[PathBuf]) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if let Ok(m) = meta.modified() {
            newest = newest.max(Some(m));
        }
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&p)
        {
            stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    newest
}

/// Re-reads `paths` whenever a file under them changes (checked every `every`); a set
/// that fails to load is logged and the previous one stays.
pub fn watch_files(
    paths: Vec<PathBuf>,
    builtin: bool,
    pss: pss::Config,
    shared: Arc<Shared>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = newest_mtime(&paths);
        loop {
            tokio::time::sleep(every).await;
            let now = newest_mtime(&paths);
            if now == last {
                continue;
            }
            last = now;
            match load_files(&paths, builtin) {
                Ok(set) => {
                    tracing::info!(
                        constraints = set.constraints().count(),
                        "policies reloaded from files"
                    );
                    shared.set_guard(Guard {
                        pss: pss.clone(),
                        policies: Arc::new(set),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "policy files changed but do not load; keeping the previous policies")
                }
            }
        }
    })
}

fn template_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("templates.gatekeeper.sh", "v1", "ConstraintTemplate"),
        "constrainttemplates",
    )
}

fn constraint_resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("constraints.gatekeeper.sh", "v1beta1", kind),
        &kind.to_lowercase(),
    )
}

fn watch_into(
    api: Api<DynamicObject>,
    resource: ApiResource,
    tx: mpsc::UnboundedSender<()>,
) -> (Store<DynamicObject>, JoinHandle<()>) {
    let writer = reflector::store::Writer::new(resource);
    let store = writer.as_reader();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(_) => {
                    let _ = tx.send(());
                }
                Err(e) => tracing::debug!(error = %e, "policy watch error; retrying"),
            }
        }
    });
    (store, task)
}

struct Compiled {
    generation: i64,
    uid: String,
    result: Result<Arc<Template>, String>,
    last_good: Option<Arc<Template>>,
    status_written: bool,
    crd_installed: bool,
}

/// Options of the cluster policy source.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Create constraint CRDs: `None` decides by whether Gatekeeper is installed.
    pub manage_crds: Option<bool>,
    /// This replica's name in `status.byPod[].id`.
    pub pod_name: String,
    /// Also load the shipped templates (cluster templates of the same kind win).
    pub builtin: bool,
}

async fn gatekeeper_installed(client: &Client) -> bool {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    matches!(
        api.get_opt("configs.config.gatekeeper.sh").await,
        Ok(Some(_))
    )
}

/// Watches templates and constraints in the cluster and keeps `shared`'s policies
/// current. Runs until aborted.
pub fn watch_cluster(
    client: Client,
    options: ClusterOptions,
    pss: pss::Config,
    shared: Arc<Shared>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let manage_crds = match options.manage_crds {
            Some(m) => m,
            None => !gatekeeper_installed(&client).await,
        };
        let builtin = if options.builtin {
            library::policy_set(&[]).ok()
        } else {
            None
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let templates_api: Api<DynamicObject> = Api::all_with(client.clone(), &template_resource());
        let (templates, _templates_task) =
            watch_into(templates_api.clone(), template_resource(), tx.clone());
        let mut compiled: BTreeMap<String, Compiled> = BTreeMap::new();
        let mut constraint_watches: BTreeMap<String, (Store<DynamicObject>, JoinHandle<()>)> =
            BTreeMap::new();
        if templates.wait_until_ready().await.is_err() {
            return;
        }
        let _ = tx.send(());
        while rx.recv().await.is_some() {
            // Coalesce bursts (a watch's initial list, kubectl apply -f dir/).
            tokio::time::sleep(Duration::from_millis(50)).await;
            while rx.try_recv().is_ok() {}

            let mut set = builtin.clone().unwrap_or_default();
            for obj in templates.state() {
                let name = obj.metadata.name.clone().unwrap_or_default();
                let generation = obj.metadata.generation.unwrap_or_default();
                let uid = obj.metadata.uid.clone().unwrap_or_default();
                let doc = serde_json::to_value(&*obj).unwrap_or(Value::Null);
                let entry = compiled.entry(name.clone()).or_insert_with(|| Compiled {
                    generation: -1,
                    uid: String::new(),
                    result: Err(String::new()),
                    last_good: None,
                    status_written: false,
                    crd_installed: false,
                });
                if entry.generation != generation || entry.uid != uid {
                    entry.generation = generation;
                    entry.uid = uid;
                    entry.result = Template::compile(&doc)
                        .map(Arc::new)
                        .map_err(|e| e.to_string());
                    if let Ok(t) = &entry.result {
                        entry.last_good = Some(Arc::clone(t));
                    }
                    entry.status_written = false;
                    entry.crd_installed = false;
                }
                if let (Ok(t), true, false) = (&entry.result, manage_crds, entry.crd_installed) {
                    let crd = constraint_crd(t);
                    match plinth_kube::crd::install(
                        &client,
                        &[crd],
                        "plinth-guard",
                        Duration::from_secs(30),
                    )
                    .await
                    {
                        Ok(()) => entry.crd_installed = true,
                        Err(e) => {
                            tracing::warn!(template = %name, error = %e, "could not create the constraint CRD");
                            entry.result = Err(format!("Could not create CRD: {e}"));
                        }
                    }
                }
                if !entry.status_written {
                    let errors = match &entry.result {
                        Ok(_) => json!([]),
                        Err(e) if e.starts_with("Could not create CRD") => {
                            json!([{"code": "create_error", "message": e}])
                        }
                        Err(e) => json!([{"code": "ingest_error", "message": e}]),
                    };
                    let status = json!({"status": {"created": entry.result.is_ok(), "byPod": [{
                        "id": options.pod_name, "observedGeneration": generation, "templateUID": entry.uid,
                        "operations": ["webhook"], "errors": errors}]}});
                    match templates_api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await
                    {
                        Ok(_) => entry.status_written = true,
                        Err(e) => {
                            tracing::warn!(template = %name, error = %e, "could not write template status")
                        }
                    }
                }
                if let Some(t) = &entry.last_good {
                    set.insert_template(Arc::clone(t));
                    if !constraint_watches.contains_key(&t.kind) {
                        let resource = constraint_resource(&t.kind);
                        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
                        constraint_watches
                            .insert(t.kind.clone(), watch_into(api, resource, tx.clone()));
                    }
                }
            }
            let live: Vec<String> = templates
                .state()
                .iter()
                .filter_map(|t| t.metadata.name.clone())
                .collect();
            compiled.retain(|name, _| live.contains(name));
            let kinds: Vec<String> = set.templates().map(|t| t.kind.clone()).collect();
            constraint_watches.retain(|kind, (_, task)| {
                let keep = kinds.contains(kind);
                if !keep {
                    task.abort();
                }
                keep
            });
            for (kind, (store, _)) in &constraint_watches {
                for c in store.state() {
                    let mut doc = serde_json::to_value(&*c).unwrap_or(Value::Null);
                    doc["kind"] = json!(kind);
                    doc["apiVersion"] = json!("constraints.gatekeeper.sh/v1beta1");
                    if let Err(e) = set.add_constraint(&doc) {
                        tracing::warn!(error = %e, "constraint not loaded");
                    }
                }
            }
            tracing::debug!(
                templates = set.templates().count(),
                constraints = set.constraints().count(),
                "policies updated from the cluster"
            );
            shared.set_guard(Guard {
                pss: pss.clone(),
                policies: Arc::new(set),
            });
            shared.set_ready();
        }
    })
}

/// Lists the cluster's templates and their constraints once (for the auditor).
/// Templates that do not compile and constraints that do not load are skipped and
/// returned as messages.
pub async fn load_cluster_once(
    client: &Client,
    builtin: bool,
) -> Result<(PolicySet, Vec<String>), kube::Error> {
    let mut set = if builtin {
        library::policy_set(&[]).unwrap_or_default()
    } else {
        PolicySet::new()
    };
    let mut problems = Vec::new();
    let templates_api: Api<DynamicObject> = Api::all_with(client.clone(), &template_resource());
    let templates = match templates_api.list(&Default::default()).await {
        Ok(l) => l.items,
        // No ConstraintTemplate CRD: no cluster policies.
        Err(kube::Error::Api(e)) if e.code == 404 => Vec::new(),
        Err(e) => return Err(e),
    };
    for t in &templates {
        let doc = serde_json::to_value(t).unwrap_or(Value::Null);
        if let Err(e) = set.add_template(&doc) {
            problems.push(e.to_string());
        }
    }
    let kinds: Vec<String> = set.templates().map(|t| t.kind.clone()).collect();
    for kind in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &constraint_resource(&kind));
        let items = match api.list(&Default::default()).await {
            Ok(l) => l.items,
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(e) => return Err(e),
        };
        for c in items {
            let mut doc = serde_json::to_value(&c).unwrap_or(Value::Null);
            doc["kind"] = json!(kind);
            doc["apiVersion"] = json!("constraints.gatekeeper.sh/v1beta1");
            if let Err(e) = set.add_constraint(&doc) {
                problems.push(e.to_string());
            }
        }
    }
    Ok((set, problems))
}
