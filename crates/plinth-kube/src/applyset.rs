//! A directory of manifests applied as one set: ordered, validated by the server before
//! anything but its prerequisites is written, labelled, pruned, and summarised.
//!
//! Order: CustomResourceDefinitions (applied, then awaited until `Established`) and
//! Namespaces first — the other objects cannot even be validated without them — then
//! every other object is validated with a server-side dry run, all failures reported
//! together; only when all pass is anything else written (cluster-wide policy and RBAC
//! objects, then the rest, admission webhooks last). Every object carries the label
//! [`SET_LABEL`] with the set's name; `prune` deletes labelled objects the set no longer
//! contains, for every kind the set has ever held (recorded in a ConfigMap, so removing
//! the last object of a kind still prunes it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::ApiResource;
use plinth_core::manifest::Document;
use plinth_core::object::ObjectRef;
use serde_json::{Value, json};

use crate::apply::{Applier, ApplyError, ApplyOptions};

/// The label naming the set an object belongs to.
pub const SET_LABEL: &str = "plinth.dev/apply-set";

/// How to apply a set.
#[derive(Debug, Clone)]
pub struct SetOptions {
    /// The set's name (a label value).
    pub name: String,
    /// Field manager of the writes.
    pub field_manager: String,
    /// Ask the server to validate and default only (`--dry-run=server`).
    pub dry_run: bool,
    /// Delete labelled objects the set no longer contains.
    pub prune: bool,
    /// Namespace of the ConfigMap recording the kinds the set has held.
    pub record_namespace: String,
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// It did not exist.
    Created,
    /// It existed and differs now.
    Changed,
    /// It existed and the apply changed nothing.
    Unchanged,
    /// It was deleted by pruning.
    Pruned,
}

/// One object's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// `Kind namespace/name`.
    pub object: String,
    /// What happened (or, on a dry run, would happen).
    pub change: Change,
}

/// Why a set could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// The set name is not a valid label value.
    #[error("set name {0:?} is not a valid label value (63 characters of [A-Za-z0-9._-])")]
    BadName(String),
    /// Objects the server refused on the validating dry run; nothing beyond CRDs and
    /// namespaces was written.
    #[error(
        "the server refused {} object(s); nothing else was applied:\n{}",
        .0.len(),
        .0.join("\n")
    )]
    Invalid(Vec<String>),
    /// A write failed after validation passed.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A CRD of the set did not become established.
    #[error(transparent)]
    Crd(#[from] crate::crd::CrdError),
    /// Another request failed.
    #[error("{what}: {message}")]
    Request {
        /// What was being done.
        what: String,
        /// The cause.
        message: String,
    },
}

fn request_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> SetError {
    let what = what.into();
    move |e| SetError::Request {
        what,
        message: crate::config::root_cause(&e),
    }
}

/// Files for the API server's own flags (audit policy, encryption configuration), which
/// are not API objects and are skipped.
pub fn is_server_configuration(doc: &Document) -> bool {
    doc.api_version().is_some_and(|v| {
        v.starts_with("audit.k8s.io/") || v.starts_with("apiserver.config.k8s.io/")
    })
}

/// Apply order: CRDs, namespaces, cluster policy and RBAC and configuration, the rest,
/// admission webhooks last (so they never block the set's own objects).
fn rank(kind: &str) -> u8 {
    match kind {
        "CustomResourceDefinition" => 0,
        "Namespace" => 1,
        "PriorityClass" | "StorageClass" | "ClusterRole" | "ClusterRoleBinding" | "Role"
        | "RoleBinding" | "ServiceAccount" | "ResourceQuota" | "LimitRange" | "ConfigMap"
        | "Secret" => 2,
        "ValidatingWebhookConfiguration"
        | "MutatingWebhookConfiguration"
        | "ValidatingAdmissionPolicy"
        | "ValidatingAdmissionPolicyBinding" => 4,
        _ => 3,
    }
}

/// The object without what the server maintains, for "did anything change?".
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "uid",
            "selfLink",
        ] {
            m.remove(k);
        }
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    v
}

