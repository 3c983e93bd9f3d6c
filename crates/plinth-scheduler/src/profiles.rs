//! Hot reload of the `advanced-scheduling-policies` ConfigMap: every edit is parsed;
//! a good one replaces the profiles, a bad one is reported (Warning event on the
//! ConfigMap, a metric, a log line) and the last good profiles stay in force.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use plinth_sched::config::SchedulerConfig;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A reload outcome.
#[derive(Debug)]
pub enum Reload {
    /// A valid configuration.
    Loaded(Arc<SchedulerConfig>),
    /// The watch's initial list is complete: whatever the ConfigMap held at start-up
    /// has been sent (or it does not exist), so scheduling may begin.
    Synced,
    /// An invalid edit: the ConfigMap and why.
    Rejected(Arc<ConfigMap>, String),
    /// The watch failed (it retries with backoff): why, e.g. a 403 when the scheduler's
    /// identity may not read the ConfigMap.
    WatchFailed(String),
}

/// Parses a policies ConfigMap on top of `base`.
pub fn parse(cm: &ConfigMap, base: &SchedulerConfig) -> Result<SchedulerConfig, String> {
    let text = serde_json::to_string_pretty(cm).map_err(|e| e.to_string())?;
    let name = format!(
        "configmap {}/{}",
        cm.metadata.namespace.as_deref().unwrap_or_default(),
        cm.metadata.name.as_deref().unwrap_or_default()
    );
    let docs = plinth_core::manifest::parse_str(&name, &text).map_err(|e| e.to_string())?;
    let doc = docs.first().ok_or("the ConfigMap is empty")?;
    plinth_sched::load::config_from_configmap(doc, base.clone()).map_err(|e| match e {
        plinth_core::manifest::ManifestError::Invalid { path, message, .. } => {
            format!("{path}: {message}")
        }
        other => other.to_string(),
    })
}

/// Watches `namespace/name` and sends every reload outcome.
pub fn watch(
    client: &Client,
    namespace: &str,
    name: &str,
    base: Arc<SchedulerConfig>,
) -> (mpsc::UnboundedReceiver<Reload>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let handle = tokio::spawn(async move {
        let stream = watcher::watcher(api, config).default_backoff();
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            let cm = match event {
                Ok(Event::Apply(cm) | Event::InitApply(cm)) => cm,
                Ok(Event::Delete(cm)) => {
                    tracing::warn!(
                        configmap = ?cm.metadata.name,
                        "the profiles ConfigMap was deleted; keeping the last good profiles"
                    );
                    continue;
                }
                Ok(Event::InitDone) => {
                    if tx.send(Reload::Synced).is_err() {
                        return;
                    }
                    continue;
                }
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "profiles watch failed; retrying");
                    if tx.send(Reload::WatchFailed(brief(&e))).is_err() {
                        return;
                    }
                    continue;
                }
            };
            let outcome = match parse(&cm, &base) {
                Ok(c) => Reload::Loaded(Arc::new(c)),
                Err(e) => Reload::Rejected(Arc::new(cm), e),
            };
            if tx.send(outcome).is_err() {
                return;
            }
        }
    });
    (rx, handle)
}

/// A watch failure in a few words for `/readyz`, which anyone reaching the port may read:
/// the API server's status code and reason (e.g. `list: HTTP 403 Forbidden`), not its
/// message, which names the scheduler's identity. The full error goes to the log.
fn brief(e: &watcher::Error) -> String {
    let api = |stage: &str, e: &kube::Error| match e {
        kube::Error::Api(s) => format!("{stage}: HTTP {} {}", s.code, s.reason),
        _ => format!("{stage}: the API server could not be reached or answered badly"),
    };
    match e {
        watcher::Error::InitialListFailed(e) => api("list", e),
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => api("watch", e),
        watcher::Error::WatchError(s) => format!("watch: HTTP {} {}", s.code, s.reason),
        watcher::Error::NoResourceVersion => "watch: no resourceVersion in the list".to_owned(),
    }
}
