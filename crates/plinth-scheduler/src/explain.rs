//! `plinth explain pod NS/NAME`: the engine's explanation against the live cluster.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::ListParams;
use kube::{Api, Client};
use plinth_sched::config::SchedulerConfig;
use plinth_sched::queue::SchedulingQueue;
use plinth_sched::{Explanation, Scheduler};

use crate::changes::{Change, Kind, Object, key_of};
use crate::state::ClusterState;

/// Why the explanation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The pod does not exist.
    #[error("pod {0} not found")]
    NotFound(String),
    /// The API server refused or failed a request.
    #[error("reading the cluster: {0}")]
    Api(String),
    /// The pod cannot be read by the engine.
    #[error("pod {pod}: {message}")]
    Invalid {
        /// The pod.
        pod: String,
        /// Why.
        message: String,
    },
}

fn api_err(e: kube::Error) -> ExplainError {
    ExplainError::Api(plinth_kube::config::root_cause(&e))
}

/// Lists the cluster once and explains where `namespace/name` fits and why.
pub async fn explain(
    client: &Client,
    namespace: &str,
    name: &str,
    config: SchedulerConfig,
) -> Result<Explanation, ExplainError> {
    let target = Api::<Pod>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(api_err)?
        .ok_or_else(|| ExplainError::NotFound(format!("{namespace}/{name}")))?;
    let config = Arc::new(config);
    // The state keeps the snapshot; the scheduler name is irrelevant for bound pods.
    let mut state = ClusterState::new("", config.clone());
    let mut queue = SchedulingQueue::new();
    let lp = ListParams::default();
    let now = std::time::Duration::ZERO;
    macro_rules! load {
        ($ty:ty, $kind:expr, $wrap:expr) => {{
            let list = Api::<$ty>::all(client.clone())
                .list(&lp)
                .await
                .map_err(api_err)?;
            let mut keys = HashSet::new();
            for obj in list.items {
                keys.insert(key_of(&obj));
                state.apply(Change::Applied($wrap(Arc::new(obj))), &mut queue, now);
            }
            state.apply(Change::Listed($kind, keys), &mut queue, now);
        }};
    }
    load!(PriorityClass, Kind::PriorityClass, Object::PriorityClass);
    load!(Namespace, Kind::Namespace, Object::Namespace);
    load!(Node, Kind::Node, Object::Node);
    load!(PodDisruptionBudget, Kind::Pdb, Object::Pdb);
    load!(Pod, Kind::Pod, Object::Pod);
    let pod =
        plinth_sched::model::Pod::from_k8s(&target, state.snapshot.classes(), &config.profiles)
            .map_err(|e| ExplainError::Invalid {
                pod: key_of(&target),
                message: format!("{}: {}", e.path.join("."), e.message),
            })?;
    let mut snapshot = state.snapshot.clone();
    if let Some(id) = snapshot.pod_id(namespace, name) {
        snapshot.remove(id);
    }
    let mut engine = Scheduler::new((*config).clone());
    Ok(engine.explain(&snapshot, &pod))
}