fn describe(id: &ObjectRef) -> String {
    id.to_string()
}

struct Item<'d> {
    doc: &'d Document,
    value: Value,
    id: ObjectRef,
}

/// Applies `docs` as the set `opts.name` (Kustomization documents and API server
/// configuration files are skipped).
pub async fn apply_set(
    client: &Client,
    docs: &[Document],
    opts: &SetOptions,
) -> Result<Vec<Outcome>, SetError> {
    if plinth_core::selector::validate_label_value(&opts.name).is_err() || opts.name.is_empty() {
        return Err(SetError::BadName(opts.name.clone()));
    }
    let applier = Applier::new(client.clone(), opts.field_manager.clone());
    let default_ns = client.default_namespace().to_owned();
    let mut items: Vec<Item<'_>> = docs
        .iter()
        .filter(|d| d.kind() != Some("Kustomization") && !is_server_configuration(d))
        .map(|doc| {
            let mut value = doc.value().clone();
            if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert(SET_LABEL.to_owned(), Value::String(opts.name.clone()));
                }
            }
            let id = ObjectRef::from_value(&value);
            Item { doc, value, id }
        })
        .collect();
    items.sort_by_key(|i| rank(&i.id.kind));
    let force = ApplyOptions {
        force: true,
        dry_run: opts.dry_run,
        strict: true,
    };
    let mut outcomes = Vec::new();
    let mut resources: BTreeMap<String, (ApiResource, bool)> = BTreeMap::new();

    // Prerequisites: CRDs (then wait for them) and namespaces.
    let mut crds = Vec::new();
    for item in items.iter().filter(|i| rank(&i.id.kind) <= 1) {
        outcomes.push(apply_one(&applier, item, &force, &default_ns, &mut resources).await?);
        if item.id.kind == "CustomResourceDefinition" {
            crds.push(item.value.clone());
        }
    }
    if !crds.is_empty() && !opts.dry_run {
        crate::crd::install(client, &crds, &opts.field_manager, Duration::from_secs(60)).await?;
    }

    // Validate everything else before writing any of it.
    let rest: Vec<&Item<'_>> = items.iter().filter(|i| rank(&i.id.kind) > 1).collect();
    let validate = ApplyOptions {
        dry_run: true,
        ..force
    };
    let mut refused = Vec::new();
    for item in &rest {
        if let Err(e) = applier.apply(&item.value, &validate).await {
            refused.push(format!("{}: {e}", item.doc.location()));
        }
    }
    if !refused.is_empty() {
        return Err(SetError::Invalid(refused));
    }
    for item in rest {
        outcomes.push(apply_one(&applier, item, &force, &default_ns, &mut resources).await?);
    }

    // Prune, and record the kinds for the next prune.
    let recorded = recorded_kinds(client, opts).await?;
    let mut kinds: BTreeSet<(String, String)> = recorded;
    kinds.extend(
        items
            .iter()
            .map(|i| (i.id.api_version.clone(), i.id.kind.clone())),
    );
    if opts.prune {
        let present: BTreeSet<String> = items.iter().map(|i| key(&i.id, &default_ns)).collect();
        let mut doomed = Vec::new();
        for (api_version, kind) in &kinds {
            let Some((resource, namespaced)) = applier.resolve(api_version, kind).await else {
                continue; // the kind is gone from the server, and with it its objects
            };
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let list = api
                .list_metadata(&ListParams::default().labels(&format!("{SET_LABEL}={}", opts.name)))
                .await
                .map_err(request_err(format!("listing {kind} for pruning")))?;
            for o in list.items {
                let id = ObjectRef {
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                    namespace: o.metadata.namespace.clone(),
                    name: o.metadata.name.clone().unwrap_or_default(),
                };
                if !present.contains(&key(&id, &default_ns)) {
                    doomed.push((id, resource.clone(), namespaced));
                }
            }
        }
        doomed.sort_by_key(|(id, _, _)| std::cmp::Reverse(rank(&id.kind)));
        for (id, resource, namespaced) in doomed {
            if !opts.dry_run {
                let api: Api<DynamicObject> = match (&id.namespace, namespaced) {
                    (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &resource),
                    _ => Api::all_with(client.clone(), &resource),
                };
                match api.delete(&id.name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(request_err(format!("pruning {}", describe(&id)))(e)),
                }
            }
            outcomes.push(Outcome {
                object: describe(&id),
                change: Change::Pruned,
            });
        }
    }
    if !opts.dry_run {
        record_kinds(client, opts, &kinds).await?;
    }
    Ok(outcomes)
}

