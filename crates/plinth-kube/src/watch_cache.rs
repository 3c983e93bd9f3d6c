//! A watch-fed local cache of one resource type.
//!
//! One list, then a watch that keeps the cache current (re-listing on its own when the
//! watch expires); readers get consistent snapshots without touching the API server. This
//! is the building block of the scheduler's and controllers' views of the cluster.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

/// A running watch cache. Dropping it stops the watch.
pub struct WatchCache<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    task: JoinHandle<()>,
}

impl<K> WatchCache<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
{
    /// Starts listing and watching `api` with `config` (label/field selectors) on the current
    /// Tokio runtime. Watch errors are logged and retried with backoff.
    pub fn start(api: Api<K>, config: watcher::Config) -> WatchCache<K> {
        let (store, writer) = reflector::store();
        let stream = watcher(api, config)
            .default_backoff()
            .reflect(writer)
            .applied_objects();
        let task = tokio::spawn(async move {
            futures::pin_mut!(stream);
            while let Some(item) = stream.next().await {
                if let Err(err) = item {
                    tracing::warn!(error = %err, kind = std::any::type_name::<K>(), "watch error; retrying");
                }
            }
        });
        WatchCache { store, task }
    }

    /// Waits until the initial list has been loaded, at most `timeout`. Returns whether the
    /// cache is ready.
    pub async fn ready(&self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.store.wait_until_ready()).await,
            Ok(Ok(()))
        )
    }

    /// The cache's reader.
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// All cached objects.
    pub fn snapshot(&self) -> Vec<Arc<K>> {
        self.store.state()
    }
}

impl<K> Drop for WatchCache<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    fn drop(&mut self) {
        self.task.abort();
    }
}
