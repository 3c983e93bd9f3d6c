//! Server-side apply of arbitrary objects.
//!
//! Resource names and scopes come from discovery (cached per [`Applier`]), never from a
//! guessed plural. A kind the server does not serve is a clear error, not a 404 later.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};
use plinth_core::object::ObjectRef;
use serde_json::Value;

/// How to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Take ownership of fields another manager set (`--force-conflicts`).
    pub force: bool,
    /// Ask the server to validate and default without persisting (`--dry-run=server`).
    pub dry_run: bool,
    /// Reject unknown or duplicate fields instead of dropping them
    /// (`--validate=strict`).
    pub strict: bool,
}

impl Default for ApplyOptions {
    /// kubectl's defaults for server-side apply, with strict validation.
    fn default() -> Self {
        ApplyOptions {
            force: false,
            dry_run: false,
            strict: true,
        }
    }
}

/// Why an object could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The object lacks `apiVersion`, `kind` or `metadata.name`.
    #[error("object {object} cannot be applied: it needs apiVersion, kind and metadata.name")]
    Incomplete {
        /// What identity could be read.
        object: ObjectRef,
    },
    /// Discovery has no resource for the kind.
    #[error(
        "the API server serves no kind {kind:?} in {api_version:?} (for {object}); is its CustomResourceDefinition installed?"
    )]
    UnknownKind {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
        /// The object.
        object: ObjectRef,
    },
    /// The server refused the object.
    #[error("{object} was rejected by the API server ({reason}): {message}")]
    Rejected {
        /// The object.
        object: ObjectRef,
        /// The HTTP status reason (`BadRequest`, `Invalid`, `Conflict`, `Forbidden`, ...).
        reason: String,
        /// HTTP status code.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// The request did not get an answer.
    #[error("applying {object}: {message}")]
    Transport {
        /// The object.
        object: ObjectRef,
        /// The innermost cause.
        message: String,
    },
}

type Resolved = (ApiResource, bool);

/// Applies objects with one field manager, caching discovery.
pub struct Applier {
    client: Client,
    field_manager: String,
    default_namespace: String,
    resources: Mutex<HashMap<GroupVersionKind, Resolved>>,
}

impl Applier {
    /// An applier that owns fields as `field_manager` and puts namespaced objects without a
    /// namespace into the client's default namespace.
    pub fn new(client: Client, field_manager: impl Into<String>) -> Applier {
        let default_namespace = client.default_namespace().to_owned();
        Applier {
            client,
            field_manager: field_manager.into(),
            default_namespace,
            resources: Mutex::new(HashMap::new()),
        }
    }

    /// The client it applies with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace for namespaced objects that name none.
    pub fn with_default_namespace(mut self, namespace: impl Into<String>) -> Applier {
        self.default_namespace = namespace.into();
        self
    }

    /// The resource (plural name, scope) that serves `apiVersion`/`kind`, from discovery.
    /// Retries briefly, since a freshly established CRD takes a moment to be discoverable.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Option<Resolved> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Some(hit) = self.cached(&gvk) {
            return Some(hit);
        }
        let mut delay = Duration::from_millis(100);
        for attempt in 0..6 {
            if let Ok((resource, caps)) = discovery::pinned_kind(&self.client, &gvk).await {
                let resolved = (resource, caps.scope == Scope::Namespaced);
                if let Ok(mut cache) = self.resources.lock() {
                    cache.insert(gvk, resolved.clone());
                }
                return Some(resolved);
            }
            if attempt < 5 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        None
    }

    fn cached(&self, gvk: &GroupVersionKind) -> Option<Resolved> {
        self.resources.lock().ok()?.get(gvk).cloned()
    }

    /// Applies `docs` in order (as `kubectl apply -f` does), stopping at the first error.
    pub async fn apply_all(
        &self,
        docs: &[plinth_core::manifest::Document],
        opts: &ApplyOptions,
    ) -> Result<Vec<DynamicObject>, ApplyError> {
        let mut applied = Vec::with_capacity(docs.len());
        for doc in docs {
            applied.push(self.apply(doc.value(), opts).await?);
        }
        Ok(applied)
    }

    /// Server-side applies one object given as JSON and returns what the server stored (or
    /// would store, on dry-run).
    pub async fn apply(
        &self,
        object: &Value,
        opts: &ApplyOptions,
    ) -> Result<DynamicObject, ApplyError> {
        let id = ObjectRef::from_value(object);
        if id.api_version.is_empty() || id.kind.is_empty() || id.name.is_empty() {
            return Err(ApplyError::Incomplete { object: id });
        }
        let (resource, namespaced) =
            self.resolve(&id.api_version, &id.kind)
                .await
                .ok_or_else(|| ApplyError::UnknownKind {
                    api_version: id.api_version.clone(),
                    kind: id.kind.clone(),
                    object: id.clone(),
                })?;
        let mut body = object.clone();
        let api: Api<DynamicObject> = if namespaced {
            let ns = id
                .namespace
                .clone()
                .unwrap_or_else(|| self.default_namespace.clone());
            if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            Api::namespaced_with(self.client.clone(), &ns, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        let mut params = PatchParams::apply(&self.field_manager);
        if opts.force {
            params = params.force();
        }
        if opts.dry_run {
            params = params.dry_run();
        }
        params = params.validation(if opts.strict {
            ValidationDirective::Strict
        } else {
            ValidationDirective::Warn
        });
        let mut object_ref = id;
        if namespaced && object_ref.namespace.is_none() {
            object_ref.namespace = Some(self.default_namespace.clone());
        }
        api.patch(&object_ref.name, &params, &Patch::Apply(&body))
            .await
            .map_err(|err| match err {
                kube::Error::Api(status) => ApplyError::Rejected {
                    object: object_ref.clone(),
                    reason: status.reason.clone(),
                    code: status.code,
                    message: status.message.clone(),
                },
                other => ApplyError::Transport {
                    object: object_ref.clone(),
                    message: crate::config::root_cause(&other),
                },
            })
    }
}