fn key(id: &ObjectRef, default_ns: &str) -> String {
    let ns = id.namespace.as_deref().unwrap_or(default_ns);
    format!("{}|{}|{}", id.kind, ns, id.name)
}

async fn apply_one(
    applier: &Applier,
    item: &Item<'_>,
    opts: &ApplyOptions,
    default_ns: &str,
    resources: &mut BTreeMap<String, (ApiResource, bool)>,
) -> Result<Outcome, SetError> {
    let id = &item.id;
    let gvk = format!("{}/{}", id.api_version, id.kind);
    let before = match resources.get(&gvk) {
        Some(r) => Some(r.clone()),
        None => applier.resolve(&id.api_version, &id.kind).await,
    };
    let existing = match &before {
        Some((resource, namespaced)) => {
            resources.insert(gvk, (resource.clone(), *namespaced));
            let api: Api<DynamicObject> = if *namespaced {
                let ns = id.namespace.as_deref().unwrap_or(default_ns);
                Api::namespaced_with(applier_client(applier), ns, resource)
            } else {
                Api::all_with(applier_client(applier), resource)
            };
            api.get_opt(&id.name)
                .await
                .map_err(request_err(format!("reading {}", describe(id))))?
        }
        None => None,
    };
    let after = applier.apply(&item.value, opts).await?;
    let change = match existing {
        None => Change::Created,
        Some(old) => {
            let old = serde_json::to_value(&old).unwrap_or(Value::Null);
            let new = serde_json::to_value(&after).unwrap_or(Value::Null);
            if comparable(&old) == comparable(&new) {
                Change::Unchanged
            } else {
                Change::Changed
            }
        }
    };
    Ok(Outcome {
        object: describe(id),
        change,
    })
}

fn applier_client(applier: &Applier) -> Client {
    applier.client().clone()
}

/// The name of the ConfigMap recording the kinds the set `set` has held.
pub fn record_name(set: &str) -> String {
    format!(
        "plinth-apply-set-{}",
        set.to_ascii_lowercase().replace(['_', '.'], "-")
    )
}

async fn recorded_kinds(
    client: &Client,
    opts: &SetOptions,
) -> Result<BTreeSet<(String, String)>, SetError> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), &opts.record_namespace);
    let cm = api
        .get_opt(&record_name(&opts.name))
        .await
        .map_err(request_err("reading the set's record"))?;
    let kinds = cm
        .and_then(|c| c.data)
        .and_then(|d| d.get("kinds").cloned())
        .unwrap_or_default();
    Ok(kinds
        .lines()
        .filter_map(|l| l.rsplit_once('/'))
        .map(|(av, k)| (av.to_owned(), k.to_owned()))
        .collect())
}

async fn record_kinds(
    client: &Client,
    opts: &SetOptions,
    kinds: &BTreeSet<(String, String)>,
) -> Result<(), SetError> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), &opts.record_namespace);
    let text: String = kinds.iter().map(|(av, k)| format!("{av}/{k}\n")).collect();
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": record_name(&opts.name), "namespace": opts.record_namespace,
                     "labels": {"app.kubernetes.io/managed-by": "plinth"}},
        "data": {"kinds": text},
    });
    api.patch(
        &record_name(&opts.name),
        &PatchParams::apply(&opts.field_manager).force(),
        &Patch::Apply(&cm),
    )
    .await
    .map_err(request_err("recording the set's kinds"))?;
    Ok(())
}
