//! The guard's shells around the pure `plinth-guard` engine: the HTTPS admission webhook
//! (`plinth guard serve`), the cluster policy source that watches ConstraintTemplates and
//! constraints (creating constraint CRDs when Gatekeeper is absent), and the auditor that
//! evaluates what already runs and publishes `PolicyReport`s.
#![forbid(unsafe_code)]

pub mod audit;
pub mod cluster;
pub mod decide;
pub mod metrics;
pub mod review;
pub mod server;
pub mod source;
pub mod tls;

pub use decide::{Guard, Outcome};
pub use review::{Decision, ReviewError};
