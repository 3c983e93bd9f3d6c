//! The planner engine: a `Requirements` document (SLA, RPO/RTO, scale, compliance,
//! workload mix, regions) becomes an architecture recommendation — topology, node pools,
//! networking, storage, security, monitoring, backup, a cost estimate computed from
//! per-instance prices and expected node counts, an implementation timeline and risks.
//!
//! Pure: plain data in, plain data out; no network, no clock, no files. The shell reads
//! the documents ([`plinth_core::manifest`]) and hands them over:
//!
//! - [`requirements::from_documents`] reads and validates the `Requirements` document
//!   (errors carry `file:line`);
//! - [`prices::PriceSheet::builtin`] is the price sheet shipped with plinth
//!   (`prices/aws-us-east-1.yaml`), [`prices::from_documents`] reads another;
//! - [`plan()`] applies the rules and returns a [`Plan`], which serialises with camelCase
//!   keys.
//!
//! Every figure the planner cannot derive from its inputs (data transfer volumes, say) is
//! left out of the cost and named in [`Cost::assumptions`].
#![forbid(unsafe_code)]

pub mod html;
pub mod prices;
pub mod requirements;
mod rules;

pub use prices::PriceSheet;
pub use requirements::{ComplianceFramework, Requirements, Workload};
pub use rules::*;

use plinth_core::manifest::ManifestError;

/// Why a requirements document or a price sheet was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// One or more documents are invalid; each error names `file:line`.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ManifestError>),
    /// The input holds no document of the expected kind.
    #[error("{file}: no {kind} document (apiVersion: {api_version}) found")]
    Missing {
        /// The file the documents came from.
        file: String,
        /// The kind looked for.
        kind: &'static str,
        /// Its apiVersion.
        api_version: &'static str,
    },
}

impl PlanError {
    /// The individual manifest errors (empty for [`PlanError::Missing`]).
    pub fn manifest_errors(&self) -> &[ManifestError] {
        match self {
            PlanError::Invalid(v) => v,
            PlanError::Missing { .. } => &[],
        }
    }
}

/// `apiVersion` of requirements documents and price sheets.
pub const API_VERSION: &str = "plinth.io/v1alpha1";

/// Finds the single document of `kind` in `docs`, checking its apiVersion.
fn single<'a>(
    docs: &'a [plinth_core::manifest::Document],
    kind: &'static str,
    file: &str,
) -> Result<&'a plinth_core::manifest::Document, PlanError> {
    let mut found = docs.iter().filter(|d| d.kind() == Some(kind));
    let Some(doc) = found.next() else {
        return Err(PlanError::Missing {
            file: file.to_owned(),
            kind,
            api_version: API_VERSION,
        });
    };
    if let Some(extra) = found.next() {
        return Err(PlanError::Invalid(vec![extra.error_at(
            &["kind"],
            format!("only one {kind} document is allowed per input"),
        )]));
    }
    if doc.api_version() != Some(API_VERSION) {
        return Err(PlanError::Invalid(vec![doc.error_at(
            &["apiVersion"],
            format!(
                "a {kind} is {API_VERSION}, not {:?}",
                doc.api_version().unwrap_or("")
            ),
        )]));
    }
    Ok(doc)
}
