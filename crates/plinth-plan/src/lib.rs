//! The planner engine: a `Requirements` document (SLA, RPO/RTO, scale, compliance,
//! workload mix, regions) becomes an architecture recommendation — topology, node pools,
//! networking, storage, security, monitoring, backup, a cost estimate computed from
//! per-instance prices and expected node counts, an implementation timeline and risks.
//!
//! Pure: plain data in, plain data out; no network, no clock. Empty until the plan
//! capability lands (see the project's issues).
#![forbid(unsafe_code)]
