//! The scheduling engine shared by the live `enterprise-scheduler`, `plinth simulate` and
//! the benchmarks.
//!
//! It mirrors kube-scheduler's framework — extension points as traits
//! ([`framework::Filter`]), small named plugins ([`plugins`]), a typed cycle state built
//! by a PreFilter ([`cycle`]), scoring ([`score`]), preemption ([`preemption`]) and
//! kube-scheduler's queue ([`queue`]) — and adds the seed's enterprise logic done right:
//! workload profiles ([`profile`]), required labels, SLA isolation and spot avoidance,
//! and a composite score of resource fit (40%), affinity (25%), SLA (20%) and load
//! balance (15%).
//!
//! ```
//! use plinth_sched::{Scheduler, config::SchedulerConfig, snapshot::Snapshot, priority::PriorityClasses};
//! let scheduler = Scheduler::new(SchedulerConfig::default());
//! let snapshot = Snapshot::new(PriorityClasses::seed());
//! assert_eq!(snapshot.node_count(), 0);
//! # let _ = scheduler;
//! ```
//!
//! What this crate is not: it does no network or file I/O and reads no clock (time is
//! passed in). Shells feed it snapshots and act on its decisions.
#![forbid(unsafe_code)]

pub mod config;
pub mod cycle;
pub mod framework;
pub mod load;
pub mod model;
pub mod plugins;
pub mod preemption;
pub mod priority;
pub mod profile;
pub mod queue;
pub mod resources;
pub mod scheduler;
pub mod score;
pub mod simulate;
pub mod snapshot;
pub mod synthetic;
pub mod testkit;

pub use scheduler::{Explanation, FitError, Placement, Scheduler};
