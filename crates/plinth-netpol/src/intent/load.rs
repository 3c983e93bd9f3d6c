//! Model files: `ZeroTrustModel` documents (`plinth.dev/v1alpha1`) read into validated
//! models, every problem with its file and line.

use plinth_core::manifest::{Document, ManifestError};

use super::{Model, ZeroTrustModel};

/// `apiVersion` of model documents.
pub const API_VERSION: &str = "plinth.dev/v1alpha1";
/// `kind` of model documents.
pub const KIND: &str = "ZeroTrustModel";

/// Reads one model document.
pub fn from_document(doc: &Document) -> Result<Model, Vec<ManifestError>> {
    let object: ZeroTrustModel = doc.parse().map_err(|e| vec![e])?;
    let name = object.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        return Err(vec![
            doc.error_at(&["metadata"], "metadata.name is required"),
        ]);
    }
    Model::new(name, object.spec).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| {
                let mut path = vec!["spec".to_owned()];
                path.extend(p.path);
                doc.error_at(&path, p.message)
            })
            .collect()
    })
}

/// Reads every model in `docs` (other kinds are ignored; none found is `Ok(vec![])`).
pub fn models(docs: &[Document]) -> Result<Vec<Model>, Vec<ManifestError>> {
    let mut errors = Vec::new();
    let mut models = Vec::new();
    for doc in docs {
        if doc.kind() != Some(KIND) {
            continue;
        }
        if doc.api_version() != Some(API_VERSION) {
            errors.push(doc.error_at(
                &["apiVersion"],
                format!(
                    "a {KIND} is {API_VERSION}, not {:?}",
                    doc.api_version().unwrap_or("")
                ),
            ));
            continue;
        }
        match from_document(doc) {
            Ok(m) => {
                if let Some(first) = models.iter().position(|x: &Model| x.name == m.name) {
                    errors.push(doc.error_at(
                        &["metadata", "name"],
                        format!(
                            "model {:?} is defined twice (also document {})",
                            m.name,
                            first + 1
                        ),
                    ));
                }
                models.push(m);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(models)
    } else {
        Err(errors)
    }
}
