//! The admission engine behind plinth's webhook, `plinth check` and the auditor: Pod
//! Security Standards with upstream-exact semantics at every policy version, and
//! Gatekeeper-compatible ConstraintTemplates (Rego, evaluated by regorus) and Constraints.
//!
//! Pure: an admission request or object in, a decision with upstream-form messages out.
#![forbid(unsafe_code)]

pub mod check;
pub mod gatekeeper;
pub mod library;
pub mod pss;
