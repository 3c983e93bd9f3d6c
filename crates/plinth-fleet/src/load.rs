//! Reading `ManagedCluster` documents (`plinth.io/v1alpha1`) into validated specs, every
//! problem with its file and line.

use plinth_core::manifest::{Document, ManifestError};

use crate::spec::ManagedCluster;
use crate::validate;

/// `apiVersion` of cluster documents.
pub const API_VERSION: &str = "plinth.io/v1alpha1";
/// `kind` of cluster documents.
pub const KIND: &str = "ManagedCluster";

/// Reads and validates one `ManagedCluster` document.
pub fn from_document(doc: &Document) -> Result<ManagedCluster, Vec<ManifestError>> {
    if doc.api_version() != Some(API_VERSION) {
        return Err(vec![doc.error_at(
            &["apiVersion"],
            format!(
                "a {KIND} is {API_VERSION}, not {:?}",
                doc.api_version().unwrap_or("")
            ),
        )]);
    }
    let cluster: ManagedCluster = doc.parse().map_err(|e| vec![e])?;
    let problems = validate::check(&cluster);
    if problems.is_empty() {
        Ok(cluster)
    } else {
        Err(problems
            .into_iter()
            .map(|p| doc.error_at(&p.path, p.message))
            .collect())
    }
}

/// Reads every `ManagedCluster` in `docs` (other kinds are refused: a fleet spec file
/// holds clusters only); names must be unique.
pub fn clusters(docs: &[Document]) -> Result<Vec<ManagedCluster>, Vec<ManifestError>> {
    let mut errors = Vec::new();
    let mut out: Vec<ManagedCluster> = Vec::new();
    for doc in docs {
        if doc.kind() != Some(KIND) {
            errors.push(doc.error_at(
                &["kind"],
                format!("expected a {KIND}, not {:?}", doc.kind().unwrap_or("")),
            ));
            continue;
        }
        match from_document(doc) {
            Ok(c) => {
                if out.iter().any(|x| x.metadata.name == c.metadata.name) {
                    errors.push(doc.error_at(
                        &["metadata", "name"],
                        format!("cluster {:?} is defined twice", c.metadata.name),
                    ));
                }
                out.push(c);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
