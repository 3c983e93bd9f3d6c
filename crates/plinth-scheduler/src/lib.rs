//! The live `enterprise-scheduler`: plinth's scheduling engine as a secondary
//! Kubernetes scheduler that runs next to kube-scheduler.
//!
//! - [`changes`]: list-and-watch of nodes, pods, PodDisruptionBudgets, PriorityClasses
//!   and namespaces, as one stream of changes;
//! - [`state`]: the engine's snapshot kept current incrementally, pending pods, and the
//!   assumed placements of bindings in flight;
//! - [`run`]: the loop — queue (priority, backoff, re-activation on cluster changes),
//!   assume-then-bind through `pods/binding` with bounded parallelism, preemption through
//!   the API (`nominatedNodeName`, victim deletion), `Scheduled`/`FailedScheduling`
//!   events and the `PodScheduled` condition, graceful shutdown;
//! - [`leader`]: leader election on a Lease, stopping at once when the lease may lapse;
//! - [`profiles`]: hot reload of the policies ConfigMap, keeping the last good one;
//! - [`api`]: rate-limited writes (QPS/burst as kube-scheduler's client);
//! - [`metrics`] and [`server`]: Prometheus metrics, `/healthz`, `/readyz` over HTTPS;
//! - [`explain`]: the engine's explanation for one pod against the live cluster.
//!
//! What this crate is not: the decision logic, which is `plinth-sched` and has no
//! knowledge of the API server.
#![forbid(unsafe_code)]

pub mod api;
pub mod changes;
pub mod explain;
pub mod leader;
pub mod metrics;
pub mod profiles;
pub mod run;
pub mod server;
pub mod state;

pub use run::{Options, RunError, Running, start};
