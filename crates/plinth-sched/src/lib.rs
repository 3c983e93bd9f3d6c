//! The scheduling engine shared by the live `enterprise-scheduler`, `plinth simulate` and
//! the benchmarks: kube-scheduler's framework (extension points as traits, small named
//! plugins, an ordered cycle), the seed's workload profiles and composite score,
//! priority and PDB-aware preemption, and kube-scheduler's queue semantics.
//!
//! Pure: a cluster snapshot in, placements and explanations out; no network, no clock
//! (time is passed in). Empty until the scheduling-engine issue lands.
#![forbid(unsafe_code)]
